/**
 * Group commit for registry writes. With synchronous=FULL every SQLite commit
 * costs one fsync; writes that arrive close together (the same event-loop
 * turn, or within `windowMs`) share one transaction and therefore one fsync.
 *
 * Contract of `submit(write, committed)`:
 * - `write` runs inside the batch's transaction, in submission order, as its
 *   own SAVEPOINT when it calls a store change method (better-sqlite3 turns a
 *   transaction function called inside another into a savepoint). It must be
 *   synchronous and touch only the store.
 * - A `write` that throws is rolled back to its savepoint alone; its promise
 *   rejects with that error and the other writes of the batch go on. (We chose
 *   savepoints over "retry the others one by one": one failed request costs
 *   nothing extra and the batch still makes one fsync.)
 * - `committed(result)` runs after the batch's COMMIT returned (the data is on
 *   disk), synchronously, in submission order, before any other work; its
 *   return value resolves the promise. So callers are answered only after
 *   their write is durable, and in-memory state follows commit order.
 * - If the COMMIT itself fails (disk full, I/O error), nothing of the batch is
 *   stored and every promise of the batch rejects with that error.
 * - A batch holds at most `maxBatch` writes; more wait for the next batch.
 */
import type { SqliteStore } from './sqlite-store.js';

export interface WriteBatcherOptions {
  /** 0 (default): flush at the end of the current event-loop turn (setImmediate). */
  windowMs?: number;
  /** Upper bound on writes per transaction; default 1000. */
  maxBatch?: number;
  /** Called after each committed batch with its size (for the batch-size histogram). */
  onBatch?: (size: number, commitMs: number) => void;
}

interface Pending {
  write: () => unknown;
  committed: (result: unknown) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private readonly windowMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly store: SqliteStore,
    private readonly opts: WriteBatcherOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 0;
    this.maxBatch = opts.maxBatch ?? 1000;
  }

  /** Queues `write`; resolves with `committed(result)` once the batch holding it committed. */
  submit<T, R = T>(write: () => T, committed?: (result: T) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({
        write,
        committed: (committed ?? ((r: T) => r)) as (result: unknown) => unknown,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  /** Writes queued but not yet committed. */
  get pending(): number {
    return this.queue.length;
  }

  /** Commits what is queued now (close, tests). */
  flushNow(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled as NodeJS.Immediate);
      clearTimeout(this.scheduled as NodeJS.Timeout);
      this.scheduled = undefined;
    }
    while (this.queue.length > 0) this.flushOne();
  }

  private schedule(): void {
    if (this.scheduled) return;
    const run = () => {
      this.scheduled = undefined;
      this.flushOne();
      if (this.queue.length > 0) this.schedule();
    };
    this.scheduled = this.windowMs > 0 ? setTimeout(run, this.windowMs) : setImmediate(run);
  }

  private flushOne(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    const outcomes: Outcome[] = [];
    const started = performance.now();
    try {
      this.store.group(() => {
        for (const p of batch) {
          try {
            outcomes.push({ ok: true, value: p.write() });
          } catch (err) {
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.opts.onBatch?.(batch.length, performance.now() - started);
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (!o.ok) {
        p.reject(o.err);
        return;
      }
      try {
        p.resolve(p.committed(o.value));
      } catch (err) {
        p.reject(err);
      }
    });
  }
}
