import type { GoneSignal } from './client-link.js';

/** Sleeps `ms` unless `signal` aborts first (fault delays, retry backoff); resolves either way. */
export function sleep(ms: number, signal: GoneSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
