/**
 * "Exactly one replica does this": a leader lease on a PostgreSQL session
 * advisory lock, for work that must not run twice at once (sweeping expired
 * agent leases).
 *
 * Each replica keeps one dedicated connection and polls
 * `pg_try_advisory_lock` on it (every `pollIntervalMs`, ~1 s). The lock
 * belongs to the server backend of that connection, so when the holder's
 * process dies or its connection is cut, PostgreSQL releases the lock and the
 * next poll of another replica takes it: a handover within about one poll
 * interval after the server notices. The holder checks on every poll that
 * its backend still holds the lock, and is demoted at once when its
 * connection reports an error or ends. A demoted replica sits out two poll
 * intervals before competing again, so a replica that kept polling takes
 * over rather than the one whose connection just failed winning the race
 * back on its reconnect (it reconnects within the backoff's first 200 ms).
 *
 * Contract: onElected / onDemoted alternate, starting with onElected. A
 * demoted replica must stop the leader's work at once. The lease is not a
 * fence: between the server releasing a dead connection's lock and its old
 * holder noticing (one failed poll, at most poll interval + query timeout),
 * two replicas may both believe they lead, so the leader's work must be
 * idempotent (deleting expired leases is).
 */
import type { Logger } from '@weft/shared';
import type pg from 'pg';
import { type PgConnectionOptions, PgSession } from './pg-session.js';

/** The first key of every Weft advisory lock ("Weft" in ASCII), so other users of the database are not hit. */
export const WEFT_LOCK_CLASS = 0x57656674;

export interface LeaderLeaseOptions {
  connection: PgConnectionOptions;
  /** This replica's id, for logs and pg_stat_activity. */
  replicaId: string;
  /** What the lease is for ("lease-sweeper"); one lock per name. */
  name: string;
  /** The lock's second key; derived from `name` when omitted. */
  key?: number;
  logger: Logger;
  pollIntervalMs?: number;
  onElected?(): void;
  onDemoted?(reason: string): void;
}

/** A stable non-negative int4 for a lease name (FNV-1a). */
export function lockKeyOf(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(name)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h & 0x7fffffff;
}

export class LeaderLease {
  private readonly session: PgSession;
  private readonly logger: Logger;
  private readonly key: number;
  private leader = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;
  /** After a demotion: no lock attempt before this time (Date.now() ms). */
  private sitOutUntil = 0;

  constructor(private readonly options: LeaderLeaseOptions) {
    this.key = options.key ?? lockKeyOf(options.name);
    if (!Number.isInteger(this.key) || this.key < 0 || this.key > 0x7fffffff) throw new RangeError('key: must be 0..2147483647');
    this.logger = options.logger.child({ component: 'leader-lease', lease: options.name, replica: options.replicaId });
    this.session = new PgSession({
      connection: { applicationName: `weft-lease ${options.name} ${options.replicaId}`.slice(0, 63), ...options.connection },
      logger: this.logger,
      onConnected: async () => this.schedule(0),
      onLost: (reason) => this.demote(`connection lost: ${reason}`),
    });
  }

  start(): void {
    this.session.start();
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Gives the lease up (the next replica takes it within a poll) and stops competing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.pollTimer);
    this.demote('closing');
    await this.session.close();
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.pollTimer);
    if (this.closed) return;
    this.pollTimer = setTimeout(() => void this.poll(), delayMs);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    const client = this.session.current();
    if (!client || this.polling || this.closed) return;
    const wait = this.leader ? 0 : this.sitOutUntil - Date.now();
    if (wait > 0) return this.schedule(wait);
    this.polling = true;
    try {
      if (this.leader) {
        if (!(await this.stillHeld(client))) this.demote('the lock is no longer held by this connection');
      } else if (await this.tryLock(client)) {
        this.elect();
      }
    } catch (err) {
      // A failed query means the connection is not trustworthy: drop it (which demotes) and reconnect.
      this.session.drop(client, `lease query failed: ${String(err)}`);
      return;
    } finally {
      this.polling = false;
    }
    this.schedule(this.pollIntervalMs());
  }

  private pollIntervalMs(): number {
    return this.options.pollIntervalMs ?? 1_000;
  }

  private async tryLock(client: pg.Client): Promise<boolean> {
    const r = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS got', [WEFT_LOCK_CLASS, this.key]);
    return r.rows[0]?.got === true;
  }

  private async stillHeld(client: pg.Client): Promise<boolean> {
    const r = await client.query<{ held: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objid = $2::bigint::oid
         AND objsubid = 2 AND pid = pg_backend_pid() AND granted) AS held`,
      [WEFT_LOCK_CLASS, this.key],
    );
    return r.rows[0]?.held === true;
  }

  private elect(): void {
    if (this.leader || this.closed) return;
    this.leader = true;
    this.logger.info('elected leader', { database: this.session.target });
    try {
      this.options.onElected?.();
    } catch (err) {
      this.logger.error('onElected failed', { error: err });
    }
  }

  private demote(reason: string): void {
    if (!this.leader) return;
    this.leader = false;
    this.sitOutUntil = Date.now() + 2 * this.pollIntervalMs();
    this.logger.warn('no longer leader', { reason });
    try {
      this.options.onDemoted?.(reason);
    } catch (err) {
      this.logger.error('onDemoted failed', { error: err });
    }
  }
}
