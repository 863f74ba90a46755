/**
 * One dedicated PostgreSQL connection that is kept open: when it is lost
 * (server restart, pg_terminate_backend, network) a new one is made after a
 * jittered exponential backoff, for as long as the session is not closed.
 *
 * LISTEN and session advisory locks belong to one server backend, so they
 * cannot use a pool: each of the notifier and the leader lease owns a
 * session. The owner is told of every connection (`onConnected`, which sets
 * the connection up: LISTEN, first lock attempt) and of every loss
 * (`onLost`), in that order, once per connection.
 */
import { Backoff, type BackoffOptions, type Logger, messageOf } from '@weft/shared';
import pg from 'pg';

export interface PgConnectionOptions {
  /** postgres://user@host:port/database; never logged with its password. */
  connectionString: string;
  /** Shown in pg_stat_activity (application_name). */
  applicationName?: string;
  /** How long a connection attempt may take. */
  connectTimeoutMs?: number;
  /** How long one query may take before the connection is treated as lost. */
  queryTimeoutMs?: number;
}

export interface PgSessionOptions {
  connection: PgConnectionOptions;
  logger: Logger;
  /** Delay between connection attempts; defaults to 200 ms growing to 5 s, full jitter. */
  backoff?: BackoffOptions;
  /** Sets a new connection up; a throw counts as a lost connection. */
  onConnected(client: pg.Client): Promise<void>;
  /** The connection handed to onConnected is gone (called at most once per connection). */
  onLost(reason: string): void;
}

/** "postgres://user@host:port/db" without the password, for logs and error messages. */
export function describeConnection(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    u.password = '';
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres (unparsable connection string)';
  }
}

export class PgSession {
  private readonly backoff: Backoff;
  private client: pg.Client | undefined;
  /** Bumped per connection so events of an abandoned connection are ignored. */
  private generation = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  readonly target: string;

  constructor(private readonly options: PgSessionOptions) {
    this.backoff = new Backoff({ baseMs: 200, maxMs: 5_000, ...options.backoff });
    this.target = describeConnection(options.connection.connectionString);
  }

  start(): void {
    if (this.closed || this.generation > 0) return;
    void this.connect();
  }

  /** The connection when it is up and set up, else undefined. */
  current(): pg.Client | undefined {
    return this.client;
  }

  /** Treats `client` as lost (a failed ping or query) and reconnects; ignored when it is no longer the current one. */
  drop(client: pg.Client, reason: string): void {
    if (client === this.client) this.lost(this.generation, reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const gen = ++this.generation;
    const c = this.options.connection;
    const client = new pg.Client({
      connectionString: c.connectionString,
      application_name: c.applicationName ?? 'weft-control-plane',
      connectionTimeoutMillis: c.connectTimeoutMs ?? 5_000,
      query_timeout: c.queryTimeoutMs ?? 5_000,
      keepAlive: true,
    });
    // A lost connection emits 'error' (unless a query is running, which then fails) and 'end'.
    client.on('error', (err) => this.lost(gen, messageOf(err), client));
    client.on('end', () => this.lost(gen, 'connection ended', client));
    try {
      await client.connect();
      if (gen !== this.generation) throw new Error('superseded');
      await this.options.onConnected(client);
    } catch (err) {
      this.lost(gen, messageOf(err), client);
      return;
    }
    if (gen !== this.generation) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.backoff.reset();
  }

  private lost(gen: number, reason: string, client?: pg.Client): void {
    if (gen !== this.generation || this.closed) {
      if (client && client !== this.client) void client.end().catch(() => {});
      return;
    }
    this.generation++;
    clearTimeout(this.retryTimer);
    const wasUp = this.client !== undefined;
    const old = this.client ?? client;
    this.client = undefined;
    void old?.end().catch(() => {});
    const delay = this.backoff.next();
    const fields = { database: this.target, reason, retryInMs: delay };
    if (wasUp) this.options.logger.warn('postgres connection lost; reconnecting', fields);
    else this.options.logger.debug('postgres still unreachable; retrying', fields);
    if (wasUp) this.options.onLost(reason);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }
}
