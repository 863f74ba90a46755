/**
 * Power-of-two-choices least-request (Envoy's LEAST_REQUEST default): draw
 * two distinct candidates at random, weighted by their registered weight, and
 * keep the one with fewer requests in flight per unit of weight. It spreads
 * load almost as well as a full scan at O(1) cost and, unlike picking the
 * global minimum, does not herd every agent onto the same endpoint.
 */
import type { Endpoint } from '@weft/shared';
import { healthyTier, type LbPolicy, type LoadView, type Picker, type PickRequest, registerLbPolicy, withoutEjected } from './lb-policy.js';

export const LEAST_REQUEST = 'least_request';

function weightOf(e: Endpoint): number {
  return Number.isFinite(e.weight) && e.weight > 0 ? e.weight : 1;
}

/** Index drawn with probability proportional to weight, skipping `skip`. */
function weightedIndex(candidates: readonly Endpoint[], random: () => number, skip = -1): number {
  let total = 0;
  for (let i = 0; i < candidates.length; i++) if (i !== skip) total += weightOf(candidates[i]!);
  let r = random() * total;
  for (let i = 0; i < candidates.length; i++) {
    if (i === skip) continue;
    r -= weightOf(candidates[i]!);
    if (r < 0) return i;
  }
  // Floating-point leftovers: the last eligible index.
  return skip === candidates.length - 1 ? candidates.length - 2 : candidates.length - 1;
}

export class LeastRequestPicker implements Picker {
  private readonly tier: readonly Endpoint[];

  constructor(
    endpoints: readonly Endpoint[],
    private readonly load: LoadView,
    private readonly random: () => number = Math.random,
  ) {
    this.tier = healthyTier(endpoints);
  }

  pick(request: PickRequest = {}): Endpoint | undefined {
    let candidates = withoutEjected(this.tier, this.load);
    const exclude = request.exclude;
    if (exclude && exclude.size > 0) candidates = candidates.filter((e) => !exclude.has(e.instanceId));
    if (candidates.length === 0) return undefined;
    if (candidates.length === 1) return candidates[0];
    const a = weightedIndex(candidates, this.random);
    const b = weightedIndex(candidates, this.random, a);
    const ea = candidates[a]!;
    const eb = candidates[b]!;
    const sa = (this.load.active(ea.instanceId) + 1) / weightOf(ea);
    const sb = (this.load.active(eb.instanceId) + 1) / weightOf(eb);
    if (sa !== sb) return sa < sb ? ea : eb;
    return this.random() < 0.5 ? ea : eb;
  }
}

export function leastRequestPolicy(random: () => number = Math.random): LbPolicy {
  return {
    name: LEAST_REQUEST,
    createPicker: (endpoints, load) => new LeastRequestPicker(endpoints, load, random),
  };
}

registerLbPolicy(leastRequestPolicy());
