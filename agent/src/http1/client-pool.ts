/**
 * Keep-alive connections to one upstream origin (a local instance, or a peer
 * agent's inbound listener). A request takes the most recently released idle
 * connection (LIFO: the warmest, and the others age out) or opens a new one;
 * there is no queue and no connection cap here (the circuit breaker bounds
 * requests per service, service-resilience.ts). Idle connections close after
 * `keepAliveTimeoutMs` (shorter than the usual server's 5 s, so we close
 * first), or a second before the idle timeout a server announces
 * (`Keep-Alive: timeout=N`, as node servers send), checked by one sweep for
 * all pools. With mesh TLS, a connection made under an earlier
 * ClientTls.generation (another identity presented) is closed instead of
 * reused, when it is taken or given back.
 */
import {
  ClientConnection,
  type ClientHandler,
  type ClientRequest,
  type ClientTls,
  type ClientConnection as Connection,
  type ConnectionPool,
  type TlsOrigination,
} from './client-connection.js';
import { PoolClosedError } from './errors.js';

export interface Http1PoolOptions {
  keepAliveTimeoutMs: number;
  connectTimeoutMs: number;
  /** A lowercase field name whose first value every response head records as `noted` (the caller's fast path to one field). */
  noteField?: string;
  /** Originate TLS to the upstream (an external host); plain TCP without. */
  tls?: TlsOrigination;
  /** Mutual TLS to a peer agent for every connection of the pool (options read per connect); not with `tls`. */
  meshTls?: ClientTls;
}

/** How often idle connections are checked. */
const SWEEP_MS = 1_000;

/** Every pool with idle connections, for the one sweep that closes those idle too long. */
const sweepable = new Set<Http1Pool>();
let sweep: NodeJS.Timeout | undefined;
/** Coarse clock for idle ages, advanced by the sweep (no clock read per request). */
let coarseNow = Date.now();

function ensureSweep(): void {
  if (sweep !== undefined) return;
  coarseNow = Date.now();
  sweep = setInterval(() => {
    coarseNow = Date.now();
    for (const pool of sweepable) pool.closeIdle(coarseNow);
    if (sweepable.size === 0) {
      clearInterval(sweep);
      sweep = undefined;
    }
  }, SWEEP_MS);
  sweep.unref();
}

export class Http1Pool implements ConnectionPool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private running = 0;
  private closed = false;
  private drained: (() => void) | undefined;
  private readonly authority: string;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly opts: Http1PoolOptions,
  ) {
    this.authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  /** Exchanges running and waiting (there is no wait: always 0). */
  get stats(): { running: number; pending: number; connections: number } {
    return { running: this.running, pending: 0, connections: this.all.size };
  }

  /** Sends `req`; the outcome reaches `handler` (possibly before this returns, for an immediate failure). */
  dispatch(req: ClientRequest, handler: ClientHandler): void {
    if (this.closed) {
      handler.onError(new PoolClosedError(`upstream pool for ${this.authority} is closed`));
      return;
    }
    const generation = this.opts.meshTls?.generation;
    let conn = this.idle.pop();
    while (conn !== undefined && (!conn.usable || conn.tlsGeneration !== generation)) {
      this.all.delete(conn);
      if (conn.usable) conn.socket.destroy();
      conn = this.idle.pop();
    }
    if (conn === undefined) {
      conn = new ClientConnection(
        this.host,
        this.port,
        this.opts.connectTimeoutMs,
        this,
        this.authority,
        this.opts.noteField,
        this.opts.tls,
        this.opts.meshTls,
      );
      this.all.add(conn);
    }
    if (this.idle.length === 0) sweepable.delete(this);
    this.running++;
    conn.start(req, handler);
  }

  exchangeEnded(): void {
    this.running--;
    if (this.running === 0) this.drained?.();
  }

  release(conn: Connection): void {
    if (this.closed || !conn.usable || conn.tlsGeneration !== this.opts.meshTls?.generation) {
      conn.socket.destroy();
      return;
    }
    conn.idleSince = coarseNow;
    // A server that keeps idle connections less than a sweep interval: not worth keeping at all.
    if (conn.idleLimitMs < SWEEP_MS) {
      conn.socket.destroy();
      return;
    }
    this.idle.push(conn);
    sweepable.add(this);
    ensureSweep();
  }

  gone(conn: Connection): void {
    this.all.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.idle.length === 0) sweepable.delete(this);
  }

  /** Closes connections idle for longer than the keep-alive timeout (or the shorter one their server announced). */
  closeIdle(now: number): void {
    const limit = this.opts.keepAliveTimeoutMs;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const conn = this.idle[i]!;
      if (now - conn.idleSince >= Math.min(limit, conn.idleLimitMs)) {
        this.idle.splice(i, 1);
        conn.socket.destroy();
      }
    }
    if (this.idle.length === 0) sweepable.delete(this);
  }

  /** Closes the pool: graceful lets running exchanges finish, otherwise they fail at once. */
  close(graceful = true): Promise<void> {
    this.closed = true;
    sweepable.delete(this);
    for (const conn of this.idle) conn.socket.destroy();
    this.idle.length = 0;
    if (!graceful || this.running === 0) {
      for (const conn of this.all) conn.socket.destroy();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.drained = () => {
        for (const conn of this.all) conn.socket.destroy();
        resolve();
      };
    });
  }
}
