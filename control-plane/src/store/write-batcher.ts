/**
 * Group commit for registry writes, on any backend of the store contract.
 * Every commit costs one fsync (SQLite synchronous=FULL, PostgreSQL WAL
 * flush); writes that arrive close together (the same event-loop turn, or
 * within `windowMs`) share one transaction and therefore one fsync.
 *
 * Contract of `submit(prepare, committed)`:
 * - `prepare` runs synchronously when the batch is flushed, in submission
 *   order, and returns the write to make (store-contract.ts RegistryWrite) or
 *   null for none. Decisions that depend on in-memory state (is the agent
 *   connected?) are taken there, so they see the state of the flush.
 * - The batch's writes go to the store as ONE transaction, each in its own
 *   savepoint: a write that fails is rolled back alone; its promise rejects
 *   with that error and the other writes of the batch go on.
 * - `committed(result)` runs after the batch's COMMIT returned (the data is
 *   durable), synchronously, in submission order, before any other batch is
 *   answered; its return value resolves the promise. So callers are answered
 *   only after their write is durable, and in-memory state follows commit
 *   order. `result` is null when `prepare` returned null.
 * - If the COMMIT itself fails (disk full, database unreachable), nothing of
 *   the batch is acknowledged and every promise of the batch rejects with
 *   that error.
 * - One batch is in flight at a time; a batch holds at most `maxBatch`
 *   writes, more wait for the next batch.
 */
import type { ChangeResult, RegistryStore, RegistryWrite, WriteOutcome } from './store-contract.js';

export interface WriteBatcherOptions {
  /** 0 (default): flush at the end of the current event-loop turn (setImmediate). */
  windowMs?: number;
  /** Upper bound on writes per transaction; default 1000. */
  maxBatch?: number;
  /** Called after each committed batch with its size (for the batch-size histogram). */
  onBatch?: (size: number, commitMs: number) => void;
}

interface Pending {
  prepare: () => RegistryWrite | null;
  committed: (result: ChangeResult | null) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly windowMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly store: RegistryStore,
    private readonly opts: WriteBatcherOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 0;
    this.maxBatch = opts.maxBatch ?? 1000;
  }

  /** Queues a write; resolves with `committed(result)` once the batch holding it committed. */
  submit<R = ChangeResult | null>(prepare: () => RegistryWrite | null, committed?: (result: ChangeResult | null) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({
        prepare,
        committed: committed ?? ((r) => r),
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

  /** Commits everything queued now and waits for it (close, tests). */
  async flushNow(): Promise<void> {
    if (this.scheduled) {
      clearImmediate(this.scheduled as NodeJS.Immediate);
      clearTimeout(this.scheduled as NodeJS.Timeout);
      this.scheduled = undefined;
    }
    while (this.inFlight || this.queue.length > 0) {
      if (this.inFlight) await this.inFlight;
      else await this.flushOne();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    const run = () => {
      this.scheduled = undefined;
      void this.flushOne();
    };
    this.scheduled = this.windowMs > 0 ? setTimeout(run, this.windowMs) : setImmediate(run);
  }

  private flushOne(): Promise<void> {
    // One batch at a time: commit order is answer order.
    if (this.inFlight) return this.inFlight;
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return Promise.resolve();
    const done = this.commit(batch).finally(() => {
      this.inFlight = undefined;
      if (this.queue.length > 0) this.schedule();
    });
    this.inFlight = done;
    return done;
  }

  private async commit(batch: Pending[]): Promise<void> {
    const writes: RegistryWrite[] = [];
    const slots: (number | null | Error)[] = batch.map((p) => {
      try {
        const w = p.prepare();
        if (!w) return null;
        writes.push(w);
        return writes.length - 1;
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    });
    const started = performance.now();
    let outcomes: WriteOutcome[] = [];
    try {
      if (writes.length > 0) outcomes = await this.store.commitBatch(writes);
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.opts.onBatch?.(batch.length, performance.now() - started);
    for (const [i, p] of batch.entries()) {
      const slot = slots[i];
      if (slot instanceof Error) {
        p.reject(slot);
        continue;
      }
      const o = slot === null ? undefined : outcomes[slot];
      if (o && !o.ok) {
        p.reject(o.err);
        continue;
      }
      try {
        p.resolve(p.committed(o ? o.result : null));
      } catch (err) {
        p.reject(err);
      }
    }
  }
}
