/**
 * Passive outlier detection, keyed by instance id (Envoy's consecutive_5xx /
 * consecutive_gateway_failure). What each try's outcome says about its
 * endpoint:
 *   - unreachable (we, or the peer agent, could not connect): ejected at once;
 *   - failure (a 5xx answer, a reset, a timeout): ejected after
 *     `consecutiveFailures` of them in a row (default 5);
 *   - success (any other answer): the run of failures starts over;
 *   - neutral (the client left, the keep-alive race, a request we refused to
 *     send): says nothing about the endpoint.
 * An ejection lasts base x (number of ejections) — 5 s, 10 s, 15 s… — at most
 * 5 min; the count starts over once the endpoint has served successfully for
 * a whole base period after coming back. Never more than half of a service's
 * endpoints are ejected at once (rounded down: a service of one endpoint is
 * never ejected), so a bad network moment cannot empty a service; the picker
 * applies the same cap when the endpoint set changed after the ejections.
 * Pure state: no timers, time comes from the injected clock.
 */
import type { Endpoint } from '@weft/shared';
import type { TryOutcome, TrySend } from './forward.js';
import { believedMeshCode } from './peer-answer.js';
import { peerNotDelivered } from './retry-policy.js';

export type OutlierVerdict = 'success' | 'failure' | 'unreachable' | 'neutral';

export interface OutlierOptions {
  consecutiveFailures?: number;
  baseEjectionMs?: number;
  maxEjectionMs?: number;
  now?: () => number;
}

/** One service's own settings (ServicePolicy.outlierDetection); each field left out keeps the detector's. */
export interface ServiceOutlierOptions {
  consecutiveFailures?: number;
  baseEjectionMs?: number;
  /** Most endpoints of the service ejected at once, in percent of its size (default 50, rounded down). */
  maxEjectionPercent?: number;
}

interface OutlierState {
  service: string;
  ejectedUntil: number;
  /** Ejections since the endpoint last stayed healthy for a base period; sets the next length. */
  ejections: number;
  /** Failures in a row since the last success. */
  consecutive: number;
  lastFailureAt: number;
}

/** What `outcome` says about the endpoint that produced it. */
export function verdictOf(outcome: TryOutcome): OutlierVerdict {
  if (!outcome.ok) {
    switch (outcome.kind) {
      case 'connect':
        return 'unreachable';
      case 'reset':
      case 'timeout':
      case 'protocol':
        return 'failure';
      default:
        return 'neutral';
    }
  }
  if (peerNotDelivered(outcome)) return 'unreachable';
  const status = outcome.response.statusCode;
  if (status < 500) return 'success';
  // The peer agent's own refusals that are about this caller, not the endpoint.
  return believedMeshCode(outcome.response) === 'circuit_open' ? 'neutral' : 'failure';
}

export class OutlierDetector {
  private readonly state = new Map<string, OutlierState>();
  private readonly perService = new Map<string, ServiceOutlierOptions>();
  private readonly threshold: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(options: OutlierOptions = {}) {
    this.threshold = options.consecutiveFailures ?? 5;
    this.baseMs = options.baseEjectionMs ?? 5_000;
    this.maxMs = options.maxEjectionMs ?? 300_000;
    this.now = options.now ?? Date.now;
  }

  /** Sets (or, with undefined, clears) `service`'s own settings; they apply from its next recorded outcome. */
  configure(service: string, options: ServiceOutlierOptions | undefined): void {
    if (options === undefined) this.perService.delete(service);
    else this.perService.set(service, options);
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

  /** Ejected endpoints per service right now (for the metrics gauge). */
  ejectedByService(): Map<string, number> {
    const now = this.now();
    const out = new Map<string, number>();
    for (const s of this.state.values()) if (s.ejectedUntil > now) out.set(s.service, (out.get(s.service) ?? 0) + 1);
    return out;
  }

  /**
   * Records what a try said about `instanceId`, one of `serviceSize` endpoints
   * of `service`. Returns the length of the ejection it caused in ms, or 0.
   */
  record(verdict: OutlierVerdict, instanceId: string, service: string, serviceSize: number): number {
    if (verdict === 'success') {
      this.recordSuccess(instanceId);
      return 0;
    }
    if (verdict === 'neutral') return 0;
    this.prune();
    let s = this.state.get(instanceId);
    if (s === undefined) {
      s = { service, ejectedUntil: 0, ejections: 0, consecutive: 0, lastFailureAt: 0 };
      this.state.set(instanceId, s);
    }
    const own = this.perService.get(service);
    s.consecutive += 1;
    s.lastFailureAt = this.now();
    if (verdict === 'failure' && s.consecutive < (own?.consecutiveFailures ?? this.threshold)) return 0;
    if (s.ejectedUntil > this.now()) return 0;
    const maxEjected = Math.floor((serviceSize * (own?.maxEjectionPercent ?? 50)) / 100);
    if (this.ejectedCount(service) + 1 > maxEjected) return 0;
    s.ejections += 1;
    s.consecutive = 0;
    const ms = Math.min(this.maxMs, (own?.baseEjectionMs ?? this.baseMs) * s.ejections);
    s.ejectedUntil = this.now() + ms;
    return ms;
  }

  /** A good answer came back from `instanceId`. */
  recordSuccess(instanceId: string): void {
    const s = this.state.get(instanceId);
    if (s === undefined) return;
    s.consecutive = 0;
    const baseMs = this.perService.get(s.service)?.baseEjectionMs ?? this.baseMs;
    if (s.ejectedUntil + baseMs <= this.now()) this.state.delete(instanceId);
  }

  /** Forgets endpoints with no failure and no ejection for a long time (bounded memory under endpoint churn). */
  private prune(): void {
    const forgetBefore = this.now() - 2 * this.maxMs;
    for (const [id, s] of this.state) if (s.ejectedUntil < forgetBefore && s.lastFailureAt < forgetBefore) this.state.delete(id);
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
    const ms = detector.record(verdictOf(outcome), endpoint.instanceId, endpoint.service, attempt.serviceSize);
    if (ms > 0) onEject?.(endpoint, ms);
    return outcome;
  };
}
