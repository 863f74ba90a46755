/**
 * Circuit breaking per destination service (Envoy's max_requests /
 * max_pending_requests): a hard cap on what one slow or stuck service may hold
 * in this agent, so it cannot take every socket and every byte of memory from
 * the callers of healthy services. Over a limit the request is answered at
 * once with 503 `circuit_open` instead of queueing.
 *
 *   active  = admitted requests not finished yet (response body included);
 *   pending = admitted requests still waiting for a response head (waiting
 *             for a connection, for the peer, or for the app to answer).
 *             Our pools open a connection per concurrent request, so waiting
 *             for a connection and waiting for the upstream's first byte are
 *             the same wait here.
 *
 * Counters only; the caller pairs every enter() that returned undefined with
 * exactly one leave(), and every enterPending() with one leavePending().
 */

export type CircuitLimit = 'max_requests' | 'max_pending_requests';

export class CircuitBreaker {
  active = 0;
  pending = 0;

  constructor(
    public maxActive: number,
    public maxPending: number,
  ) {}

  /**
   * New limits (a ServicePolicy changed). Counters carry over, so requests
   * already admitted still count against the new limits and leave as usual.
   */
  setLimits(maxActive: number, maxPending: number): void {
    this.maxActive = maxActive;
    this.maxPending = maxPending;
  }

  /** Admits a request (counted as active and pending), or names the limit it would exceed. */
  enter(): CircuitLimit | undefined {
    if (this.active >= this.maxActive) return 'max_requests';
    if (this.pending >= this.maxPending) return 'max_pending_requests';
    this.active++;
    this.pending++;
    return undefined;
  }

  /** The request got its response head (or gave up): no longer pending. */
  leavePending(): void {
    this.pending--;
  }

  /** The request is finished. */
  leave(): void {
    this.active--;
  }

  /** A readable reason for the circuit_open answer. */
  describe(service: string, limit: CircuitLimit): string {
    return limit === 'max_requests'
      ? `service ${service}: circuit open, ${this.active} requests already in flight (limit max-requests-per-service=${this.maxActive})`
      : `service ${service}: circuit open, ${this.pending} requests already waiting for a response (limit max-pending-per-service=${this.maxPending})`;
  }
}
