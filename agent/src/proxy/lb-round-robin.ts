/**
 * Round-robin: each pick takes the next endpoint of the healthy tier in turn,
 * so every endpoint gets the same share of requests whatever their speed.
 * For services whose requests cost the same everywhere and where an even
 * spread matters more than following load (least-request is the default).
 * Registered weights are ignored. The starting point is random, so many
 * agents that start together do not all hit the first endpoint first.
 */
import type { Endpoint } from '@weft/shared';
import { healthyTier, type LbPolicy, type LoadView, type Picker, type PickRequest, registerLbPolicy, withoutEjected } from './lb-policy.js';

export const ROUND_ROBIN = 'round_robin';

export class RoundRobinPicker implements Picker {
  private readonly tier: readonly Endpoint[];
  private next: number;

  constructor(
    endpoints: readonly Endpoint[],
    private readonly load: LoadView,
    random: () => number = Math.random,
  ) {
    this.tier = healthyTier(endpoints);
    this.next = Math.floor(random() * Math.max(1, this.tier.length));
  }

  pick(request: PickRequest = {}): Endpoint | undefined {
    const candidates = withoutEjected(this.tier, this.load);
    const n = candidates.length;
    const exclude = request.exclude;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const e = candidates[i]!;
      if (exclude?.has(e.instanceId)) continue;
      this.next = (i + 1) % n;
      return e;
    }
    return undefined;
  }
}

export function roundRobinPolicy(random: () => number = Math.random): LbPolicy {
  return {
    name: ROUND_ROBIN,
    createPicker: (endpoints, load) => new RoundRobinPicker(endpoints, load, random),
  };
}

registerLbPolicy(roundRobinPolicy());
