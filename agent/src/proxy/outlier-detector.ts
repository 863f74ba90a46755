/**
 * Passive outlier detection, keyed by instance id. An endpoint we (or the
 * peer agent) could not connect to is ejected for a while so the picker
 * avoids it: 5 s the first time, doubling on each further ejection without a
 * success in between, at most 60 s. Never more than half of a service's
 * endpoints are ejected at once (rounded down: a service of one endpoint is
 * never ejected), so a bad network moment cannot empty a service; the picker
 * applies the same cap when the endpoint set changed after the ejections.
 * Pure state: no timers, time comes from the injected clock.
 */
import type { Endpoint } from '@weft/shared';
import type { TryOutcome, TrySend } from './forward.js';
import { failureEjects } from './retry-policy.js';

export interface OutlierOptions {
  baseEjectionMs?: number;
  maxEjectionMs?: number;
  now?: () => number;
}

interface OutlierState {
  service: string;
  ejectedUntil: number;
  /** Ejections since the last success; sets the next ejection's length. */
  ejections: number;
}

export class OutlierDetector {
  private readonly state = new Map<string, OutlierState>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(options: OutlierOptions = {}) {
    this.baseMs = options.baseEjectionMs ?? 5_000;
    this.maxMs = options.maxEjectionMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  isEjected(instanceId: string): boolean {
    const s = this.state.get(instanceId);
    return s !== undefined && s.ejectedUntil > this.now();
  }

  /** How many endpoints of `service` are ejected right now. */
  ejectedCount(service: string): number {
    const now = this.now();
    let n = 0;
    for (const s of this.state.values()) if (s.service === service && s.ejectedUntil > now) n++;
    return n;
  }

  /**
   * Records a connect failure of `instanceId`, one of `serviceSize` endpoints
   * of `service`. Returns the ejection length in ms, or 0 when it was not
   * ejected (already ejected, or ejecting it would exceed half of the service).
   */
  recordFailure(instanceId: string, service: string, serviceSize: number): number {
    this.prune();
    if (this.isEjected(instanceId)) return 0;
    if (this.ejectedCount(service) + 1 > Math.floor(serviceSize / 2)) return 0;
    const s = this.state.get(instanceId) ?? { service, ejectedUntil: 0, ejections: 0 };
    const ms = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(s.ejections, 20));
    s.ejections += 1;
    s.ejectedUntil = this.now() + ms;
    this.state.set(instanceId, s);
    return ms;
  }

  /** A response came back from `instanceId`: the next ejection starts short again. */
  recordSuccess(instanceId: string): void {
    const s = this.state.get(instanceId);
    if (s && s.ejectedUntil <= this.now()) this.state.delete(instanceId);
  }

  /** Forgets endpoints whose last ejection ended long ago (bounded memory under endpoint churn). */
  private prune(): void {
    const forgetBefore = this.now() - 2 * this.maxMs;
    for (const [id, s] of this.state) if (s.ejectedUntil < forgetBefore) this.state.delete(id);
  }
}

/** Wraps a TrySend so each outcome feeds the detector (undici-interceptor style). */
export function withOutlierDetection(
  detector: OutlierDetector,
  send: TrySend,
  onEject?: (endpoint: Endpoint, ms: number) => void,
): TrySend {
  return async (endpoint, attempt) => {
    const outcome: TryOutcome = await send(endpoint, attempt);
    if (failureEjects(outcome)) {
      const ms = detector.recordFailure(endpoint.instanceId, endpoint.service, attempt.serviceSize);
      if (ms > 0) onEject?.(endpoint, ms);
    } else if (outcome.ok) {
      detector.recordSuccess(endpoint.instanceId);
    }
    return outcome;
  };
}
