/**
 * The corpus over real loopback sockets, for both parsers: requests sent
 * raw to our Http1Server and to a node:http server (llhttp, strict: no
 * insecureHTTPParser), responses served raw to our Http1Pool and to
 * node:http's client. Each records an Outcome (corpus.ts) per case.
 *
 * Cases run in lanes (one server per lane, one case at a time per lane);
 * each request case has its own connection, and server events are given to
 * the case of the connection they came from (by the client's port), so an
 * event that arrives late on a loaded machine never lands in the next case.
 * A request case is over when nothing happened for SETTLE_MS (a message
 * that waits for more bytes never ends on its own); a response case when
 * the client reports the end or an error.
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { Http1Pool } from '../client-pool.js';
import { Http1Server } from '../server.js';
import { CORPUS_LIMITS, type Message, type Outcome } from './corpus.js';

/** Quiet time after which a request case is over. */
const SETTLE_MS = 80;
/** Bound on one response case (a client that neither ends nor fails). */
const RESPONSE_CASE_MS = 2_000;

/** The case running on one client connection. */
interface Case {
  outcome: Outcome;
  /** Called on every event of the case (restarts its quiet timer). */
  touch: () => void;
}

interface Lane {
  port: number;
  /** Running cases by the client's port; events of a connection no longer here are dropped. */
  cases: Map<number, Case>;
  close(): Promise<void>;
}

const NO_CASE: Case = { outcome: { messages: [], refused: false }, touch: () => {} };

function caseOf(lane: Lane, clientPort: number | undefined): Case {
  return (clientPort === undefined ? undefined : lane.cases.get(clientPort)) ?? NO_CASE;
}

/** One request per HTTP server event, its body collected, `complete` when it ended. */
function startMessage(c: Case, head: string, complete: boolean): Message {
  const m: Message = { head, body: '', complete };
  c.outcome.messages.push(m);
  c.touch();
  return m;
}

async function weftLane(): Promise<Lane> {
  const lane: Lane = { port: 0, cases: new Map(), close: async () => {} };
  const server = new Http1Server({
    ...CORPUS_LIMITS,
    headersTimeoutMs: 30_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 30_000,
    checkIntervalMs: 10_000,
    onRequest(req, res) {
      const c = caseOf(lane, req.remotePort);
      const m = startMessage(c, `${req.method} ${req.url}`, false);
      const parts: Buffer[] = [];
      req.readBody({
        onData: (chunk) => {
          parts.push(Buffer.from(chunk));
          m.body = Buffer.concat(parts).toString('latin1');
          c.touch();
        },
        onEnd: () => {
          m.complete = true;
          c.touch();
          res.writeHead(200, { 'content-length': 2 });
          res.end('ok');
        },
        onAbort: () => c.touch(),
      });
    },
    refuse(socket, err) {
      const c = caseOf(lane, socket.remotePort);
      c.outcome.refused = true;
      c.outcome.detail = `${err.code}: ${err.message}`;
      c.touch();
      socket.destroy();
    },
    onConnect(socket, target) {
      startMessage(caseOf(lane, socket.remotePort), `CONNECT ${target}`, true);
      socket.destroy();
    },
  });
  const addr = await server.listen(0, '127.0.0.1');
  lane.port = addr.port;
  lane.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    });
  return lane;
}

async function llhttpLane(): Promise<Lane> {
  const lane: Lane = { port: 0, cases: new Map(), close: async () => {} };
  const server = createHttpServer(
    { insecureHTTPParser: false, maxHeaderSize: CORPUS_LIMITS.maxHeaderBytes, requireHostHeader: false },
    (req, res) => {
      const c = caseOf(lane, req.socket.remotePort);
      const m = startMessage(c, `${req.method} ${req.url}`, false);
      const parts: Buffer[] = [];
      req.on('data', (chunk: Buffer) => {
        parts.push(chunk);
        m.body = Buffer.concat(parts).toString('latin1');
        c.touch();
      });
      req.on('end', () => {
        m.complete = true;
        c.touch();
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      });
      req.on('error', () => c.touch());
    },
  );
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    // Not refusals of what was sent: the end of input mid-message (the case settled and cut the connection),
    // and bytes after a request that closes the connection (our server ignores them without a word).
    const c = caseOf(lane, socket.remotePort);
    if (err.code !== 'HPE_INVALID_EOF_STATE' && err.code !== 'HPE_CLOSED_CONNECTION') c.outcome.refused = true;
    c.outcome.detail = `${err.code}: ${err.message}`;
    c.touch();
    socket.destroy();
  });
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    startMessage(caseOf(lane, socket.remotePort), `CONNECT ${req.url}`, true);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  lane.port = (server.address() as AddressInfo).port;
  lane.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return lane;
}

/** Sends `raw` on a new connection to the lane's server; resolves with the outcome once the case settled. */
function runRequestCase(lane: Lane, raw: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { messages: [], refused: false };
    let timer: NodeJS.Timeout | undefined;
    let clientPort: number | undefined;
    const socket = connect(lane.port, '127.0.0.1');
    const settle = (): void => {
      if (clientPort !== undefined) lane.cases.delete(clientPort);
      c.touch = () => {};
      socket.destroy();
      resolve(outcome);
    };
    const c: Case = {
      outcome,
      touch: () => {
        clearTimeout(timer);
        timer = setTimeout(settle, SETTLE_MS);
      },
    };
    socket.on('error', () => {});
    socket.on('data', () => c.touch());
    socket.on('close', () => c.touch());
    socket.on('connect', () => {
      clientPort = socket.localPort;
      if (clientPort !== undefined) lane.cases.set(clientPort, c);
      socket.write(raw);
      c.touch();
    });
  });
}

/** Runs every request case on our server and on node's, `lanes` at a time; outcomes by case index. */
export async function requestsOverSockets(raws: Buffer[], lanes: number): Promise<{ weft: Outcome[]; llhttp: Outcome[] }> {
  const weft: Outcome[] = new Array(raws.length);
  const llhttp: Outcome[] = new Array(raws.length);
  let next = 0;
  const runLane = async (): Promise<void> => {
    const [w, l] = await Promise.all([weftLane(), llhttpLane()]);
    try {
      for (let i = next++; i < raws.length; i = next++) {
        [weft[i], llhttp[i]] = await Promise.all([runRequestCase(w, raws[i]!), runRequestCase(l, raws[i]!)]);
      }
    } finally {
      await Promise.all([w.close(), l.close()]);
    }
  };
  await Promise.all(Array.from({ length: lanes }, runLane));
  return { weft, llhttp };
}

/** A raw server answering the first request head on each connection with the lane's current bytes, then closing. */
async function rawResponder(): Promise<{ port: number; set(raw: Buffer): void; close(): Promise<void> }> {
  let current: Buffer = Buffer.alloc(0);
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    const raw = current;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let seen = '';
    socket.on('data', (b: Buffer) => {
      seen += b.toString('latin1');
      if (seen.includes('\r\n\r\n') && seen !== '') {
        seen = '';
        socket.end(raw);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return { port: (server.address() as AddressInfo).port, set: (raw) => (current = raw), close };
}

function weftResponseCase(port: number, method: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const pool = new Http1Pool('127.0.0.1', port, { keepAliveTimeoutMs: 1_000, connectTimeoutMs: 1_000 });
    const out: Outcome = { messages: [], refused: false };
    let m: Message | undefined;
    const parts: Buffer[] = [];
    const done = (): void => {
      if (m !== undefined) m.body = Buffer.concat(parts).toString('latin1');
      void pool.close(false).then(() => resolve(out));
    };
    pool.dispatch(
      { method, path: '/', headers: { host: 'a' }, body: null },
      {
        onConnect() {},
        onHeaders(head) {
          m = { head: String(head.statusCode), body: '', complete: false };
          return true;
        },
        onData(chunk) {
          parts.push(Buffer.from(chunk));
          return true;
        },
        onComplete() {
          m!.complete = true;
          out.messages.push(m!);
          done();
        },
        onError() {
          out.refused = true;
          done();
        },
      },
    );
  });
}

function llhttpResponseCase(port: number, method: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { messages: [], refused: false };
    let settled = false;
    const settle = (refused: boolean, m?: Message): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      out.refused = refused;
      if (m !== undefined && !refused) out.messages.push(m);
      req.destroy();
      resolve(out);
    };
    const timer = setTimeout(() => settle(true), RESPONSE_CASE_MS);
    const req = httpRequest({ host: '127.0.0.1', port, method, path: '/', agent: false, insecureHTTPParser: false });
    req.on('error', () => settle(true));
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', () => settle(true));
      res.on('close', () => {
        const m = { head: String(res.statusCode), body: Buffer.concat(parts).toString('latin1'), complete: res.complete };
        settle(!res.complete, m);
      });
    });
    req.end();
  });
}

/** Runs every response case against our client and node's; outcomes by case index. */
export async function responsesOverSockets(
  cases: { raw: Buffer; method: string }[],
  lanes: number,
): Promise<{ weft: Outcome[]; llhttp: Outcome[] }> {
  const weft: Outcome[] = new Array(cases.length);
  const llhttp: Outcome[] = new Array(cases.length);
  let next = 0;
  const runLane = async (): Promise<void> => {
    const [w, l] = await Promise.all([rawResponder(), rawResponder()]);
    try {
      for (let i = next++; i < cases.length; i = next++) {
        const c = cases[i]!;
        w.set(c.raw);
        l.set(c.raw);
        [weft[i], llhttp[i]] = await Promise.all([weftResponseCase(w.port, c.method), llhttpResponseCase(l.port, c.method)]);
      }
    } finally {
      await Promise.all([w.close(), l.close()]);
    }
  };
  await Promise.all(Array.from({ length: lanes }, runLane));
  return { weft, llhttp };
}
