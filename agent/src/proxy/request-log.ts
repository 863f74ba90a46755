/**
 * Per-request log lines ("request failed", "policy answered", ...) with a
 * bound: each kind of line, keyed by message, code and service, is written
 * at most `burst` times per window; the rest are counted and reported in one
 * summary line when the window ends ("request log lines suppressed", with
 * the count). An outage or a rate-limit rule answering thousands of requests
 * a second then costs a few lines per window instead of one JSON line (and
 * a stderr write) per request, which would slow the proxy exactly when it
 * is busiest and bury the first, useful lines. Envoy and Linkerd leave this
 * to access-log sampling; here it is the default, and the metrics (by code
 * and service) still count every request.
 *
 * Contract: `log` is O(1) (one Map lookup); keys are capped (`maxKeys`, the
 * overflow shares one '*' key) so a flood of distinct services cannot grow
 * memory; a summary is written at the latest one window after its window
 * ended (an unref'd sweep timer), and by `close()`.
 */
import type { LogFields, Logger } from '@weft/shared';

export interface RequestLogOptions {
  /** Lines written per key and window before suppression. */
  burst: number;
  windowMs: number;
  /** Distinct keys tracked; further keys share one. */
  maxKeys: number;
  /** Milliseconds; injectable for tests. */
  now: () => number;
  /** Run the sweep timer (tests drive `sweep()` themselves). */
  timer: boolean;
}

export const DEFAULT_REQUEST_LOG: RequestLogOptions = {
  burst: 10,
  windowMs: 10_000,
  maxKeys: 1000,
  now: Date.now,
  timer: true,
};

interface Window {
  msg: string;
  code: string;
  service: string;
  startedAt: number;
  written: number;
  suppressed: number;
}

/** The key every key beyond `maxKeys` shares. */
const OVERFLOW = '*';

export class RequestLog {
  private readonly opts: RequestLogOptions;
  private readonly windows = new Map<string, Window>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    options: Partial<RequestLogOptions> = {},
  ) {
    this.opts = { ...DEFAULT_REQUEST_LOG, ...options };
    if (this.opts.timer) {
      this.timer = setInterval(() => this.sweep(), this.opts.windowMs);
      this.timer.unref();
    }
  }

  /** Writes `msg` at info level unless this (msg, code, fields.service) already filled its window. */
  log(msg: string, code: string, fields: LogFields): void {
    const svc = typeof fields.service === 'string' ? fields.service : '-';
    const now = this.opts.now();
    let key = `${msg}\u0000${code}\u0000${svc}`;
    let w = this.windows.get(key);
    if (w === undefined && this.windows.size >= this.opts.maxKeys) {
      key = OVERFLOW;
      w = this.windows.get(key);
    }
    if (w !== undefined && now - w.startedAt >= this.opts.windowMs) this.startWindow(w, now);
    if (w === undefined) {
      const label = key === OVERFLOW ? { msg: OVERFLOW, code: OVERFLOW, service: OVERFLOW } : { msg, code, service: svc };
      w = { ...label, startedAt: now, written: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.written < this.opts.burst) {
      w.written++;
      this.logger.info(msg, { code, ...fields });
    } else {
      w.suppressed++;
    }
  }

  /** Reports windows that have ended and forgets keys that saw nothing in a whole window. */
  sweep(): void {
    const now = this.opts.now();
    for (const [key, w] of this.windows) {
      if (now - w.startedAt < this.opts.windowMs) continue;
      if (w.suppressed === 0) {
        this.windows.delete(key);
        continue;
      }
      this.startWindow(w, now);
    }
  }

  /** Reports what is still suppressed and stops the timer. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const w of this.windows.values()) this.summarize(w);
    this.windows.clear();
  }

  /** Reports the window that ended and starts the key's next one at `now`. */
  private startWindow(w: Window, now: number): void {
    this.summarize(w);
    w.startedAt = now;
    w.written = 0;
    w.suppressed = 0;
  }

  private summarize(w: Window): void {
    if (w.suppressed === 0) return;
    this.logger.info('request log lines suppressed', {
      of: w.msg,
      code: w.code,
      service: w.service,
      suppressed: w.suppressed,
      windowMs: this.opts.windowMs,
    });
  }
}
