/**
 * A retry budget per destination service (Linkerd/Finagle style): over a
 * sliding window, retries may add at most `ratio` of the requests plus a
 * floor of `minPerSecond` per second of the window. During an outage every
 * request fails, the budget runs dry after a few retries, and the mesh stops
 * multiplying the load on a service that is already down; a quiet service
 * still gets its few retries from the floor.
 *
 * The window is a ring of one-second buckets with running totals, so both
 * calls are O(1) amortised and allocation-free. Time comes from the injected
 * clock (tests drive it by hand).
 */

const BUCKET_MS = 1_000;

export interface RetryBudgetOptions {
  ratio: number;
  minPerSecond: number;
  windowMs: number;
  now?: () => number;
}

export class RetryBudget {
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  private totalRequests = 0;
  private totalRetries = 0;
  /** Index (in whole buckets since the epoch) of the newest bucket. */
  private head: number;
  private readonly floor: number;
  private readonly now: () => number;

  constructor(private readonly options: RetryBudgetOptions) {
    const buckets = Math.max(1, Math.ceil(options.windowMs / BUCKET_MS));
    this.requests = new Float64Array(buckets);
    this.retries = new Float64Array(buckets);
    this.floor = (options.minPerSecond * (buckets * BUCKET_MS)) / 1_000;
    this.now = options.now ?? Date.now;
    this.head = Math.floor(this.now() / BUCKET_MS);
  }

  /** Counts one request (call once per request, not per try). */
  recordRequest(): void {
    const i = this.advance();
    this.requests[i]! += 1;
    this.totalRequests += 1;
  }

  /**
   * Takes one retry from the budget if it has room; false means the budget is
   * exhausted and the caller must answer with what it has.
   */
  tryAcquire(): boolean {
    const i = this.advance();
    if (this.totalRetries + 1 > this.options.ratio * this.totalRequests + this.floor) return false;
    this.retries[i]! += 1;
    this.totalRetries += 1;
    return true;
  }

  /** The largest number of retries the current window allows (for tests and metrics). */
  get allowed(): number {
    this.advance();
    return this.options.ratio * this.totalRequests + this.floor;
  }

  get retriesInWindow(): number {
    this.advance();
    return this.totalRetries;
  }

  /** Moves the ring to the current second, dropping buckets that left the window; returns its slot. */
  private advance(): number {
    const n = this.requests.length;
    const current = Math.floor(this.now() / BUCKET_MS);
    if (current !== this.head) {
      const steps = Math.min(n, current - this.head);
      for (let s = 1; s <= steps; s++) {
        const slot = (((this.head + s) % n) + n) % n;
        this.totalRequests -= this.requests[slot]!;
        this.totalRetries -= this.retries[slot]!;
        this.requests[slot] = 0;
        this.retries[slot] = 0;
      }
      // A clock that went backwards keeps the newer head (never re-adds old buckets).
      if (current > this.head) this.head = current;
    }
    return ((this.head % n) + n) % n;
  }
}
