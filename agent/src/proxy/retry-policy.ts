/**
 * When a failed try may be repeated, and the loop that repeats it on a
 * different endpoint. Only requests without a body are retried (we never
 * buffer a body to replay it), and only when the app cannot have seen the
 * request:
 *   - we could not connect to the endpoint (nothing was sent);
 *   - the peer agent answered 502/503 with x-weft-error upstream_connect_failed
 *     or unknown_instance (it could not hand the request to the app);
 *   - the connection was reset before any response byte, for idempotent
 *     methods only (the app may have acted on a POST before the reset).
 * At most MAX_RETRIES retries, all within the request's deadline.
 */
import { type Endpoint, ERROR_HEADER, MeshErrorCode } from '@weft/shared';
import { type Attempt, discard, type TryOutcome, type TrySend } from './forward.js';

export const MAX_RETRIES = 2;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);
const PEER_NOT_DELIVERED = new Set<string>([MeshErrorCode.upstreamConnectFailed, MeshErrorCode.unknownInstance]);

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
  const code = peerErrorCode(outcome);
  return (status === 502 || status === 503) && code !== undefined && PEER_NOT_DELIVERED.has(code);
}

/** Outcomes that say the endpoint itself is unreachable (fed to the outlier detector). */
export function failureEjects(outcome: TryOutcome): boolean {
  return outcome.ok ? peerNotDelivered(outcome) : outcome.kind === 'connect';
}

/** May `outcome` of a try of `attempt` be retried on another endpoint? (Deadline checked by the loop.) */
export function isRetryable(outcome: TryOutcome, attempt: Pick<Attempt, 'method' | 'body'>): boolean {
  if (attempt.body !== null) return false;
  if (outcome.ok) return peerNotDelivered(outcome);
  if (outcome.kind === 'connect') return true;
  return outcome.kind === 'reset' && IDEMPOTENT.has(attempt.method);
}

export interface RetryResult {
  /** The last endpoint tried, undefined when none could be picked. */
  endpoint: Endpoint | undefined;
  outcome: TryOutcome | undefined;
  tries: number;
}

/**
 * Picks an endpoint, tries it, and while the outcome is retryable, time is
 * left and another endpoint can be picked, tries that one. `pick` gets the
 * ids already tried. A retried response body is discarded only once the next
 * endpoint is known, so the caller always gets the last answer intact.
 */
export async function runWithRetries(
  pick: (exclude: ReadonlySet<string>) => Endpoint | undefined,
  send: TrySend,
  attempt: Attempt,
  onRetry?: (failed: Endpoint, outcome: TryOutcome, next: Endpoint) => void,
): Promise<RetryResult> {
  const tried = new Set<string>();
  let last: RetryResult = { endpoint: undefined, outcome: undefined, tries: 0 };
  let endpoint = pick(tried);
  for (let i = 0; endpoint !== undefined; i++) {
    tried.add(endpoint.instanceId);
    const outcome = await send(endpoint, attempt);
    last = { endpoint, outcome, tries: i + 1 };
    const again = i < MAX_RETRIES && isRetryable(outcome, attempt) && !attempt.deadline.expired && !attempt.clientGone.aborted;
    if (!again) return last;
    const next = pick(tried);
    if (next === undefined) return last;
    onRetry?.(endpoint, outcome, next);
    if (outcome.ok) discard(outcome.response);
    endpoint = next;
  }
  return last;
}
