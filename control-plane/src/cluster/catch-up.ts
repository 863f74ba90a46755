/**
 * Turns notices and resyncs into catch-up reads, one at a time.
 *
 * A replica answers every notice by reading the database (the notice is a
 * hint). Notices come in bursts (one per committed batch of every other
 * replica), so reads are coalesced: while one read runs, everything that
 * arrives is folded into the next one, and there is never more than one read
 * in flight and one pending. A read that fails (the database is down) keeps
 * what it was asked for and is retried with backoff, folded with whatever
 * arrived meanwhile: a change is never dropped, only delayed.
 *
 * The reader decides what "newer than what I applied" means (it keeps its
 * last applied revision per kind); this class only says which services and
 * agents to look at, or `everything` after a resync, a reload notice or an
 * unreadable notice.
 */
import { Backoff, type Logger, messageOf } from '@weft/shared';
import type { ChangeNotice } from './change-notice.js';

/** What one catch-up read must cover. */
export interface CatchUpRequest {
  /** Read every kind, everything newer than what was applied (after a resync or a reload notice). */
  everything: boolean;
  /** Kinds named by the notices folded in ("registry", "policy", …). */
  kinds: Set<string>;
  services: Set<string>;
  agents: Set<string>;
}

export type CatchUpReader = (request: CatchUpRequest) => Promise<void>;

export class CatchUp {
  private pending: CatchUpRequest | undefined;
  private running = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff({ baseMs: 200, maxMs: 5_000 });

  constructor(
    private readonly read: CatchUpReader,
    private readonly logger: Logger,
  ) {}

  /** A notice from another replica: read what it names (or everything, for a reload notice). */
  notice(n: ChangeNotice): void {
    const p = this.take();
    p.kinds.add(n.kind);
    if (n.form === 'reload') p.everything = true;
    else {
      for (const s of n.services) p.services.add(s);
      for (const a of n.agents) p.agents.add(a);
    }
    this.kick();
  }

  /** Registry services to read (again) in the next read, as if a notice had named them. */
  services(names: readonly string[]): void {
    const p = this.take();
    p.kinds.add('registry');
    for (const s of names) p.services.add(s);
    this.kick();
  }

  /** After a (re)connection or an unreadable notice: read everything newer than what was applied. */
  everything(): void {
    this.take().everything = true;
    this.kick();
  }

  /** True while a read runs or one is pending. */
  busy(): boolean {
    return this.running || this.pending !== undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private take(): CatchUpRequest {
    this.pending ??= { everything: false, kinds: new Set(), services: new Set(), agents: new Set() };
    return this.pending;
  }

  private kick(): void {
    if (this.running || this.retryTimer || this.closed || !this.pending) return;
    const request = this.pending;
    this.pending = undefined;
    this.running = true;
    this.read(request).then(
      () => {
        this.running = false;
        this.backoff.reset();
        this.kick();
      },
      (err: unknown) => {
        this.running = false;
        // Fold the failed request back in: the next read covers it and whatever arrived meanwhile.
        const p = this.take();
        p.everything ||= request.everything;
        for (const k of request.kinds) p.kinds.add(k);
        for (const s of request.services) p.services.add(s);
        for (const a of request.agents) p.agents.add(a);
        const delay = this.backoff.next();
        this.logger.warn('catch-up read failed; retrying', { error: messageOf(err), retryInMs: delay });
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, delay);
        this.retryTimer.unref();
      },
    );
  }
}
