/**
 * Group commit for issued certificates (issue #11): enrolments and renewals
 * that finish signing close together (the same event-loop turn) share one
 * store transaction, so one fsync, instead of two commits each.
 *
 * Contract of `record(write)`:
 * - Resolves with the write's outcome (store-contract.ts CertificateOutcome)
 *   only after the batch holding it COMMITTED: a caller never hands out a
 *   certificate whose record (and token use) is not durable.
 * - A token use is taken in the store by one conditional statement
 *   (uses_left > 0) inside the write's savepoint, so a token is never used
 *   more times than allowed, however the writes are batched; the write that
 *   finds no use left gets 'token-used-up' and nothing of it is written.
 * - If the transaction itself fails, every write of the batch rejects with
 *   that error (nothing of it is acknowledged).
 * - One batch is in flight at a time, at most `maxBatch` writes each; writes
 *   arriving meanwhile wait for the next batch.
 */
import type { CertificateOutcome, CertificateWrite, TrustStoreContract } from '../store/store-contract.js';

interface Pending {
  write: CertificateWrite;
  resolve: (o: CertificateOutcome) => void;
  reject: (err: unknown) => void;
}

export class CertificateBatcher {
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly store: TrustStoreContract,
    private readonly maxBatch = 1000,
    /** Called after each committed batch with its size and commit time (bench, logs). */
    private readonly onBatch?: (size: number, commitMs: number) => void,
  ) {}

  record(write: CertificateWrite): Promise<CertificateOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.schedule();
    });
  }

  /** Commits everything queued and waits for it (close, tests). */
  async flushNow(): Promise<void> {
    while (this.inFlight || this.queue.length > 0) await (this.inFlight ?? this.flushOne());
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      void this.flushOne();
    });
  }

  private flushOne(): Promise<void> {
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
    const started = performance.now();
    let outcomes: CertificateOutcome[];
    try {
      outcomes = await this.store.recordCertificates(batch.map((p) => p.write));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.onBatch?.(batch.length, performance.now() - started);
    for (const [i, p] of batch.entries()) p.resolve(outcomes[i]);
  }
}
