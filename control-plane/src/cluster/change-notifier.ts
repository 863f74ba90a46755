/**
 * Tells every control-plane replica what the others committed, over
 * PostgreSQL LISTEN/NOTIFY on one channel.
 *
 * Contract for the caller (the registry of each replica):
 * - Notices are hints. On each one, read from the database what changed
 *   after the last revision you applied (or just the named services); never
 *   apply data from the notice itself.
 * - `onResync` fires after every connection of the listener (the first one
 *   and each reconnect), after LISTEN is in place. Do a catch-up read of
 *   everything newer than what you last applied: notices sent while the
 *   listener was down are gone, and that read is what makes a missed notice
 *   harmless. It also fires when an unreadable notice arrives.
 * - Notices this replica sent itself (same replicaId) are not delivered.
 * - Send a notice in the transaction that commits the change
 *   (`notifyStatement`): PostgreSQL delivers it only if that transaction
 *   commits, and after the rows are visible. `publish` sends one outside a
 *   transaction, on the notifier's own connection.
 *
 * Delivery order between replicas follows commit order; nothing is delivered
 * twice on one connection, but a notice and a resync may cover the same
 * change, so applying must be idempotent (read by revision).
 */
import type { Logger } from '@weft/shared';
import type pg from 'pg';
import { type Change, type ChangeNotice, decodeNotice, encodeNotice } from './change-notice.js';
import { type PgConnectionOptions, PgSession } from './pg-session.js';

export const DEFAULT_CHANNEL = 'weft_changes';
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export interface ChangeNotifierOptions {
  connection: PgConnectionOptions;
  /** This replica's id, carried in every notice so its own are ignored. Unique per process. */
  replicaId: string;
  /** The NOTIFY channel; every replica of one mesh uses the same. */
  channel?: string;
  logger: Logger;
  /** How often the listening connection is checked with a query, to find a silently dead one. */
  pingIntervalMs?: number;
}

/** A statement (and its parameters) to run in the committing transaction. */
export interface NotifyStatement {
  text: string;
  values: [string, string];
}

export class ChangeNotifier {
  private readonly session: PgSession;
  private readonly channel: string;
  private readonly logger: Logger;
  private readonly changeListeners = new Set<(notice: ChangeNotice) => void>();
  private readonly resyncListeners = new Set<(reason: string) => void>();
  private pingTimer: NodeJS.Timeout | undefined;
  private connections = 0;

  constructor(private readonly options: ChangeNotifierOptions) {
    this.channel = options.channel ?? DEFAULT_CHANNEL;
    if (!CHANNEL.test(this.channel)) throw new RangeError(`channel: must match ${CHANNEL.source}, got ${JSON.stringify(this.channel)}`);
    if (options.replicaId.length === 0 || options.replicaId.length > 128) throw new RangeError('replicaId: must be 1..128 characters');
    this.logger = options.logger.child({ component: 'change-notifier', replica: options.replicaId });
    this.session = new PgSession({
      connection: { applicationName: `weft-notifier ${options.replicaId}`.slice(0, 63), ...options.connection },
      logger: this.logger,
      onConnected: (client) => this.listen(client),
      onLost: () => clearInterval(this.pingTimer),
    });
  }

  /** Connects and keeps the listener up until close(); never throws. */
  start(): void {
    this.session.start();
  }

  /** Calls `listener` for every notice another replica sends. Returns the unsubscribe function. */
  subscribe(listener: (notice: ChangeNotice) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Calls `listener` after every (re)connection: do a catch-up read then. Returns the unsubscribe function. */
  onResync(listener: (reason: string) => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  /** True while the listener is connected and listening. */
  isListening(): boolean {
    return this.session.current() !== undefined;
  }

  /** The NOTIFY for `change`, to run inside the transaction that commits it. */
  notifyStatement(change: Change): NotifyStatement {
    return { text: 'SELECT pg_notify($1, $2)', values: [this.channel, encodeNotice(this.options.replicaId, change)] };
  }

  /** Sends `change` now on the notifier's own connection; rejects when that connection is down. */
  async publish(change: Change): Promise<void> {
    const statement = this.notifyStatement(change);
    const client = this.session.current();
    if (!client) throw new Error(`change notifier: not connected to ${this.session.target}`);
    await client.query(statement.text, statement.values);
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    this.changeListeners.clear();
    this.resyncListeners.clear();
    await this.session.close();
  }

  private async listen(client: pg.Client): Promise<void> {
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.deliver(msg.payload);
    });
    await client.query(`LISTEN "${this.channel}"`);
    this.connections++;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      client.query('SELECT 1').catch((err: unknown) => this.session.drop(client, `ping failed: ${String(err)}`));
    }, this.options.pingIntervalMs ?? 5_000);
    this.pingTimer.unref();
    const reason = this.connections === 1 ? 'connected' : 'reconnected';
    this.logger.info('listening for changes', { channel: this.channel, database: this.session.target, reason });
    // After LISTEN: a change committed from now on is notified, one committed before is found by the catch-up read.
    setImmediate(() => this.resync(reason));
  }

  private deliver(payload: string | undefined): void {
    const notice = decodeNotice(payload);
    if ('invalid' in notice) {
      this.logger.warn('unreadable change notice; catching up instead', { channel: this.channel, reason: notice.invalid });
      this.resync(`unreadable notice: ${notice.invalid}`);
      return;
    }
    if (notice.replica === this.options.replicaId) return;
    for (const listener of this.changeListeners) {
      try {
        listener(notice);
      } catch (err) {
        this.logger.error('change listener failed', { error: err });
      }
    }
  }

  private resync(reason: string): void {
    for (const listener of this.resyncListeners) {
      try {
        listener(reason);
      } catch (err) {
        this.logger.error('resync listener failed', { error: err });
      }
    }
  }
}
