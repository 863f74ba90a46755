import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import type { ClientHandler, ClientRequest } from './client-connection.js';
import { Http1Pool } from './client-pool.js';
import {
  ConnectFailedError,
  ConnectionClosedError,
  MalformedBodyError,
  PoolClosedError,
  RequestBodyError,
  ResponseHeadTooLargeError,
  UnexpectedUpgradeError,
  UpstreamProtocolError,
} from './errors.js';
import { type HeaderMap, headerMapOf } from './head-parser.js';

/** The facts of the keep-alive race (the proxy's reading of a ConnectionClosedError). */
function isKeepAliveRace(err: unknown): boolean {
  return err instanceof ConnectionClosedError && err.reused && !err.responseStarted;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

interface NodeUpstream {
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
}

/** A real node:http server on port 0, closed (every connection cut) when the test ends. */
async function nodeUpstream(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<NodeUpstream> {
  const server = createHttpServer(handler);
  const up: NodeUpstream = { port: 0, connections: 0 };
  server.on('connection', () => up.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.port = (server.address() as AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return up;
}

interface RawUpstream {
  port: number;
  sockets: Socket[];
}

/** A raw TCP server on port 0: `onSocket` scripts each connection (index = order of arrival). */
async function rawUpstream(t: TestContext, onSocket: (socket: Socket, index: number) => void): Promise<RawUpstream> {
  const up: RawUpstream = { port: 0, sockets: [] };
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    up.sockets.push(socket);
    onSocket(socket, up.sockets.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.port = (server.address() as AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of up.sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return up;
}

/** Calls `fn` with all the bytes received on `socket` each time more arrive (latin1). */
function onText(socket: Socket, fn: (all: string) => void): void {
  let all = '';
  socket.on('data', (b: Buffer) => {
    all += b.toString('latin1');
    fn(all);
  });
}

/** Counts complete request heads in `all`. */
function heads(all: string): number {
  return all.split('\r\n\r\n').length - 1;
}

function makePool(t: TestContext, port: number, opts: Partial<{ keepAliveTimeoutMs: number; connectTimeoutMs: number }> = {}): Http1Pool {
  const pool = new Http1Pool('127.0.0.1', port, { keepAliveTimeoutMs: 4_000, connectTimeoutMs: 2_000, ...opts });
  t.after(() => pool.close(false));
  return pool;
}

interface Outcome {
  status: number;
  headers: HeaderMap;
  body: Buffer;
}

interface Hooks {
  onConnect?(abort: (err?: Error) => void): void;
  onHeaders?(status: number, headers: HeaderMap, resume: () => void, abort: (err?: Error) => void): boolean;
  onData?(chunk: Buffer, resume: () => void, abort: (err?: Error) => void): boolean;
}

/**
 * Dispatches one request; resolves with the response or rejects with the
 * error. Checks the handler contract: onConnect first, then at most one
 * onHeaders, and exactly one of onComplete / onError.
 */
function send(pool: Http1Pool, req: Partial<ClientRequest>, hooks: Hooks = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let abort: (err?: Error) => void = () => {};
    let resume: () => void = () => {};
    let connected = false;
    let status = 0;
    let headers: HeaderMap = {};
    const parts: Buffer[] = [];
    let ended = false;
    const end = (what: string) => {
      if (ended) throw new Error(`handler got ${what} after the exchange ended`);
      ended = true;
    };
    const handler: ClientHandler = {
      onConnect(a) {
        assert.equal(connected, false, 'onConnect once');
        connected = true;
        abort = a;
        hooks.onConnect?.(a);
      },
      onHeaders(head, r) {
        assert.ok(connected, 'onConnect before onHeaders');
        assert.equal(status, 0, 'onHeaders once');
        status = head.statusCode;
        headers = headerMapOf(head.rawHeaders);
        resume = r;
        return hooks.onHeaders?.(status, headers, r, abort) ?? true;
      },
      onData(chunk) {
        assert.ok(status > 0, 'onHeaders before onData');
        assert.equal(ended, false, 'no data after the end');
        // Kept without a copy: a chunk must stay valid after later reads.
        parts.push(chunk);
        return hooks.onData?.(chunk, resume, abort) ?? true;
      },
      onComplete() {
        end('onComplete');
        resolve({ status, headers, body: Buffer.concat(parts) });
      },
      onError(err) {
        end(`onError(${err.message})`);
        reject(err);
      },
    };
    pool.dispatch({ method: 'GET', path: '/', headers: {}, body: null, ...req }, handler);
  });
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.fail('expected the exchange to fail');
}

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('Http1Pool: connection reuse', () => {
  it('reuses one connection for sequential requests and adds a host header', async (t) => {
    const up = await nodeUpstream(t, (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, host: req.headers.host, m: req.method, x: req.headers['x-a'] }));
    });
    const pool = makePool(t, up.port);
    for (let i = 0; i < 4; i++) {
      const r = await send(pool, { path: `/n/${i}?q`, headers: { 'x-a': ['1', '2'] } });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body.toString()), { url: `/n/${i}?q`, host: `127.0.0.1:${up.port}`, m: 'GET', x: '1, 2' });
    }
    assert.equal(up.connections, 1);
    assert.deepEqual(pool.stats, { running: 0, pending: 0, connections: 1 });
  });

  it('keeps a host header that was given', async (t) => {
    const up = await nodeUpstream(t, (req, res) => res.end(req.headers.host));
    const pool = makePool(t, up.port);
    assert.equal((await send(pool, { headers: { host: 'orders.internal' } })).body.toString(), 'orders.internal');
  });

  it('does not reuse a connection after a connection: close response', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('bye');
    });
    const pool = makePool(t, up.port);
    assert.equal((await send(pool, {})).body.toString(), 'bye');
    assert.equal((await send(pool, {})).body.toString(), 'bye');
    assert.equal(up.connections, 2);
  });

  it('does not reuse a connection after an HTTP/1.0 response without keep-alive', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        if (heads(all) === 1) socket.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    const pool = makePool(t, up.port);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    assert.equal(up.sockets.length, 2);
  });

  it('fails with UpstreamProtocolError on bytes beyond the response on a keep-alive connection, and never reuses it', async (t) => {
    const up = await rawUpstream(t, (socket, index) => {
      onText(socket, () => {
        if (index === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof UpstreamProtocolError, String(err));
    assert.match(err.message, /bytes after the end of the response/);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    assert.equal(up.sockets.length, 2);
  });

  it('fails with UpstreamProtocolError on stray bytes after a connection: close response too', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nokEXTRA'));
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof UpstreamProtocolError);
  });

  it('fails with UpstreamProtocolError on chunked + content-length and opens a new connection after', async (t) => {
    const up = await rawUpstream(t, (socket, index) => {
      onText(socket, () => {
        if (index === 0) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\nok\r\n0\r\n\r\n');
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof UpstreamProtocolError);
    assert.match(err.message, /both content-length and transfer-encoding/);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    assert.equal(up.sockets.length, 2);
  });

  it('drops an idle connection that receives unsolicited bytes', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        if (heads(all) === 1) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra'), 30);
        }
      });
    });
    const pool = makePool(t, up.port);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    await sleep(150);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    assert.equal(up.sockets.length, 2);
  });

  it('does not reuse an idle connection the server closed', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        if (heads(all) === 1) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    const pool = makePool(t, up.port);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    await sleep(100);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    assert.equal(up.sockets.length, 2);
  });

  it('takes the most recently released idle connection first (LIFO)', async (t) => {
    const waiting: ServerResponse[] = [];
    const up = await nodeUpstream(t, (req, res) => {
      if (req.url === '/third') {
        res.end(String(req.socket.remotePort));
        return;
      }
      waiting.push(res);
      if (waiting.length === 2) {
        // Answer the first now and the second a little later: the second is released last.
        waiting[0]!.end(String(waiting[0]!.req.socket.remotePort));
        setTimeout(() => waiting[1]!.end(String(waiting[1]!.req.socket.remotePort)), 50);
      }
    });
    const pool = makePool(t, up.port);
    const [a, b] = await Promise.all([send(pool, { path: '/a' }), send(pool, { path: '/b' })]);
    assert.notEqual(a.body.toString(), b.body.toString());
    const lastReleased = waiting[1]!.req.socket.remotePort;
    const third = await send(pool, { path: '/third' });
    assert.equal(third.body.toString(), String(lastReleased));
    assert.equal(up.connections, 2);
    assert.equal(pool.stats.connections, 2);
  });
});

describe('Http1Pool: response framing', () => {
  it('reads an until-close response body and does not keep the connection', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        if (heads(all) !== 1) return;
        socket.write('HTTP/1.1 200 OK\r\nX-Kind: close\r\n\r\nfirst part, ');
        setTimeout(() => socket.end('second part'), 30);
      });
    });
    const pool = makePool(t, up.port);
    const r = await send(pool, {});
    assert.equal(r.headers['x-kind'], 'close');
    assert.equal(r.body.toString(), 'first part, second part');
    await sleep(20);
    assert.equal(pool.stats.connections, 0);
  });

  it('reads chunked responses (from node:http) and reuses the connection', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => {
      res.write('alpha ');
      setTimeout(() => {
        res.write(Buffer.alloc(70_000, 'b'));
        res.end(' omega');
      }, 10);
    });
    const pool = makePool(t, up.port);
    for (let i = 0; i < 2; i++) {
      const r = await send(pool, {});
      assert.equal(r.headers['transfer-encoding'], 'chunked');
      assert.equal(r.body.toString(), `alpha ${'b'.repeat(70_000)} omega`);
    }
    assert.equal(up.connections, 1);
  });

  it('reads a chunked response with extensions and trailers, sent one byte at a time', async (t) => {
    const response = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\r\nwiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n';
    const up = await rawUpstream(t, (socket) => {
      onText(socket, async (all) => {
        if (heads(all) !== 1) return;
        for (const ch of response) {
          socket.write(ch);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      });
    });
    const pool = makePool(t, up.port);
    const r = await send(pool, {});
    assert.equal(r.body.toString(), 'wikipedia');
    assert.equal(r.headers['x-t'], undefined);
  });

  it('reads HEAD, 204 and 304 responses without a body and keeps the connection', async (t) => {
    const up = await nodeUpstream(t, (req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-length': 1234 });
        res.end();
      } else if (req.url === '/204') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/304') {
        res.writeHead(304, { etag: '"x"' });
        res.end();
      } else res.end('after');
    });
    const pool = makePool(t, up.port);
    const head = await send(pool, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1234');
    assert.equal(head.body.length, 0);
    assert.equal((await send(pool, { path: '/204' })).status, 204);
    const nm = await send(pool, { path: '/304' });
    assert.equal(nm.status, 304);
    assert.equal(nm.headers.etag, '"x"');
    assert.equal((await send(pool, { path: '/x' })).body.toString(), 'after');
    assert.equal(up.connections, 1);
  });

  it('skips 1xx responses (separate writes and together with the final head)', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        const n = heads(all);
        if (n === 1) {
          socket.write('HTTP/1.1 100 Continue\r\n\r\n');
          setTimeout(() => socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'), 10);
          setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal'), 20);
        } else if (n === 2) {
          socket.write('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nmade');
        }
      });
    });
    const pool = makePool(t, up.port);
    const a = await send(pool, {});
    assert.equal(a.status, 200);
    assert.equal(a.headers.link, undefined);
    assert.equal(a.body.toString(), 'final');
    const b = await send(pool, {});
    assert.equal(b.status, 201);
    assert.equal(b.body.toString(), 'made');
    assert.equal(up.sockets.length, 1);
  });

  it('skips interim responses from node:http (writeContinue, writeEarlyHints)', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => {
      res.writeContinue();
      res.writeEarlyHints({ link: '</a.js>; rel=preload' });
      res.end('done');
    });
    const pool = makePool(t, up.port);
    const r = await send(pool, {});
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'done');
  });

  it('fails on 101 Switching Protocols when the exchange takes no upgrade (no onUpgrade)', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n'));
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof UnexpectedUpgradeError);
    assert.equal(err.code, 'H1_UNEXPECTED_UPGRADE');
    assert.equal(err.requestAskedUpgrade, false);
    assert.match(err.message, /101/);
    assert.equal(pool.stats.running, 0);
    const asked = await failure(send(pool, { headers: { upgrade: 'websocket', connection: 'upgrade' } }));
    assert.ok(asked instanceof UnexpectedUpgradeError);
    assert.equal(asked.requestAskedUpgrade, true);
  });

  it('fails with UpstreamProtocolError on an invalid response head, naming the problem', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'));
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof UpstreamProtocolError);
    assert.equal(err.code, 'H1_UPSTREAM_PROTOCOL');
    assert.match(err.message, /^invalid response head: ambiguous response framing \(content-length sent 2 times\)$/);
    assert.equal(isKeepAliveRace(err), false);
  });

  it('fails with UpstreamProtocolError on a non-HTTP answer', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, () => socket.write('SSH-2.0-OpenSSH_9.0\r\n\r\n'));
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof UpstreamProtocolError);
    assert.match(err.message, /malformed status line "SSH-2.0-OpenSSH_9.0"/);
  });

  it('fails with ResponseHeadTooLargeError on a response head over 64 KiB, partial or complete in one read', async (t) => {
    for (const end of ['', '\r\n\r\n']) {
      const up = await rawUpstream(t, (socket) => {
        onText(socket, () => socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100 * 1024)}${end}`));
      });
      const pool = makePool(t, up.port);
      const err = await failure(send(pool, {}));
      assert.ok(err instanceof ResponseHeadTooLargeError, String(err));
      assert.ok(err instanceof UpstreamProtocolError);
    }
  });

  it('fails with UpstreamProtocolError (cause MalformedBodyError) on malformed chunked framing', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, () => socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nxyz\r\n'));
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof UpstreamProtocolError);
    assert.ok(err.cause instanceof MalformedBodyError);
  });

  it('fails (not stale) when a response is cut short', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof ConnectionClosedError);
    assert.equal(err.responseStarted, true);
    assert.equal(err.reused, false);
    assert.equal(isKeepAliveRace(err), false);
  });
});

describe('Http1Pool: flow control and aborts', () => {
  it('pauses the body while onData returns false, until resume', async (t) => {
    const size = 2 * 1024 * 1024;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 13) & 0xff;
    const up = await nodeUpstream(t, (_req, res) => {
      res.writeHead(200, { 'content-length': size });
      res.end(payload);
    });
    const pool = makePool(t, up.port);
    let calls = 0;
    let checked = false;
    const r = await send(
      pool,
      {},
      {
        onData(_chunk, resume) {
          calls++;
          if (calls !== 1) return true;
          setTimeout(() => {
            assert.equal(calls, 1, 'no data while paused');
            checked = true;
            resume();
          }, 150);
          return false;
        },
      },
    );
    assert.equal(checked, true);
    assert.ok(calls > 1);
    assert.equal(sha(r.body), sha(payload));
    // Still reusable after a paused body.
    assert.equal((await send(pool, {})).body.length, size);
    assert.equal(up.connections, 1);
  });

  it('holds the body while onHeaders returns false, until resume (also bytes read together with the head)', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.end(Buffer.alloc(100_000, 'h'));
    });
    const pool = makePool(t, up.port);
    let dataSeen = false;
    let heldChecked = false;
    const r = await send(
      pool,
      {},
      {
        onHeaders(_s, _h, resume) {
          setTimeout(() => {
            heldChecked = !dataSeen;
            resume();
          }, 100);
          return false;
        },
        onData() {
          dataSeen = true;
          return true;
        },
      },
    );
    assert.equal(heldChecked, true, 'no data before resume');
    assert.equal(r.body.length, 100_000);
  });

  it('aborts before the request is written (abort in onConnect)', async (t) => {
    let requests = 0;
    const up = await nodeUpstream(t, (_req, res) => {
      requests++;
      res.end('x');
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}, { onConnect: (abort) => abort(new Error('caller gave up')) }));
    assert.equal(err.message, 'caller gave up');
    assert.equal(pool.stats.running, 0);
    await sleep(50);
    assert.equal(requests, 0);
    // The pool still works.
    assert.equal((await send(pool, {})).body.toString(), 'x');
  });

  it('aborts while waiting for the head (default error), and the server sees the close', async (t) => {
    let serverSawClose = false;
    const up = await nodeUpstream(t, (req) => {
      req.socket.on('close', () => {
        serverSawClose = true;
      });
    });
    const pool = makePool(t, up.port);
    const err = await failure(
      send(
        pool,
        {},
        {
          onConnect: (abort) => {
            setTimeout(() => abort(), 100);
          },
        },
      ),
    );
    assert.equal(err.message, 'request aborted');
    assert.equal(pool.stats.running, 0);
    await sleep(50);
    assert.equal(serverSawClose, true);
  });

  it('aborts after the head (in onHeaders and in onData): onError, never onComplete', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => {
      res.writeHead(200, { 'content-length': 200_000 });
      res.write(Buffer.alloc(1000, 'a'));
      setTimeout(() => res.end(Buffer.alloc(199_000, 'b')), 50);
    });
    const pool = makePool(t, up.port);
    const e1 = await failure(
      send(
        pool,
        {},
        {
          onHeaders: (_s, _h, _r, abort) => {
            abort(new Error('not wanted'));
            return true;
          },
        },
      ),
    );
    assert.equal(e1.message, 'not wanted');
    const e2 = await failure(
      send(
        pool,
        {},
        {
          onData: (_c, _r, abort) => {
            abort(new Error('enough'));
            return true;
          },
        },
      ),
    );
    assert.equal(e2.message, 'enough');
    await sleep(100);
    assert.deepEqual(pool.stats, { running: 0, pending: 0, connections: 0 });
  });

  it('ignores an abort after the exchange completed (and one from an earlier exchange)', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => res.end('ok'));
    const pool = makePool(t, up.port);
    let first: (err?: Error) => void = () => {};
    await send(pool, {}, { onConnect: (a) => (first = a) });
    first(new Error('late'));
    // The same connection serves the next exchange; the old abort must not touch it.
    const r = await send(pool, {}, { onConnect: () => first(new Error('stale abort')) });
    assert.equal(r.body.toString(), 'ok');
    assert.equal(up.connections, 1);
  });

  it('fails with ECONNREFUSED (never stale) when nothing listens', async (t) => {
    const port = await closedPort();
    const pool = makePool(t, port);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof ConnectFailedError);
    assert.equal(err.code, 'H1_CONNECT_FAILED');
    assert.equal(err.syscallCode, 'ECONNREFUSED');
    assert.equal(isKeepAliveRace(err), false);
    assert.deepEqual(pool.stats, { running: 0, pending: 0, connections: 0 });
  });
});

describe('Http1Pool: the keep-alive race', () => {
  it('marks the failure stale when a reused connection closes before any response byte', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        const n = heads(all);
        if (n === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        // The server had decided to close this idle connection: the new request is never read.
        else if (n === 2) socket.destroy();
      });
    });
    const pool = makePool(t, up.port);
    assert.equal((await send(pool, {})).body.toString(), 'ok');
    const err = await failure(send(pool, { method: 'POST', body: null }));
    assert.equal(isKeepAliveRace(err), true, `error ${err.code}: ${err.message}`);
    assert.ok(err instanceof ConnectionClosedError);
    assert.equal(err.requestFullyWritten, true);
    assert.ok(err.requestBytesWritten > 0, 'the request head was written');
    assert.equal(up.sockets.length, 1);
    assert.equal(pool.stats.running, 0);
  });

  it('marks the failure stale when the server ends the connection right after the response (sent at once)', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        if (heads(all) === 1) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    const pool = makePool(t, up.port);
    // The next request leaves from onComplete, before the server's FIN is read: it may go out on the
    // closing connection (stale error) or find the connection gone and open a new one (success).
    const second = await new Promise<{ ok: boolean; err?: Error }>((resolve) => {
      pool.dispatch(
        { method: 'GET', path: '/', headers: {}, body: null },
        {
          onConnect() {},
          onHeaders: () => true,
          onData: () => true,
          onError: () => resolve({ ok: false }),
          onComplete() {
            send(pool, {}).then(
              () => resolve({ ok: true }),
              (err: Error) => resolve({ ok: false, err }),
            );
          },
        },
      );
    });
    if (!second.ok) {
      assert.ok(second.err !== undefined, 'the first exchange completed');
      assert.equal(isKeepAliveRace(second.err), true, second.err.message);
    }
  });

  it('never marks a fresh connection stale', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, () => socket.destroy());
    });
    const pool = makePool(t, up.port);
    const err = await failure(send(pool, {}));
    assert.equal(isKeepAliveRace(err), false);
  });

  it('never marks stale a reused connection that failed after part of the response', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      onText(socket, (all) => {
        const n = heads(all);
        if (n === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else if (n === 2) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Le');
          setTimeout(() => socket.destroy(), 20);
        }
      });
    });
    const pool = makePool(t, up.port);
    await send(pool, {});
    const err = await failure(send(pool, {}));
    assert.equal(isKeepAliveRace(err), false);
  });
});

describe('Http1Pool: request bodies', () => {
  function payload(size: number): Buffer {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * 17 + (i >> 8)) & 0xff;
    return b;
  }

  function pieces(b: Buffer, size: number): Readable {
    return Readable.from(
      (function* () {
        for (let i = 0; i < b.length; i += size) {
          yield b.subarray(i, i + size);
          if (i === 0) yield Buffer.alloc(0);
        }
      })(),
    );
  }

  async function echoUpstream(t: TestContext): Promise<NodeUpstream> {
    return nodeUpstream(t, (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            length: body.length,
            sha: sha(body),
            cl: req.headers['content-length'] ?? null,
            te: req.headers['transfer-encoding'] ?? null,
          }),
        );
      });
    });
  }

  it('sends a body with its content-length intact', async (t) => {
    const up = await echoUpstream(t);
    const pool = makePool(t, up.port);
    const data = payload(1_000_000);
    const r = await send(pool, { method: 'PUT', headers: { 'content-length': String(data.length) }, body: pieces(data, 65_536) });
    assert.deepEqual(JSON.parse(r.body.toString()), { length: data.length, sha: sha(data), cl: String(data.length), te: null });
    // The connection is reused after a body.
    const again = await send(pool, { method: 'POST', headers: { 'content-length': '3' }, body: Readable.from([Buffer.from('abc')]) });
    assert.equal(JSON.parse(again.body.toString()).length, 3);
    assert.equal(up.connections, 1);
  });

  it('sends a body without content-length chunked, intact', async (t) => {
    const up = await echoUpstream(t);
    const pool = makePool(t, up.port);
    const data = payload(777_777);
    const r = await send(pool, { method: 'POST', body: pieces(data, 10_000) });
    assert.deepEqual(JSON.parse(r.body.toString()), { length: data.length, sha: sha(data), cl: null, te: 'chunked' });
    const empty = await send(pool, { method: 'POST', body: Readable.from([]) });
    assert.deepEqual(JSON.parse(empty.body.toString()), { length: 0, sha: sha(Buffer.alloc(0)), cl: null, te: 'chunked' });
    assert.equal(up.connections, 1);
  });

  it('sends a body that is written slowly (stream fed over time)', async (t) => {
    const up = await echoUpstream(t);
    const pool = makePool(t, up.port);
    const body = new PassThrough();
    const p = send(pool, { method: 'POST', body });
    for (const part of ['one ', 'two ', 'three']) {
      body.write(part);
      await sleep(20);
    }
    body.end();
    const r = await p;
    assert.equal(JSON.parse(r.body.toString()).sha, sha(Buffer.from('one two three')));
  });

  it('fails the exchange when the request body stream errors', async (t) => {
    const up = await nodeUpstream(t, (req) => req.resume());
    const pool = makePool(t, up.port);
    const body = new PassThrough();
    const p = send(pool, { method: 'POST', body });
    body.write('partial');
    setTimeout(() => body.destroy(new Error('client went away')), 30);
    const err = await failure(p);
    assert.ok(err instanceof RequestBodyError);
    assert.equal((err.cause as Error).message, 'client went away');
    assert.equal(pool.stats.running, 0);
  });

  it('aborts a chunked upload whose body fails: the upstream sees the cut, never a last chunk', async (t) => {
    let received = '';
    let closed!: () => void;
    const upClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const up = await rawUpstream(t, (socket) => {
      socket.on('data', (b: Buffer) => {
        received += b.toString('latin1');
      });
      socket.on('close', () => closed());
    });
    const pool = makePool(t, up.port);
    const body = new PassThrough();
    const p = send(pool, { method: 'POST', body });
    body.write('partial');
    setTimeout(() => body.destroy(new Error('malformed client body')), 30);
    const err = await failure(p);
    assert.ok(err instanceof RequestBodyError);
    await upClosed;
    assert.match(received, /transfer-encoding: chunked\r\n\r\n7\r\npartial\r\n$/);
    assert.ok(!received.includes('0\r\n\r\n'), 'no last chunk');
  });

  it('completes on an early response and does not reuse the connection still sending the body', async (t) => {
    const up = await rawUpstream(t, (socket) => {
      // Answers as soon as the request head is in, without reading the body.
      let answered = false;
      onText(socket, (all) => {
        if (answered || heads(all) < 1) return;
        answered = true;
        socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig');
      });
    });
    const pool = makePool(t, up.port);
    const body = new PassThrough();
    const r = await send(pool, { method: 'POST', body });
    assert.equal(r.status, 413);
    assert.equal(r.body.toString(), 'big');
    body.end('late body');
    await sleep(30);
    const r2 = await send(pool, { method: 'POST', body: Readable.from([]) });
    assert.equal(r2.status, 413);
    assert.equal(up.sockets.length, 2);
  });
});

describe('Http1Pool: idle connections', () => {
  it('closes connections idle longer than keepAliveTimeoutMs (one sweep a second) and opens a new one after', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => res.end('x'));
    const pool = makePool(t, up.port, { keepAliveTimeoutMs: 100 });
    await send(pool, {});
    assert.equal(pool.stats.connections, 1);
    const deadline = Date.now() + 4_000;
    while (pool.stats.connections > 0 && Date.now() < deadline) await sleep(50);
    assert.equal(pool.stats.connections, 0);
    assert.equal((await send(pool, {})).body.toString(), 'x');
    assert.equal(up.connections, 2);
  });
});

describe('Http1Pool: close', () => {
  it('close(graceful) waits for a running exchange, then refuses new ones', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => {
      setTimeout(() => res.end('finished'), 200);
    });
    const pool = makePool(t, up.port);
    const order: string[] = [];
    const body: Buffer[] = [];
    pool.dispatch(
      { method: 'GET', path: '/', headers: {}, body: null },
      {
        onConnect() {},
        onHeaders: () => true,
        onData: (c) => body.push(c) > 0,
        onComplete: () => order.push(`complete:${Buffer.concat(body).toString()}`),
        onError: (err) => order.push(`error:${err.message}`),
      },
    );
    await sleep(50);
    let closed = false;
    const closing = pool.close(true).then(() => {
      closed = true;
      order.push('closed');
    });
    await sleep(80);
    assert.equal(closed, false, 'still waiting for the running exchange');
    await closing;
    assert.deepEqual(order, ['complete:finished', 'closed']);
    const err = await failure(send(pool, {}));
    assert.ok(err instanceof PoolClosedError);
    assert.equal(err.code, 'H1_POOL_CLOSED');
    await sleep(20);
    assert.equal(pool.stats.connections, 0);
  });

  it('close(graceful) with nothing running resolves at once and closes idle connections', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => res.end('x'));
    const pool = makePool(t, up.port);
    await send(pool, {});
    await pool.close(true);
    await sleep(20);
    assert.equal(pool.stats.connections, 0);
  });

  it('close(false) fails a running exchange at once', async (t) => {
    const up = await nodeUpstream(t, (_req, res) => {
      setTimeout(() => res.end('too late'), 1_000);
    });
    const pool = makePool(t, up.port);
    const p = send(pool, {});
    await sleep(50);
    await pool.close(false);
    const err = await failure(p);
    assert.ok(err instanceof Error);
    assert.equal(pool.stats.running, 0);
  });
});
