/**
 * One HTTP/2 session per upstream origin (a peer agent's inbound listener,
 * or a local instance that speaks h2c), every stream to that origin
 * multiplexed on it. A slow stream does not hold the others: each has its
 * own flow-control window (h2-settings.ts), and nothing in the agent reads
 * the streams in order.
 *
 * A session is replaced when it closes, fails, or receives GOAWAY (streams
 * already on it finish); idle sessions close after IDLE_MS. `get` answers
 * synchronously once a session is connected (the usual case) and with a
 * promise while it connects; a failed connect rejects with
 * H2ConnectFailedError, so the caller can tell "never sent" from a failure
 * after the request went out.
 */
import { type ClientHttp2Session, connect } from 'node:http2';
import { H2_SETTINGS, MAX_SESSION_MEMORY_MB, SESSION_WINDOW } from './h2-settings.js';

/** The session could not be established: no request was sent on it. */
export class H2ConnectFailedError extends Error {
  override name = 'H2ConnectFailedError';
  /** The system error code (ECONNREFUSED, ...) when there is one. */
  readonly code: string;
  constructor(message: string, syscallCode: string | undefined) {
    super(message);
    this.code = syscallCode ?? 'H2_CONNECT_FAILED';
  }
}

/** Sessions idle (no open stream) this long are closed. */
const IDLE_MS = 30_000;
/** A connect that takes longer fails. */
const CONNECT_TIMEOUT_MS = 5_000;

interface Entry {
  session: ClientHttp2Session;
  ready: Promise<ClientHttp2Session> | undefined;
}

export class H2SessionPool {
  private readonly sessions = new Map<string, Entry>();
  private closed = false;

  /** The session for `key` (host:port), connected, or a promise of it. */
  get(key: string, host: string, port: number): ClientHttp2Session | Promise<ClientHttp2Session> {
    if (this.closed) return Promise.reject(new H2ConnectFailedError('agent shutting down', undefined));
    const e = this.sessions.get(key);
    if (e !== undefined && !e.session.closed && !e.session.destroyed) return e.ready ?? e.session;
    return this.open(key, host, port);
  }

  private open(key: string, host: string, port: number): Promise<ClientHttp2Session> {
    const authority = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
    const session = connect(authority, { settings: H2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
    const entry: Entry = { session, ready: undefined };
    const drop = (): void => {
      if (this.sessions.get(key) === entry) this.sessions.delete(key);
    };
    entry.ready = new Promise<ClientHttp2Session>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy(new H2ConnectFailedError(`h2c connect to ${host}:${port} timed out`, 'ETIMEDOUT'));
      }, CONNECT_TIMEOUT_MS);
      session.once('connect', () => {
        clearTimeout(timer);
        entry.ready = undefined;
        try {
          session.setLocalWindowSize(SESSION_WINDOW);
        } catch {
          // Closed meanwhile: the next get() opens another.
        }
        resolve(session);
      });
      session.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        drop();
        if (entry.ready !== undefined) {
          entry.ready = undefined;
          reject(
            err instanceof H2ConnectFailedError
              ? err
              : new H2ConnectFailedError(`h2c connect to ${host}:${port}: ${err.message}`, err.code),
          );
        }
      });
      session.once('close', () => {
        clearTimeout(timer);
        drop();
        if (entry.ready !== undefined) {
          entry.ready = undefined;
          reject(new H2ConnectFailedError(`h2c connect to ${host}:${port}: closed`, undefined));
        }
      });
    });
    // A promise nobody awaits must not become an unhandled rejection.
    entry.ready.catch(() => {});
    session.once('goaway', drop);
    session.setTimeout(IDLE_MS, () => {
      drop();
      session.close();
    });
    this.sessions.set(key, entry);
    return entry.ready;
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
