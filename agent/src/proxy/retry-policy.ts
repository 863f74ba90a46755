/**
 * When a failed try may be repeated, and the loop that repeats it. A retry
 * happens only when it is safe for the app and the budget allows it:
 *   - safe whatever the method (the app cannot have seen the request):
 *       we could not connect (`connect_failed`); the peer agent says it could
 *       not hand the request over (`not_delivered`: 502/503 with
 *       upstream_connect_failed or unknown_instance); the server closed a
 *       reused keep-alive connection just as we sent (`stale_connection`);
 *   - safe for idempotent methods only (GET HEAD OPTIONS PUT DELETE TRACE):
 *       a reset before the response (`reset`), a try that got no response head
 *       within its per-try timeout (`timeout`), and 502/503/504 answers;
 *   - never when the body cannot be replayed (over 64 KiB, or the client left).
 * Each retry goes to an endpoint not tried yet when there is one (else the
 * same one again), stays within the request's deadline and `maxRetries`, and
 * takes a token from the service's retry budget; stale-connection retries
 * are exempt from the budget (they cost the app nothing and are not a sign
 * of an outage). When the budget is dry the caller answers with the last
 * outcome, so the client sees the real failure and its x-weft-error.
 */
import { type Endpoint, ERROR_HEADER, MeshErrorCode } from '@weft/shared';
import { type Attempt, discard, type TryOutcome, type TrySend } from './forward.js';
import type { RetryBudget } from './retry-budget.js';

export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);
const PEER_NOT_DELIVERED = new Set<string>([MeshErrorCode.upstreamConnectFailed, MeshErrorCode.unknownInstance]);
const NO_EXCLUSION: ReadonlySet<string> = new Set();

export type RetryReason =
  | 'connect_failed'
  | 'not_delivered'
  | 'stale_connection'
  | 'reset'
  | 'timeout'
  | 'status_502'
  | 'status_503'
  | 'status_504';

/** The peer agent's own error code, when the response came from the mesh rather than the app. */
export function peerErrorCode(outcome: TryOutcome): string | undefined {
  if (!outcome.ok) return undefined;
  const v = outcome.response.headers[ERROR_HEADER];
  return Array.isArray(v) ? v[0] : v;
}

/** True when the peer agent says the request never reached the app. */
export function peerNotDelivered(outcome: TryOutcome): boolean {
  if (!outcome.ok) return false;
  const status = outcome.response.statusCode;
  if (status !== 502 && status !== 503) return false;
  const code = peerErrorCode(outcome);
  return code !== undefined && PEER_NOT_DELIVERED.has(code);
}

/** Why `outcome` may be retried, or undefined when it may not (deadline, budget and count are the loop's). */
export function retryReason(outcome: TryOutcome, attempt: Pick<Attempt, 'method' | 'body'>): RetryReason | undefined {
  if (attempt.body !== null && !attempt.body.replayable) return undefined;
  const idempotent = IDEMPOTENT.has(attempt.method);
  if (outcome.ok) {
    if (peerNotDelivered(outcome)) return 'not_delivered';
    if (!idempotent) return undefined;
    const status = outcome.response.statusCode;
    return status === 502 ? 'status_502' : status === 503 ? 'status_503' : status === 504 ? 'status_504' : undefined;
  }
  switch (outcome.kind) {
    case 'connect':
      return 'connect_failed';
    case 'stale':
      return 'stale_connection';
    case 'reset':
      return idempotent ? 'reset' : undefined;
    case 'timeout':
      return idempotent ? 'timeout' : undefined;
    default:
      return undefined;
  }
}

/** Per-service retry settings and hooks; one object per service, reused by every request. */
export interface RetryControl {
  maxRetries: number;
  perTryTimeoutMs: number;
  budget: RetryBudget;
  onRetry?(reason: RetryReason, failed: Endpoint, next: Endpoint): void;
  onBudgetExhausted?(reason: RetryReason, failed: Endpoint): void;
}

export interface RetryResult {
  /** The last endpoint tried, undefined when none could be picked. */
  endpoint: Endpoint | undefined;
  outcome: TryOutcome | undefined;
  tries: number;
}

/**
 * Picks an endpoint, tries it, and while the outcome is retryable, time and
 * budget are left and an endpoint can be picked, tries again. `pick` gets the
 * ids already tried. Before each try the loop sets `attempt.tryTimeoutMs`:
 * the per-try timeout when a retry could follow that try, else all that is
 * left of the deadline (a POST that cannot be retried is never cut short).
 * A retried response body is discarded only once the next try is decided,
 * so the caller always gets the last answer intact. Counts the request in
 * the budget.
 */
export async function runWithRetries(
  pick: (exclude: ReadonlySet<string>) => Endpoint | undefined,
  send: TrySend,
  attempt: Attempt,
  control: RetryControl,
): Promise<RetryResult> {
  control.budget.recordRequest();
  const mayRetryHung = IDEMPOTENT.has(attempt.method);
  let tried: Set<string> | undefined;
  const last: RetryResult = { endpoint: undefined, outcome: undefined, tries: 0 };
  let endpoint = pick(NO_EXCLUSION);
  for (let i = 0; endpoint !== undefined; i++) {
    const remaining = attempt.deadline.remainingMs();
    const retryCanFollow = mayRetryHung && i < control.maxRetries && (attempt.body === null || attempt.body.replayable);
    attempt.tryTimeoutMs = retryCanFollow ? Math.min(control.perTryTimeoutMs, remaining) : remaining;
    const outcome = await send(endpoint, attempt);
    last.endpoint = endpoint;
    last.outcome = outcome;
    last.tries = i + 1;
    if (i >= control.maxRetries || attempt.deadline.expired || attempt.clientGone.aborted) return last;
    const reason = retryReason(outcome, attempt);
    if (reason === undefined) return last;
    tried ??= new Set();
    tried.add(endpoint.instanceId);
    const next = pick(tried) ?? pick(NO_EXCLUSION);
    if (next === undefined) return last;
    if (reason !== 'stale_connection' && !control.budget.tryAcquire()) {
      control.onBudgetExhausted?.(reason, endpoint);
      return last;
    }
    control.onRetry?.(reason, endpoint, next);
    if (outcome.ok) discard(outcome.response);
    endpoint = next;
  }
  return last;
}
