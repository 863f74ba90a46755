/**
 * One HTTP/2 session per upstream origin (a peer agent's inbound listener,
 * or a local instance that speaks h2c), every stream to that origin
 * multiplexed on it. A slow stream does not hold the others: each has its
 * own flow-control window (h2-settings.ts), and nothing in the agent reads
 * the streams in order.
 *
 * A session is replaced when it closes, fails, or receives GOAWAY (streams
 * already on it finish), or when its ClientTls.generation changed (the
 * identity it presents is no longer the caller's: it is closed with GOAWAY,
 * its streams finish); idle sessions close after IDLE_MS. `get` answers
 * synchronously once a session is connected (the usual case) and with a
 * promise while it connects; a failed connect rejects with
 * H2ConnectFailedError, so the caller can tell "never sent" from a failure
 * after the request went out.
 *
 * To a peer agent with mesh TLS (`tls`, the ClientTls of the HTTP/1.1 pools
 * to that agent): the session runs on a TLS 1.3 connection that presents
 * the agent's certificate, checks the peer is the agent meant (a failed
 * check or handshake is an H2ConnectFailedError whose `cause` is the
 * PeerIdentityError / TLS error: nothing was sent) and offers ALPN h2 (the
 * inbound listener hands such connections to its HTTP/2 server). Without
 * it: h2c, prior knowledge (local instances, and peers under --insecure).
 *
 * In TLS 1.3 the server checks the client's certificate after the client
 * considers the handshake done, so a peer that refuses ours (another CA, a
 * revoked agent) closes the connection or sends an alert just after it. A
 * TLS session therefore counts as connected only once the peer's first
 * SETTINGS frame arrived: a refusal before that is an H2ConnectFailedError
 * naming the refusal (nothing was sent), not a reset of the first streams.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { H2Connection } from '@weft/shared/http2-codec/connection';
import type { ClientTls } from '../http1/client-connection.js';
import { CODEC_SETTINGS } from './h2-settings.js';

/**
 * Every session's socket reads into this one buffer (net's `onread`, as the
 * HTTP/1.1 upstream sockets do, client-connection.ts): no Readable stream,
 * no new Buffer, no 'data' event and no nextTick per read. Reads are handled
 * synchronously; the codec copies what outlives a read (`receive(chunk,
 * true)`). A TLSSocket node connects itself takes `onread` too: decrypted
 * reads land here.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** The session could not be established: no request was sent on it. */
export class H2ConnectFailedError extends Error {
  override name = 'H2ConnectFailedError';
  /** The system error code (ECONNREFUSED, ...) when there is one. */
  readonly code: string;
  constructor(message: string, syscallCode: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.code = syscallCode ?? 'H2_CONNECT_FAILED';
  }
}

/**
 * Keep-alive: a session with open streams is PINGed every `keepaliveMs`; a peer that does not answer within
 * `keepaliveTimeoutMs` is taken as gone (a host that vanished without a FIN, a partition) and the session is
 * destroyed, failing its streams at once instead of at their deadlines, and the next call opens a new one.
 */
export interface H2SessionPoolOptions {
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
}
const DEFAULT_POOL_OPTIONS: H2SessionPoolOptions = { keepaliveMs: 10_000, keepaliveTimeoutMs: 5_000 };

/** Sessions idle (no open stream) this long are closed. */
const IDLE_MS = 30_000;
/** A connect that takes longer fails. */
const CONNECT_TIMEOUT_MS = 5_000;

interface Entry {
  session: H2Connection;
  ready: Promise<H2Connection> | undefined;
  /** ClientTls.generation when it was opened. */
  generation: number | undefined;
}

export class H2SessionPool {
  private readonly sessions = new Map<string, Entry>();

  constructor(private readonly options: H2SessionPoolOptions = DEFAULT_POOL_OPTIONS) {}
  private closed = false;

  /** The session for `key` (host:port; its own key for each `tls`), connected, or a promise of it. */
  get(key: string, host: string, port: number, tls?: ClientTls): H2Connection | Promise<H2Connection> {
    if (this.closed) return Promise.reject(new H2ConnectFailedError('agent shutting down', undefined));
    const e = this.sessions.get(key);
    if (e !== undefined && !e.session.closed && !e.session.destroyed) {
      if (e.generation === tls?.generation || e.ready !== undefined) return e.ready ?? e.session;
      // Made under another identity: no new streams on it (GOAWAY; its open streams finish).
      this.sessions.delete(key);
      e.session.close();
    }
    return this.open(key, host, port, tls);
  }

  private open(key: string, host: string, port: number, tls: ClientTls | undefined): Promise<H2Connection> {
    const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    /** The TLS handshake completed on our side (a close after it and before the peer's SETTINGS is a refusal). */
    let secure = false;
    const what = tls === undefined ? 'h2c' : 'h2 (mTLS)';
    let socket: Socket;
    const generation = tls?.generation;
    // Set once the session exists (below); a socket reads nothing before it connects.
    let reader: H2Connection | undefined;
    const onread = {
      buffer: READ_BUFFER,
      callback: (nread: number, buf: Uint8Array): boolean => {
        reader?.receive((buf as Buffer).subarray(0, nread), true);
        return true;
      },
    };
    if (tls === undefined) {
      socket = netConnect({ host, port, onread });
    } else {
      const s: TLSSocket = tlsConnect({ ...tls.connectOptions(), host, port, ALPNProtocols: ['h2'], onread } as ConnectionOptions);
      s.on('session', (ticket: Buffer) => tls.onSession(ticket, generation));
      s.once('secureConnect', () => {
        secure = true;
        // A resumed session runs no checkServerIdentity: ClientTls decides (e.g. the peer was revoked since).
        const refused = s.isSessionReused() ? tls.checkResumed?.() : undefined;
        if (refused !== undefined) s.destroy(refused);
      });
      socket = s;
    }
    socket.setNoDelay(true);
    const session = new H2Connection({ role: 'client', socket, settings: CODEC_SETTINGS, authority: hostPort, externalReads: true });
    reader = session;
    const entry: Entry = { session, ready: undefined, generation };
    const drop = (): void => {
      if (this.sessions.get(key) === entry) this.sessions.delete(key);
    };
    entry.ready = new Promise<H2Connection>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy(new H2ConnectFailedError(`${what} connect to ${host}:${port} timed out`, 'ETIMEDOUT'));
      }, CONNECT_TIMEOUT_MS);
      // h2c: connected once the socket is; TLS: once the peer spoke HTTP/2 (it accepted our certificate).
      session.once(tls === undefined ? 'connect' : 'remoteSettings', () => {
        clearTimeout(timer);
        entry.ready = undefined;
        resolve(session);
      });
      session.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        drop();
        if (entry.ready !== undefined) {
          entry.ready = undefined;
          const refusal =
            tls !== undefined && secure && /alert/i.test(err.message)
              ? `the peer refused the TLS session after the handshake (${err.message})`
              : err.message;
          reject(
            err instanceof H2ConnectFailedError
              ? err
              : new H2ConnectFailedError(`${what} connect to ${host}:${port}: ${refusal}`, err.code, { cause: err }),
          );
        }
      });
      session.once('close', () => {
        clearTimeout(timer);
        drop();
        if (entry.ready !== undefined) {
          entry.ready = undefined;
          const why = secure
            ? 'the peer closed the connection at the end of the TLS handshake (it refused our certificate, e.g. revoked or of another CA)'
            : 'closed';
          reject(new H2ConnectFailedError(`${what} connect to ${host}:${port}: ${why}`, undefined));
        }
      });
    });
    // A promise nobody awaits must not become an unhandled rejection.
    entry.ready.catch(() => {});
    session.once('goaway', drop);
    this.keepAlive(session, host, port, drop);
    session.setTimeout(IDLE_MS, () => {
      drop();
      session.close();
    });
    this.sessions.set(key, entry);
    return entry.ready;
  }

  private keepAlive(session: H2Connection, host: string, port: number, drop: () => void): void {
    const { keepaliveMs, keepaliveTimeoutMs } = this.options;
    let pinging = false;
    const timer = setInterval(() => {
      if (pinging || session.destroyed || session.streamCount === 0) return;
      pinging = true;
      void session.ping(keepaliveTimeoutMs).then((answered) => {
        pinging = false;
        if (answered || session.destroyed) return;
        drop();
        session.destroy(new Error(`HTTP/2 peer ${host}:${port} did not answer a PING within ${keepaliveTimeoutMs} ms`));
      });
    }, keepaliveMs);
    timer.unref();
    session.once('close', () => clearInterval(timer));
  }

  /** Open sessions (for tests and metrics). */
  get size(): number {
    return this.sessions.size;
  }

  /** Closes every session: graceful lets open streams finish, else they are cut. */
  async close(graceful: boolean): Promise<void> {
    this.closed = true;
    const all = [...this.sessions.values()].map((e) => e.session);
    this.sessions.clear();
    await Promise.all(
      all.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed) return resolve();
            s.once('close', () => resolve());
            if (graceful) s.close();
            else s.destroy();
          }),
      ),
    );
  }
}
