/**
 * A token bucket for the local rate limit: `ratePerSec` tokens a second up to
 * `burst`. take() is O(1) and allocation-free (hot path).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.tokens = burst;
    this.last = this.now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.ratePerSec) / 1000);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Tokens available now (for explain). */
  available(): number {
    const t = this.now();
    return Math.floor(Math.min(this.burst, this.tokens + ((t - this.last) * this.ratePerSec) / 1000));
  }
}
