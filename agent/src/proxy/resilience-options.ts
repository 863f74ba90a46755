/**
 * The resilience defaults an operator gets without configuring anything
 * (docs/resilience.md explains each value). Every piece that uses one takes
 * it from a resolved ResilienceOptions, so tests and flags can lower limits
 * without touching the pieces themselves.
 */
import { ValidationError } from '@weft/shared';

export interface ResilienceOptions {
  /**
   * Longest wait for one try's response head when a retry could follow it
   * (idempotent method, replayable body, retries left). Capped by what is left
   * of the request deadline; a try that cannot be retried gets the whole rest.
   */
  perTryTimeoutMs: number;
  /** Retries per request after the first try. */
  maxRetries: number;
  /** Retry budget: retries may add this fraction of the requests in the window... */
  retryBudgetRatio: number;
  /** ...plus this many retries per second of the window (the floor for quiet services). */
  retryBudgetMinPerSecond: number;
  /** The sliding window the budget is counted over. */
  retryBudgetWindowMs: number;
  /** Request bodies up to this size are kept while they stream, so a retry can replay them. */
  maxReplayBodyBytes: number;
  /** Consecutive failures (5xx, reset, timeout) that eject an endpoint; a connect failure ejects at once. */
  consecutiveFailures: number;
  /** Ejection length = base x number of ejections, at most max. */
  baseEjectionMs: number;
  maxEjectionMs: number;
  /** Circuit breaking, per destination service: requests in flight (until the response body ends). */
  maxRequestsPerService: number;
  /** Circuit breaking, per destination service: requests still waiting for a response head. */
  maxPendingRequestsPerService: number;
}

export const DEFAULT_RESILIENCE: Readonly<ResilienceOptions> = Object.freeze({
  perTryTimeoutMs: 5_000,
  maxRetries: 2,
  retryBudgetRatio: 0.2,
  retryBudgetMinPerSecond: 3,
  retryBudgetWindowMs: 10_000,
  maxReplayBodyBytes: 64 * 1024,
  consecutiveFailures: 5,
  baseEjectionMs: 5_000,
  maxEjectionMs: 300_000,
  maxRequestsPerService: 1024,
  maxPendingRequestsPerService: 1024,
});

/** `partial` over the defaults; throws a ValidationError naming the first bad field. */
export function resolveResilience(partial: Partial<ResilienceOptions> = {}): ResilienceOptions {
  const r: ResilienceOptions = { ...DEFAULT_RESILIENCE };
  for (const [key, value] of Object.entries(partial) as [keyof ResilienceOptions, number | undefined][]) {
    if (value !== undefined) r[key] = value;
  }
  const positive = (field: keyof ResilienceOptions, integer: boolean) => {
    const v = r[field];
    if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      throw new ValidationError(field, `must be a positive ${integer ? 'integer' : 'number'}`);
    }
  };
  positive('perTryTimeoutMs', false);
  positive('retryBudgetWindowMs', false);
  positive('maxReplayBodyBytes', true);
  positive('consecutiveFailures', true);
  positive('baseEjectionMs', false);
  positive('maxEjectionMs', false);
  positive('maxRequestsPerService', true);
  positive('maxPendingRequestsPerService', true);
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0) throw new ValidationError('maxRetries', 'must be an integer >= 0');
  if (!(r.retryBudgetRatio >= 0)) throw new ValidationError('retryBudgetRatio', 'must be >= 0');
  if (!(r.retryBudgetMinPerSecond >= 0)) throw new ValidationError('retryBudgetMinPerSecond', 'must be >= 0');
  return r;
}

/** Limits that protect the listeners themselves from abusive or broken clients. */
export interface ListenerLimits {
  /** Largest request head (node's maxHeaderSize); larger -> 431. */
  maxHeaderBytes: number;
  /** Most header fields in one request; more -> 431. */
  maxHeaderCount: number;
  /** The whole request head must arrive within this (slowloris) -> 408. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (slow uploads) -> 408. */
  requestReadTimeoutMs: number;
  /** How often node checks the two timeouts above. */
  timeoutCheckIntervalMs: number;
  /** Largest request body: a larger Content-Length -> 413; a chunked body that grows past it is aborted. */
  maxRequestBodyBytes: number;
}

export const DEFAULT_LISTENER_LIMITS: Readonly<ListenerLimits> = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  headersTimeoutMs: 10_000,
  requestReadTimeoutMs: 60_000,
  timeoutCheckIntervalMs: 1_000,
  maxRequestBodyBytes: 64 * 1024 * 1024,
});
