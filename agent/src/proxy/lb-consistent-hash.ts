/**
 * Consistent hashing on a request key (a header or cookie named by the
 * service's ServicePolicy), by weighted rendezvous hashing (highest random
 * weight): every endpoint gets a score from hash(key, endpoint) and the
 * highest score wins. The same key goes to the same endpoint for as long as
 * that endpoint stays; removing, ejecting or excluding one endpoint moves only
 * the keys it held (each to its own runner-up), adding one takes only its
 * share. No ring to build or rebuild: the picker keeps one hash per endpoint
 * and scores them per pick (O(n), a few ns each, fine for the tens of
 * endpoints a service has). A retry skips the endpoints already tried, i.e.
 * goes to the key's runner-up. Requests without the key fall back to
 * least-request. Pure: no I/O, no clock.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Endpoint } from '@weft/shared';
import { LeastRequestPicker } from './lb-least-request.js';
import { healthyTier, type LbPolicy, type LoadView, type Picker, type PickRequest, registerLbPolicy, withoutEjected } from './lb-policy.js';

export const CONSISTENT_HASH = 'consistent_hash';

/** FNV-1a over UTF-16 code units, 32 bits. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the output. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function weightOf(e: Endpoint): number {
  return Number.isFinite(e.weight) && e.weight > 0 ? e.weight : 1;
}

/** Where the key comes from (ServicePolicy.loadBalancer.hashOn). */
export interface HashOn {
  header?: string;
  cookie?: string;
}

/** The request's hash key per `on`, or undefined when the request does not carry it. */
export function hashKeyOf(headers: IncomingHttpHeaders, on: HashOn): string | undefined {
  if (on.header !== undefined) {
    const v = headers[on.header.toLowerCase()];
    const s = Array.isArray(v) ? v.join(',') : v;
    return s === undefined || s === '' ? undefined : s;
  }
  if (on.cookie !== undefined) {
    const raw = headers.cookie;
    if (raw === undefined) return undefined;
    for (const part of raw.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === on.cookie) {
        const value = part.slice(eq + 1).trim();
        return value === '' ? undefined : value;
      }
    }
  }
  return undefined;
}

export class ConsistentHashPicker implements Picker {
  private readonly tier: readonly Endpoint[];
  /** Per instance id: its hash, computed once per endpoint list. */
  private readonly seeds = new Map<string, number>();
  private readonly fallback: LeastRequestPicker;

  constructor(
    endpoints: readonly Endpoint[],
    private readonly load: LoadView,
    random: () => number = Math.random,
  ) {
    this.tier = healthyTier(endpoints);
    for (const e of this.tier) this.seeds.set(e.instanceId, mix(hashString(e.instanceId) ^ 0x9e3779b9));
    this.fallback = new LeastRequestPicker(endpoints, load, random);
  }

  pick(request: PickRequest = {}): Endpoint | undefined {
    if (request.hashKey === undefined) return this.fallback.pick(request);
    const key = hashString(request.hashKey);
    const candidates = withoutEjected(this.tier, this.load);
    const exclude = request.exclude;
    let best: Endpoint | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const e of candidates) {
      if (exclude?.has(e.instanceId)) continue;
      // Weighted rendezvous: -w / ln(u), u uniform in (0, 1) from hash(key, endpoint).
      const u = (mix(key ^ this.seeds.get(e.instanceId)!) + 0.5) / 4294967296;
      const score = -weightOf(e) / Math.log(u);
      if (score > bestScore || (score === bestScore && best !== undefined && e.instanceId < best.instanceId)) {
        best = e;
        bestScore = score;
      }
    }
    return best;
  }
}

export function consistentHashPolicy(random: () => number = Math.random): LbPolicy {
  return {
    name: CONSISTENT_HASH,
    createPicker: (endpoints, load) => new ConsistentHashPicker(endpoints, load, random),
  };
}

registerLbPolicy(consistentHashPolicy());
