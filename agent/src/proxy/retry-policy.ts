/**
 * When a failed try may be repeated, and the loop that repeats it. The rule
 * above all others: a request that may have reached the app is never sent
 * twice unless it is idempotent.
 *   - safe whatever the method (the app cannot have seen the request):
 *       we could not connect (`connect_failed`); the connection closed before
 *       one byte of the request was written (`not_sent`); a peer agent's own
 *       answer says it did not hand the request over (`not_delivered`:
 *       502/503 with upstream_connect_failed, unknown_instance or
 *       shutting_down, believed only from a peer agent's inbound listener,
 *       peer-answer.ts — never from an app);
 *   - safe for idempotent requests only (GET HEAD OPTIONS PUT DELETE TRACE,
 *     or any request with an `Idempotency-Key` header, whose app promises to
 *     run it once per key): the keep-alive race (`stale_connection`: a
 *     reused connection closed as we wrote; the app very probably never read
 *     it, but bytes were written, so a POST is not re-sent), a reset before
 *     the response (`reset`), no response head within the per-try timeout
 *     (`timeout`), and 502/503/504 answers;
 *   - never when the body cannot be replayed (over 64 KiB, or the client left).
 * Each retry goes to an endpoint not tried yet when there is one (else the
 * same one again), stays within the request's deadline and `maxRetries`, and
 * takes a token from the service's retry budget; stale-connection and
 * not-sent retries are exempt from the budget (they cost the app nothing and
 * are not a sign of an outage). When the budget is dry the caller answers
 * with the last outcome, so the client sees the real failure and its x-weft-error.
 *
 * A route rule may override the count, the per-try timeout and the
 * conditions, and add a backoff (RouteRetry, from Routes `retry` and
 * `perTryTimeout`); the budget, the deadline and the idempotency rule above
 * still apply (a rule can never make the mesh replay a POST the app may have
 * seen).
 */
import { type Endpoint, MeshErrorCode } from '@weft/shared';
import { type Attempt, discard, responseHeader, type TryOutcome, type TrySend } from './forward.js';
import { believedMeshCode } from './peer-answer.js';
import type { RetryBudget } from './retry-budget.js';
import { sleep } from './sleep.js';

/** Idempotent methods (RFC 9110 §9.2.2). */
export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);
/** A request carrying this header is treated as idempotent: its app de-duplicates by key (the IETF httpapi draft's header). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** True when the request may run more than once without harm: an idempotent method, or a non-empty Idempotency-Key. */
export function isIdempotentRequest(method: string, idempotencyKey: string | undefined): boolean {
  return IDEMPOTENT.has(method) || (idempotencyKey !== undefined && idempotencyKey.trim() !== '');
}

/** A peer agent's own answers that say the request never reached the app. */
const PEER_NOT_DELIVERED = new Set<string>([
  MeshErrorCode.upstreamConnectFailed,
  MeshErrorCode.unknownInstance,
  MeshErrorCode.shuttingDown,
]);
const NO_EXCLUSION: ReadonlySet<string> = new Set();

/** Why a try was retried (a metric label: bounded, the status codes are 409 and 5xx only). */
export type RetryReason =
  | 'connect_failed'
  | 'not_sent'
  | 'not_delivered'
  | 'stale_connection'
  | 'reset'
  | 'timeout'
  | `status_${number}`
  | `grpc_${GrpcRetryCondition}`;

/**
 * Retry conditions a route may name (Routes `retry.on`, Envoy's retry_on):
 *   connect-failure  we or the peer agent could not connect / deliver;
 *   reset            the connection broke before the response head;
 *   5xx              any 5xx answer, and connect failure, reset, per-try timeout;
 *   gateway-error    502, 503, 504 answers, and connect failure, per-try timeout;
 *   retriable-4xx    409 answers.
 *   cancelled, deadline-exceeded, internal, resource-exhausted, unavailable
 *                    a gRPC answer with that grpc-status before any response
 *                    byte (trailers-only): the rule names the status, which
 *                    declares the call safe to repeat on it (gRPC's retry
 *                    policy), so the method's idempotency is not asked; the
 *                    body must still be replayable (h2-body.ts: never a
 *                    streaming call once a message was sent).
 * The keep-alive race (stale_connection, idempotent requests) and a request never sent (not_sent) are retried whatever the conditions.
 */
export type GrpcRetryCondition = 'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable';
export type RetryCondition = 'connect-failure' | 'reset' | '5xx' | 'gateway-error' | 'retriable-4xx' | GrpcRetryCondition;

/** grpc-status values by the condition that names them. */
const GRPC_CONDITION_OF_STATUS: Readonly<Record<string, GrpcRetryCondition>> = {
  '1': 'cancelled',
  '4': 'deadline-exceeded',
  '13': 'internal',
  '8': 'resource-exhausted',
  '14': 'unavailable',
};

/** A route rule's retry settings; each field left out falls back to the service's RetryControl. */
export interface RouteRetry {
  /** Retries after the first try (0 = never retried). */
  maxRetries?: number;
  perTryTimeoutMs?: number;
  /** Undefined = the proxy's own conditions (see above). */
  on?: ReadonlySet<RetryCondition>;
  /** Full-jitter exponential backoff before each retry: random in [0, min(maxMs, baseMs * 2^n)]. */
  backoff?: { baseMs: number; maxMs: number };
}

/** True when a peer agent (never an app) says the request never reached the app. */
export function peerNotDelivered(outcome: TryOutcome): boolean {
  if (!outcome.ok) return false;
  const status = outcome.response.statusCode;
  if (status !== 502 && status !== 503) return false;
  return PEER_NOT_DELIVERED.has(believedMeshCode(outcome.response));
}

/** Why `outcome` may be retried, or undefined when it may not (deadline, budget and count are the loop's). */
export function retryReason(
  outcome: TryOutcome,
  attempt: Pick<Attempt, 'idempotent' | 'body'>,
  on?: ReadonlySet<RetryCondition>,
): RetryReason | undefined {
  if (attempt.body !== null && !attempt.body.replayable) return undefined;
  const idempotent = attempt.idempotent;
  if (on !== undefined) return routeRetryReason(outcome, idempotent, on);
  if (outcome.ok) {
    if (peerNotDelivered(outcome)) return 'not_delivered';
    if (!idempotent) return undefined;
    const status = outcome.response.statusCode;
    return status === 502 ? 'status_502' : status === 503 ? 'status_503' : status === 504 ? 'status_504' : undefined;
  }
  switch (outcome.kind) {
    case 'connect':
      return 'connect_failed';
    case 'unsent':
      return 'not_sent';
    case 'stale':
      return idempotent ? 'stale_connection' : undefined;
    case 'reset':
      return idempotent ? 'reset' : undefined;
    case 'timeout':
      return idempotent ? 'timeout' : undefined;
    default:
      return undefined;
  }
}

/** retryReason under a route's own conditions. */
function routeRetryReason(outcome: TryOutcome, idempotent: boolean, on: ReadonlySet<RetryCondition>): RetryReason | undefined {
  const connect = on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
  if (outcome.ok) {
    if (peerNotDelivered(outcome)) return connect ? 'not_delivered' : undefined;
    // Only a trailers-only gRPC answer carries grpc-status in its head: nothing of the response was forwarded yet.
    const grpcStatus = responseHeader(outcome.response, 'grpc-status');
    if (grpcStatus !== undefined) {
      const named = GRPC_CONDITION_OF_STATUS[grpcStatus];
      return named !== undefined && on.has(named) ? `grpc_${named}` : undefined;
    }
    if (!idempotent) return undefined;
    const status = outcome.response.statusCode;
    if (status >= 500 && status <= 599 && on.has('5xx')) return `status_${status}`;
    if ((status === 502 || status === 503 || status === 504) && on.has('gateway-error')) return `status_${status}`;
    if (status === 409 && on.has('retriable-4xx')) return 'status_409';
    return undefined;
  }
  switch (outcome.kind) {
    case 'connect':
      return connect ? 'connect_failed' : undefined;
    case 'unsent':
      return 'not_sent';
    case 'stale':
      return idempotent ? 'stale_connection' : undefined;
    case 'reset':
      return idempotent && (on.has('reset') || on.has('5xx')) ? 'reset' : undefined;
    case 'timeout':
      return idempotent && (on.has('5xx') || on.has('gateway-error')) ? 'timeout' : undefined;
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
 * the budget. `route` (a matched rule's settings) overrides `control`'s count,
 * per-try timeout and conditions; its backoff waits before each retry (not
 * before a stale-connection re-send), and a backoff that would outlast the
 * deadline ends the loop with the last outcome.
 */
export async function runWithRetries(
  pick: (exclude: ReadonlySet<string>) => Endpoint | undefined,
  send: TrySend,
  attempt: Attempt,
  control: RetryControl,
  route?: RouteRetry,
  random: () => number = Math.random,
): Promise<RetryResult> {
  control.budget.recordRequest();
  const maxRetries = route?.maxRetries ?? control.maxRetries;
  const perTryTimeoutMs = route?.perTryTimeoutMs ?? control.perTryTimeoutMs;
  const on = route?.on;
  const backoff = route?.backoff;
  const mayRetryHung = attempt.idempotent;
  let tried: Set<string> | undefined;
  const last: RetryResult = { endpoint: undefined, outcome: undefined, tries: 0 };
  let endpoint = pick(NO_EXCLUSION);
  for (let i = 0; endpoint !== undefined; i++) {
    const remaining = attempt.deadline.remainingMs();
    const retryCanFollow = mayRetryHung && i < maxRetries && (attempt.body === null || attempt.body.replayable);
    attempt.perTryCapped = retryCanFollow && perTryTimeoutMs < remaining;
    attempt.tryTimeoutMs = attempt.perTryCapped ? perTryTimeoutMs : remaining;
    const outcome = await send(endpoint, attempt);
    last.endpoint = endpoint;
    last.outcome = outcome;
    last.tries = i + 1;
    if (i >= maxRetries || attempt.deadline.expired || attempt.clientGone.aborted) return last;
    const reason = retryReason(outcome, attempt, on);
    if (reason === undefined) return last;
    tried ??= new Set();
    tried.add(endpoint.instanceId);
    const next = pick(tried) ?? pick(NO_EXCLUSION);
    if (next === undefined) return last;
    const free = reason === 'stale_connection' || reason === 'not_sent';
    if (!free && !control.budget.tryAcquire()) {
      control.onBudgetExhausted?.(reason, endpoint);
      return last;
    }
    const waitMs = backoff !== undefined && !free ? backoffMs(backoff, i, random) : 0;
    if (waitMs > 0 && waitMs >= attempt.deadline.remainingMs()) return last;
    control.onRetry?.(reason, endpoint, next);
    if (outcome.ok) discard(outcome.response);
    if (waitMs > 0) {
      await sleep(waitMs, attempt.clientGone);
      if (attempt.clientGone.aborted)
        return { endpoint: next, outcome: { ok: false, kind: 'aborted', error: new Error('client went away') }, tries: last.tries };
    }
    endpoint = next;
  }
  return last;
}

/** Full jitter: random in [0, min(max, base * 2^retry)]. */
export function backoffMs(b: { baseMs: number; maxMs: number }, retry: number, random: () => number): number {
  return Math.floor(random() * Math.min(b.maxMs, b.baseMs * 2 ** Math.min(retry, 30)));
}
