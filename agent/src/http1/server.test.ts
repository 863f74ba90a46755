import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage, STATUS_CODES } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { RequestTimeoutError } from './errors.js';
import { Http1Server, type Http1ServerOptions } from './server.js';
import type { Http1Request, Http1Response } from './server-message.js';

type Handler = (req: Http1Request, res: Http1Response) => void;

interface Refusal {
  status: number;
  message: string;
  kind: 'head' | 'timeout';
}

interface TestServer {
  server: Http1Server;
  port: number;
  refusals: Refusal[];
  connects: string[];
  /** Requests the handler saw, in order. */
  seen: Http1Request[];
}

const FAST_LIMITS = {
  maxHeaderBytes: 4096,
  maxHeaderCount: 20,
  headersTimeoutMs: 300,
  requestTimeoutMs: 600,
  keepAliveTimeoutMs: 300,
  checkIntervalMs: 50,
  maxBodyBytes: 64 * 1024 * 1024,
};

/** A real Http1Server on 127.0.0.1:0, torn down (every connection cut) when the test ends. */
async function serve(t: TestContext, handler: Handler, limits: Partial<typeof FAST_LIMITS> = {}): Promise<TestServer> {
  const refusals: Refusal[] = [];
  const connects: string[] = [];
  const seen: Http1Request[] = [];
  const opts: Http1ServerOptions = {
    ...FAST_LIMITS,
    // Generous defaults for tests that are not about timeouts.
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    keepAliveTimeoutMs: 10_000,
    ...limits,
    onRequest(req, res) {
      seen.push(req);
      handler(req, res);
    },
    refuse(socket, err) {
      const { status, message } = err;
      refusals.push({ status, message, kind: err instanceof RequestTimeoutError ? 'timeout' : 'head' });
      const body = `${message}\n`;
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nx-weft-error: bad_request\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
    onConnect(socket, target) {
      connects.push(target);
      socket.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    },
  };
  const server = new Http1Server(opts);
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return { server, port, refusals, connects, seen };
}

/** A raw TCP client that collects everything received (latin1) and can wait for it. */
class RawClient {
  data = '';
  closed = false;
  private wake: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      this.data += b.toString('latin1');
      this.notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static open(t: TestContext, port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      t.after(() => {
        socket.destroy();
      });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const fn of w) fn();
  }

  write(s: string | Buffer): void {
    this.socket.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  }

  /** Waits until `pred(data)` holds (or fails after `ms`, showing what arrived). */
  async until(pred: (data: string) => boolean, what: string, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.data)) {
      if (this.closed) assert.fail(`connection closed before ${what}; received ${JSON.stringify(this.data)}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}; received ${JSON.stringify(this.data)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async untilClosed(ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for the server to close; received ${JSON.stringify(this.data)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `n` complete responses in `data` (framed by their heads). */
  async responses(n: number, methods: string[] = []): Promise<RawResponse[]> {
    await this.until((d) => parseResponses(d, methods, this.closed).length >= n, `${n} response(s)`);
    return parseResponses(this.data, methods, this.closed);
  }
}

interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
  /** How the body was framed. */
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** The raw bytes of the body as sent (chunk lines included). */
  rawBody: string;
}

/** Splits `data` into complete responses (an independent, simple reader). */
function parseResponses(data: string, methods: string[], closed: boolean): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = data.slice(at, end);
    const lines = head.split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      const name = line.slice(0, c).toLowerCase();
      const value = line.slice(c + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let p = end + 4;
    if (status < 200) {
      at = p;
      continue;
    }
    const method = methods[out.length] ?? 'GET';
    let body = '';
    let framing: RawResponse['framing'];
    const bodyStart = p;
    if (method === 'HEAD' || status === 204 || status === 304) framing = 'none';
    else if (headers['transfer-encoding'] !== undefined) {
      framing = 'chunked';
      let complete = false;
      for (;;) {
        const eol = data.indexOf('\r\n', p);
        if (eol < 0) break;
        const size = Number.parseInt(data.slice(p, eol).split(';')[0]!, 16);
        if (size === 0) {
          const fin = data.indexOf('\r\n\r\n', eol);
          const finEmpty = data.startsWith('\r\n', eol + 2);
          if (finEmpty) p = eol + 4;
          else if (fin >= 0) p = fin + 4;
          else break;
          complete = true;
          break;
        }
        if (data.length < eol + 2 + size + 2) break;
        body += data.slice(eol + 2, eol + 2 + size);
        p = eol + 2 + size + 2;
      }
      if (!complete) break;
    } else if (headers['content-length'] !== undefined) {
      framing = 'length';
      const n = Number(headers['content-length']);
      if (data.length < p + n) break;
      body = data.slice(p, p + n);
      p += n;
    } else {
      framing = 'close';
      if (!closed) break;
      body = data.slice(p);
      p = data.length;
    }
    out.push({ status, head, headers, body, framing, rawBody: data.slice(bodyStart, p) });
    at = p;
  }
  return out;
}

function readAll(msg: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    msg.on('data', (c: Buffer) => parts.push(c));
    msg.on('end', () => resolve(Buffer.concat(parts)));
    msg.on('error', reject);
  });
}

/** One request with node:http's client; resolves with the response and its body. */
function nodeRequest(
  port: number,
  opts: { method?: string; path?: string; headers?: Record<string, string | number>; body?: (Buffer | string)[]; agent?: Agent },
): Promise<{ res: IncomingMessage; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: opts.agent },
      (res) => {
        readAll(res).then((body) => resolve({ res, body, reused: r.reusedSocket }), reject);
      },
    );
    r.on('error', reject);
    for (const part of opts.body ?? []) r.write(part);
    r.end();
  });
}

/** Reads the whole request body (readBody) as a Buffer. */
function readBody(req: Http1Request): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.readBody({
      onData: (c) => parts.push(Buffer.from(c)),
      onEnd: () => resolve(Buffer.concat(parts)),
      onAbort: () => reject(new Error('aborted')),
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('Http1Server: basic exchanges', () => {
  it('answers node:http requests and keeps the connection for the next one', async (t) => {
    const s = await serve(t, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': undefined });
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, x: req.headers['x-test'], v: req.httpVersion }));
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const a = await nodeRequest(s.port, { path: '/one?q=1', headers: { 'X-Test': 'yes' }, agent });
    assert.equal(a.res.statusCode, 200);
    assert.equal(a.res.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(JSON.parse(a.body.toString()), { method: 'GET', url: '/one?q=1', host: `127.0.0.1:${s.port}`, x: 'yes', v: '1.1' });
    const b = await nodeRequest(s.port, { method: 'DELETE', path: '/two', agent });
    assert.equal(b.reused, true, 'second request on the same connection');
    assert.equal(JSON.parse(b.body.toString()).method, 'DELETE');
  });

  it('writes statusCode, setHeader values and array headers', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.statusCode = 418;
      res.setHeader('X-Set', 'by-set');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      assert.equal(res.getHeader('x-set'), 'by-set');
      res.end('teapot');
      assert.equal(res.writableEnded, true);
      assert.equal(res.writableFinished, true);
      assert.throws(() => res.setHeader('x-late', '1'), /already sent/);
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 418);
    assert.match(r!.head, /^HTTP\/1\.1 418 I'm a Teapot\r\n/);
    assert.equal(r!.headers['x-set'], 'by-set');
    assert.equal(r!.headers['set-cookie'], 'a=1, b=2');
    assert.equal((r!.head.match(/set-cookie:/g) ?? []).length, 2);
    assert.equal(r!.body, 'teapot');
  });

  it('answers pipelined requests one at a time, in request order', async (t) => {
    let active = 0;
    let maxActive = 0;
    const delays: Record<string, number> = { '/1': 150, '/2': 0, '/3': 30 };
    const s = await serve(t, (req, res) => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => {
        active--;
        res.writeHead(200, { 'content-length': req.url.length });
        res.end(req.url);
      }, delays[req.url]);
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.responses(3);
    assert.deepEqual(
      rs.map((r) => r.body),
      ['/1', '/2', '/3'],
    );
    assert.equal(maxActive, 1);
    assert.deepEqual(
      s.seen.map((r) => r.url),
      ['/1', '/2', '/3'],
    );
    assert.equal(c.closed, false);
  });

  it('answers pipelined requests with content-length and chunked bodies, and synchronous answers', async (t) => {
    const s = await serve(t, (req, res) => {
      if (!req.hasBody) {
        res.end(`no body ${req.url}`);
        return;
      }
      readBody(req).then((b) => res.end(`${req.url}:${b.toString()}`));
    });
    const c = await RawClient.open(t, s.port);
    c.write(
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /b HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n' +
        'GET /d HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    const rs = await c.responses(4);
    assert.deepEqual(
      rs.map((r) => r.body),
      ['/a:hello', 'no body /b', '/c:abcde', 'no body /d'],
    );
  });

  it('reads a head and body that arrive in small pieces', async (t) => {
    const s = await serve(t, (req, res) => {
      readBody(req).then((b) => res.end(`${req.headers['x-long']}|${b.toString()}`));
    });
    const c = await RawClient.open(t, s.port);
    const msg = `POST /slow HTTP/1.1\r\nHost: x\r\nX-Long: ${'v'.repeat(50)}\r\nContent-Length: 11\r\n\r\nhello world`;
    for (let i = 0; i < msg.length; i += 3) {
      c.write(msg.slice(i, i + 3));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const [r] = await c.responses(1);
    assert.equal(r!.body, `${'v'.repeat(50)}|hello world`);
  });
});

describe('Http1Server: slow handlers and buffered pipelines', () => {
  it('does not time out a request whose handler is slow (deadlines cover receiving only)', async (t) => {
    const s = await serve(
      t,
      (req, res) => {
        readBody(req).then((b) => setTimeout(() => res.end(`late ${b.toString()}`), 700));
      },
      { headersTimeoutMs: 300, requestTimeoutMs: 400, checkIntervalMs: 50 },
    );
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 200);
    assert.equal(r!.body, 'late ok');
    assert.equal(s.refusals.length, 0);
  });

  it('buffers a large pipelined request while one is running, then serves it', async (t) => {
    const big = Buffer.alloc(200 * 1024, 'p');
    const s = await serve(t, (req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow done'), 100);
      else readBody(req).then((b) => res.end(`${b.length} ${sha(b) === sha(big)}`));
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    c.write(`POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n`);
    c.write(big);
    const rs = await c.responses(2);
    assert.equal(rs[0]!.body, 'slow done');
    assert.equal(rs[1]!.body, `${big.length} true`);
  });
});

describe('Http1Server: shared read buffer', () => {
  it('reads accepted sockets through the shared buffer on this Node (shared-read-accept.ts)', async (t) => {
    const s = await serve(t, (_req, res) => res.end('ok'));
    assert.equal(s.server.sharedReads, true, 'the accept hook did not install: the proxy runs on the slower Readable path');
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.body, 'ok');
  });

  it("keeps every connection's held bytes intact while others read (bodies queued, partial heads, pipelines)", async (t) => {
    // Handlers read bodies late, so chunks stay queued while other connections' reads reuse the buffer.
    const s = await serve(t, (req, res) => {
      setTimeout(() => readBody(req).then((b) => res.end(`${req.url} ${b.length} ${sha(b)}`)), 30);
    });
    const bodies = [0, 1, 2, 3, 4, 5].map((n) => {
      const b = Buffer.alloc(40 * 1024 + n * 977);
      for (let i = 0; i < b.length; i++) b[i] = (i * (n + 3) + n) & 0xff;
      return b;
    });
    const clients = await Promise.all(bodies.map(() => RawClient.open(t, s.port)));
    // Each client: a head split mid-line, its body in pieces, and a second (pipelined) request behind it.
    for (let step = 0; step < 4; step++) {
      clients.forEach((c, n) => {
        const body = bodies[n]!;
        const head = `POST /c${n} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`;
        if (step === 0) c.write(head.slice(0, 20));
        else if (step === 1) c.write(Buffer.concat([Buffer.from(head.slice(20), 'latin1'), body.subarray(0, 1000)]));
        else if (step === 2) c.write(body.subarray(1000, 30_000));
        else
          c.write(
            Buffer.concat([
              body.subarray(30_000),
              Buffer.from(`POST /c${n}-2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nh${n}abc`, 'latin1'),
            ]),
          );
      });
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(
      clients.map(async (c, n) => {
        const rs = await c.responses(2);
        assert.equal(rs[0]!.body, `/c${n} ${bodies[n]!.length} ${sha(bodies[n]!)}`);
        assert.equal(rs[1]!.body, `/c${n}-2 5 ${sha(Buffer.from(`h${n}abc`))}`);
      }),
    );
  });
});

describe('Http1Server: request bodies', () => {
  it('streams a large request body with backpressure (no data while paused)', async (t) => {
    const size = 4 * 1024 * 1024;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 7 + (i >> 10)) & 0xff;
    let pausedChecked = false;
    const s = await serve(t, (req, res) => {
      assert.equal(req.contentLength, size);
      assert.equal(req.hasBody, true);
      assert.equal(req.complete, false);
      const parts: Buffer[] = [];
      let calls = 0;
      req.readBody({
        onData(chunk) {
          calls++;
          parts.push(Buffer.from(chunk));
          if (calls === 1) {
            req.pause();
            assert.equal(req.isPaused(), true);
            const atPause = calls;
            setTimeout(() => {
              assert.equal(calls, atPause, 'no body data while paused');
              pausedChecked = true;
              req.resume();
              assert.equal(req.isPaused(), false);
            }, 150);
          }
        },
        onEnd() {
          const body = Buffer.concat(parts);
          assert.equal(req.complete, true);
          res.end(`${body.length} ${sha(body)}`);
        },
        onAbort() {
          res.destroy();
        },
      });
    });
    const r = await nodeRequest(s.port, { method: 'PUT', headers: { 'content-length': size }, body: [payload] });
    assert.equal(r.body.toString(), `${size} ${sha(payload)}`);
    assert.equal(pausedChecked, true);
  });

  it('queues body bytes that arrive before readBody and delivers them first, in order', async (t) => {
    const size = 300 * 1024;
    const payload = Buffer.alloc(size, 'q');
    for (let i = 0; i < size; i += 997) payload[i] = 65 + ((i / 997) % 26);
    const s = await serve(t, (req, res) => {
      setTimeout(() => readBody(req).then((b) => res.end(sha(b))), 200);
    });
    const r = await nodeRequest(s.port, { method: 'POST', headers: { 'content-length': size }, body: [payload] });
    assert.equal(r.body.toString(), sha(payload));
  });

  it('refuses a second readBody', async (t) => {
    const s = await serve(t, (req, res) => {
      readBody(req).then(() => {
        assert.throws(() => req.readBody({ onData() {}, onEnd() {}, onAbort() {} }), /already being read/);
        res.end('ok');
      });
    });
    const r = await nodeRequest(s.port, { method: 'POST', body: ['abc'] });
    assert.equal(r.body.toString(), 'ok');
  });

  it('decodes a chunked request body from node:http (no content-length)', async (t) => {
    const s = await serve(t, (req, res) => {
      assert.equal(req.contentLength, -1);
      assert.equal(req.hasBody, true);
      readBody(req).then((b) => res.end(`${req.headers['transfer-encoding']}|${b.toString()}`));
    });
    const r = await nodeRequest(s.port, { method: 'POST', body: ['part one, ', Buffer.from('part two, '), 'three'] });
    assert.equal(r.body.toString(), 'chunked|part one, part two, three');
  });

  it('decodes a chunked body with extensions and trailers sent in pieces, then serves the next request', async (t) => {
    const s = await serve(t, (req, res) => {
      readBody(req).then((b) => res.end(`[${b.toString()}]`));
    });
    const c = await RawClient.open(t, s.port);
    const pieces = [
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      '4;ext=1\r',
      '\nwiki\r\n5\r\npe',
      'dia\r\n0\r\nX-Trailer: t\r\n',
      '\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    for (const p of pieces) {
      c.write(p);
      await sleep(10);
    }
    const rs = await c.responses(2);
    assert.equal(rs[0]!.body, '[wikipedia]');
    assert.equal(rs[1]!.body, '[]');
  });

  it('answers 400 to a malformed chunked body and closes (the handler sees an abort)', async (t) => {
    let aborted = false;
    let closedWith: boolean | undefined;
    const s = await serve(t, (req, res) => {
      res.onClose = (finished) => {
        closedWith = finished;
      };
      req.readBody({
        onData() {},
        onEnd() {
          res.end('unexpected');
        },
        onAbort() {
          aborted = true;
        },
      });
    });
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 400);
    assert.match(r!.body, /malformed chunked request body \(invalid chunk size\)/);
    assert.equal(aborted, true);
    assert.equal(closedWith, false);
  });

  it('answers 413 to a content-length over maxBodyBytes before the handler sees the request', async (t) => {
    const s = await serve(t, (_req, res) => res.end('unexpected'), { maxBodyBytes: 10 });
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 413);
    assert.match(r!.body, /request body of 11 bytes is larger than the limit of 10 bytes/);
    assert.equal(s.seen.length, 0);
  });

  it('aborts a chunked body that grows past maxBodyBytes (the reader sees an abort, never an end) and answers 413', async (t) => {
    let aborted = false;
    const got: string[] = [];
    const s = await serve(
      t,
      (req, res) => {
        req.readBody({
          onData(chunk) {
            got.push(chunk.toString());
          },
          onEnd() {
            res.end('unexpected');
          },
          onAbort() {
            aborted = true;
          },
        });
      },
      { maxBodyBytes: 10 },
    );
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello,\r\n6\r\nworld!\r\n0\r\n\r\n');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 413);
    assert.equal(aborted, true);
    assert.deepEqual(got, ['hello,']);
  });

  it('sends 100 Continue for expect: 100-continue before the body arrives', async (t) => {
    const s = await serve(t, (req, res) => {
      assert.equal(req.complete, false);
      readBody(req).then((b) => res.end(`got ${b.toString()}`));
    });
    const c = await RawClient.open(t, s.port);
    c.write('POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.until((d) => d.includes('\r\n\r\n'), 'the interim response');
    assert.equal(c.data, 'HTTP/1.1 100 Continue\r\n\r\n');
    assert.equal(s.seen.length, 1, 'the handler has the request already');
    c.write('hello');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 200);
    assert.equal(r!.body, 'got hello');
  });

  it("works with node:http's expect: 100-continue flow", async (t) => {
    const s = await serve(t, (req, res) => {
      readBody(req).then((b) => res.end(b.toString().toUpperCase()));
    });
    const result = await new Promise<string>((resolve, reject) => {
      const r = httpRequest(
        { host: '127.0.0.1', port: s.port, method: 'POST', headers: { expect: '100-continue', 'content-length': 4 } },
        (res) => {
          readAll(res).then((b) => resolve(b.toString()), reject);
        },
      );
      r.on('continue', () => r.end('abcd'));
      r.on('error', reject);
    });
    assert.equal(result, 'ABCD');
  });

  it('answers 417 to any other expectation without calling the handler, and closes', async (t) => {
    const s = await serve(t, (_req, res) => res.end('no'));
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nExpect: fancy-thing\r\nContent-Length: 2\r\n\r\nhi');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 417);
    assert.match(r!.body, /expect: "fancy-thing" is not supported \(only 100-continue\)/);
    assert.equal(s.seen.length, 0);
    assert.deepEqual(
      s.refusals.map((x) => [x.status, x.kind]),
      [[417, 'head']],
    );
  });

  it('closes the connection after an early answer that left the body unread', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHead(413, { 'content-length': 8 });
      res.end('too big!');
    });
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 413);
    await c.untilClosed();
  });

  it('says connection: close on an early answer that left the body unread (the server closes after it)', async (t) => {
    // The connection is closed after this response (server-connection responseDone: request incomplete),
    // so the head should tell the client; without it a keep-alive client may send its next request into the close.
    const s = await serve(t, (_req, res) => {
      res.writeHead(413, { 'content-length': 8 });
      res.end('too big!');
    });
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial');
    const [r] = await c.responses(1);
    assert.equal(r!.headers.connection, 'close', `head was ${JSON.stringify(r!.head)}`);
  });

  it('says connection: close after discardBody (early answer) and closes', async (t) => {
    const s = await serve(t, (req, res) => {
      req.discardBody();
      res.writeHead(403, { 'content-length': 2 });
      res.end('no');
    });
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial');
    const [r] = await c.responses(1);
    assert.equal(r!.status, 403);
    assert.equal(r!.headers.connection, 'close');
    await c.untilClosed();
  });
});

describe('Http1Server: refusals before the handler', () => {
  it('answers 400 to a smuggling-prone head, names the problem and closes', async (t) => {
    const s = await serve(t, (_req, res) => res.end('no'));
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 400);
    assert.match(r!.body, /both content-length and transfer-encoding/);
    assert.equal(s.seen.length, 0);
  });

  it('answers 400 to a bad head after a good request on the same connection', async (t) => {
    const s = await serve(t, (_req, res) => res.end('ok'));
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost : x\r\n\r\n');
    const rs = await c.responses(2);
    await c.untilClosed();
    assert.equal(rs[0]!.status, 200);
    assert.equal(rs[1]!.status, 400);
    assert.match(rs[1]!.body, /invalid header name "Host "/);
  });

  it('answers 431 to a head larger than maxHeaderBytes, before it is complete', async (t) => {
    const s = await serve(t, (_req, res) => res.end('no'), { maxHeaderBytes: 1024 });
    const c = await RawClient.open(t, s.port);
    c.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}`);
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 431);
    assert.match(r!.body, /request head larger than 1024 bytes/);
    assert.equal(s.seen.length, 0);
  });

  it('answers 431 to a complete head larger than maxHeaderBytes, and accepts one just under', async (t) => {
    const s = await serve(t, (_req, res) => res.end('ok'), { maxHeaderBytes: 1024 });
    const base = 'GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ';
    const ok = await RawClient.open(t, s.port);
    ok.write(`${base}${'p'.repeat(1024 - base.length)}\r\n\r\n`);
    assert.equal((await ok.responses(1))[0]!.status, 200);
    const big = await RawClient.open(t, s.port);
    big.write(`${base}${'p'.repeat(1100 - base.length)}\r\n\r\n`);
    assert.equal((await big.responses(1))[0]!.status, 431);
  });

  it('answers 431 to more header fields than maxHeaderCount', async (t) => {
    const s = await serve(t, (_req, res) => res.end('no'), { maxHeaderCount: 5 });
    const c = await RawClient.open(t, s.port);
    const fields = Array.from({ length: 6 }, (_, i) => `X-${i}: ${i}\r\n`).join('');
    c.write(`GET / HTTP/1.1\r\n${fields}\r\n`);
    const [r] = await c.responses(1);
    assert.equal(r!.status, 431);
    assert.match(r!.body, /more than 5 header fields/);
  });

  it('answers 408 to a head that does not complete in time, and closes', async (t) => {
    const s = await serve(t, (_req, res) => res.end('no'), { headersTimeoutMs: 300, checkIntervalMs: 50 });
    const c = await RawClient.open(t, s.port);
    const started = Date.now();
    c.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 408);
    assert.match(r!.body, /request not received in time \(head within 300 ms/);
    assert.ok(Date.now() - started >= 250, 'not before the deadline');
    assert.deepEqual(
      s.refusals.map((x) => [x.status, x.kind]),
      [[408, 'timeout']],
    );
  });

  it('answers 408 to a body that does not complete in time; the handler sees the abort', async (t) => {
    let aborted = false;
    let closedWith: boolean | undefined;
    const s = await serve(
      t,
      (req, res) => {
        res.onClose = (f) => {
          closedWith = f;
        };
        req.readBody({ onData() {}, onEnd() {}, onAbort: () => (aborted = true) });
      },
      { headersTimeoutMs: 300, requestTimeoutMs: 600, checkIntervalMs: 50 },
    );
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 408);
    assert.equal(aborted, true);
    assert.equal(closedWith, false);
  });

  it('hands CONNECT to onConnect without calling the handler', async (t) => {
    const s = await serve(t, (_req, res) => res.end('no'));
    const c = await RawClient.open(t, s.port);
    c.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.status, 405);
    assert.deepEqual(s.connects, ['example.com:443']);
    assert.equal(s.seen.length, 0);
  });

  it('gives the CONNECT callee the bytes sent with the head, every later chunk, and the client half-close', async (t) => {
    const got: string[] = [];
    const server = new Http1Server({
      ...FAST_LIMITS,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
      keepAliveTimeoutMs: 10_000,
      onRequest: (_req, res) => res.end('no'),
      refuse: (socket) => socket.destroy(),
      onConnect(_socket, _target, connect) {
        const tunnel = connect.accept('HTTP/1.1 200 Connection Established\r\n\r\n');
        tunnel.start({
          onData(chunk) {
            got.push(chunk.toString('latin1'));
            tunnel.write(Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'));
            return true;
          },
          onEnd: () => {
            tunnel.write(Buffer.from('[end]'));
            tunnel.end();
          },
          onClose: () => {},
        });
      },
    });
    const { port } = await server.listen(0, '127.0.0.1');
    t.after(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    );
    const c = await RawClient.open(t, port);
    c.write('CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\nearly');
    await c.until((d) => d.includes('200 Connection Established'), 'the 200');
    c.write('later');
    await c.until((d) => d.endsWith('LATER'), 'the echo of a later chunk');
    c.socket.end();
    await c.untilClosed();
    assert.deepEqual(got, ['early', 'later']);
    assert.ok(c.data.endsWith('LATER[end]'), c.data);
  });
});

describe('Http1Server: connection lifetime', () => {
  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async (t) => {
    const s = await serve(t, (_req, res) => res.end('ok'), { keepAliveTimeoutMs: 300, checkIntervalMs: 50 });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.responses(1);
    const answered = Date.now();
    await c.untilClosed();
    assert.ok(Date.now() - answered >= 200, 'not closed right after the response');
    assert.equal(parseResponses(c.data, [], true).length, 1, 'nothing sent on close');
  });

  it('closes a connection that never sends anything after headersTimeoutMs, without an answer', async (t) => {
    const s = await serve(t, (_req, res) => res.end('ok'), { headersTimeoutMs: 300, checkIntervalMs: 50 });
    const c = await RawClient.open(t, s.port);
    await c.untilClosed();
    assert.equal(c.data, '');
    assert.equal(s.refusals.length, 0);
  });

  it('closes after a response to a request with connection: close', async (t) => {
    const s = await serve(t, (_req, res) => res.end('bye'));
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [r] = await c.responses(1);
    await c.untilClosed();
    assert.equal(r!.headers.connection, 'close');
    assert.equal(r!.body, 'bye');
  });

  it('closes after a response whose handler set connection: close', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { Connection: 'close', 'content-length': 2 });
      res.end('ok');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.untilClosed();
    const rs = parseResponses(c.data, [], true);
    assert.equal(rs.length, 1);
    assert.equal(rs[0]!.headers.connection, 'close');
    assert.equal((rs[0]!.head.match(/connection/gi) ?? []).length, 1, 'one connection header');
    assert.equal(s.seen.length, 1);
  });

  it('aborts the exchange when the client sends FIN mid-request (res.onClose(false))', async (t) => {
    const events: string[] = [];
    let resolveClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const s = await serve(t, (req, res) => {
      res.onClose = (finished) => {
        events.push(`close:${finished}`);
        assert.equal(req.aborted, true);
        resolveClosed();
      };
      req.readBody({
        onData: (c) => events.push(`data:${c.toString()}`),
        onEnd: () => events.push('end'),
        onAbort: () => events.push('abort'),
      });
    });
    const c = await RawClient.open(t, s.port);
    c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    await new Promise<void>((resolve) => {
      const check = () => (events.length > 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    c.socket.end();
    await closed;
    assert.deepEqual(events, ['data:abc', 'abort', 'close:false']);
  });

  it('treats FIN after a complete request as the client gone (res.onClose(false), writes ignored)', async (t) => {
    let resolveClosed: (f: boolean) => void = () => {};
    const closed = new Promise<boolean>((resolve) => {
      resolveClosed = resolve;
    });
    let respond: () => void = () => {};
    const s = await serve(t, (_req, res) => {
      res.onClose = (finished) => resolveClosed(finished);
      respond = () => res.end('late');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => {
      const check = () => (s.seen.length > 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    c.socket.end();
    assert.equal(await closed, false);
    respond();
    await c.untilClosed();
    assert.equal(c.data, '');
  });

  it('reports res.onClose(true) for a finished response', async (t) => {
    const finished: boolean[] = [];
    const s = await serve(t, (_req, res) => {
      res.onClose = (f) => finished.push(f);
      res.end('x');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.responses(1);
    assert.deepEqual(finished, [true]);
  });

  it('closeIdleConnections closes only connections between requests; closeAllConnections cuts the rest', async (t) => {
    let respond: () => void = () => {};
    const s = await serve(t, (req, res) => {
      if (req.url === '/slow') respond = () => res.end('slow');
      else res.end('fast');
    });
    const idle = await RawClient.open(t, s.port);
    idle.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.responses(1);
    const busy = await RawClient.open(t, s.port);
    busy.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => {
      const check = () => (s.seen.length === 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    s.server.closeIdleConnections();
    await idle.untilClosed();
    await sleep(50);
    assert.equal(busy.closed, false);
    respond();
    const [r] = await busy.responses(1);
    assert.equal(r!.body, 'slow');
    s.server.closeAllConnections();
    await busy.untilClosed();
  });
});

describe('Http1Server: response framing', () => {
  it('never sends more body bytes than the declared content-length: the extra write destroys the connection', async (t) => {
    let wrote: boolean | undefined;
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { 'content-length': 5 });
      res.write('hello');
      wrote = res.write('EXTRA');
      res.end();
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.untilClosed();
    assert.equal(wrote, false);
    assert.ok(c.data.endsWith('\r\n\r\nhello'), JSON.stringify(c.data));
    assert.ok(!c.data.includes('EXTRA'));
  });

  it('destroys the connection when a response ends short of its declared content-length (lines given)', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHeadLines(200, { lines: 'content-length: 10\r\n', hasLength: true });
      res.end('short');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.untilClosed();
    assert.ok(!c.data.includes('short'), 'a short body is not sent as if complete');
  });

  it('answers HEAD without a body and keeps the connection for the next request', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { 'content-length': 5, 'content-type': 'text/plain' });
      res.end('hello');
    });
    const c = await RawClient.open(t, s.port);
    c.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.responses(2, ['HEAD', 'GET']);
    assert.equal(rs[0]!.headers['content-length'], '5');
    assert.equal(rs[0]!.rawBody, '');
    assert.equal(rs[1]!.body, 'hello');
    assert.equal(c.data.indexOf('hello'), c.data.length - 5, 'the only body is the GET one');
  });

  it('answers HEAD without content-length with neither a body nor chunked framing', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.write('ignored');
      res.end('also ignored');
    });
    const c = await RawClient.open(t, s.port);
    c.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.responses(2, ['HEAD', 'GET']);
    assert.equal(rs[0]!.headers['transfer-encoding'], undefined);
    assert.equal(rs[0]!.rawBody, '');
    assert.equal(rs[1]!.body, 'ignoredalso ignored');
  });

  it('sends no body for 204 and 304 and keeps the connection', async (t) => {
    const s = await serve(t, (req, res) => {
      res.writeHead(req.url === '/204' ? 204 : 304);
      res.end('must not be sent');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.responses(2);
    await sleep(30);
    assert.deepEqual(
      rs.map((r) => r.status),
      [204, 304],
    );
    assert.equal(c.data.includes('must not'), false);
    assert.equal(c.data.includes('transfer-encoding'), false);
    assert.equal(c.closed, false);
  });

  it('chunks a response without content-length (HTTP/1.1)', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { 'x-a': 'b' });
      res.write('hello');
      res.write(Buffer.from(' world'));
      res.write('');
      res.end('!');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.head, 'HTTP/1.1 200 OK\r\nx-a: b\r\ntransfer-encoding: chunked');
    assert.equal(r!.rawBody, '5\r\nhello\r\n6\r\n world\r\n1\r\n!\r\n0\r\n\r\n');
    assert.equal(r!.body, 'hello world!');
  });

  it('frames multi-byte string chunks by their byte length', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.write('héllo ');
      res.end('wörld ✓');
    });
    const r = await nodeRequest(s.port, {});
    assert.equal(r.body.toString('utf8'), 'héllo wörld ✓');
  });

  it('ends an empty chunked response with only the last chunk', async (t) => {
    const s = await serve(t, (_req, res) => res.end());
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.rawBody, '0\r\n\r\n');
  });

  it('sends a content-length response as is, head and body (large bodies too)', async (t) => {
    const big = Buffer.alloc(100_000, 'z');
    const s = await serve(t, (req, res) => {
      const body = req.url === '/big' ? big : Buffer.from('small');
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET /small HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.responses(2);
    assert.equal(rs[0]!.head, 'HTTP/1.1 200 OK\r\ncontent-length: 5');
    assert.equal(rs[0]!.body, 'small');
    assert.equal(rs[1]!.body.length, 100_000);
  });

  it('gives an HTTP/1.0 client a close-delimited response and closes', async (t) => {
    const s = await serve(t, (req, res) => {
      assert.equal(req.httpVersion, '1.0');
      assert.equal(req.keepAlive, false);
      res.write('part-a ');
      res.end('part-b');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.0\r\n\r\n');
    await c.untilClosed();
    const [r] = parseResponses(c.data, [], true);
    assert.equal(r!.framing, 'close');
    assert.equal(r!.headers['transfer-encoding'], undefined);
    assert.equal(r!.headers.connection, 'close');
    assert.equal(r!.body, 'part-a part-b');
  });

  it('keeps an HTTP/1.0 keep-alive connection when the response has a content-length', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.headers.connection, 'keep-alive');
    c.write('GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const rs = await c.responses(2);
    assert.equal(rs[1]!.body, 'ok');
    assert.equal(s.seen.length, 2);
  });

  it('closes an HTTP/1.0 keep-alive connection when the response has no content-length', async (t) => {
    const s = await serve(t, (_req, res) => res.end('until close'));
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await c.untilClosed();
    const [r] = parseResponses(c.data, [], true);
    assert.equal(r!.headers.connection, 'close');
    assert.equal(r!.body, 'until close');
  });

  it('respects backpressure on large responses (write false, then drain)', async (t) => {
    const chunk = Buffer.alloc(256 * 1024, 'r');
    const total = 32;
    let sawFalse = false;
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { 'content-length': chunk.length * total });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent++;
          if (sent === total) {
            res.end(chunk);
            return;
          }
          if (!res.write(chunk)) {
            sawFalse = true;
            res.on('drain', function onDrain() {
              res.off('drain', onDrain);
              pump();
            });
            return;
          }
        }
      };
      pump();
    });
    const r = await nodeRequest(s.port, {});
    assert.equal(r.body.length, chunk.length * total);
    assert.equal(sawFalse, true);
  });

  it('writes a head from prepared lines (writeHeadLines); setHeader values replace same-named lines', async (t) => {
    const s = await serve(t, (req, res) => {
      if (req.url === '/set') res.setHeader('x-b', 'replaced');
      res.writeHeadLines(201, { lines: 'x-a: 1\r\nx-b: 2\r\ncontent-length: 4\r\n', hasLength: true });
      res.end('made');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET /plain HTTP/1.1\r\nHost: x\r\n\r\nGET /set HTTP/1.1\r\nHost: x\r\n\r\n');
    const rs = await c.responses(2);
    assert.equal(rs[0]!.head, 'HTTP/1.1 201 Created\r\nx-a: 1\r\nx-b: 2\r\ncontent-length: 4');
    assert.equal(rs[0]!.body, 'made');
    assert.equal(rs[1]!.headers['x-a'], '1');
    assert.equal(rs[1]!.headers['x-b'], 'replaced');
    assert.equal(rs[1]!.headers['transfer-encoding'], undefined);
    assert.equal(rs[1]!.body, 'made');
  });

  it('rejects write after end and a second writeHead', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { 'content-length': 1 });
      assert.throws(() => res.writeHead(201), /already sent/);
      res.end('x');
      assert.throws(() => res.write('y'), /write after end/);
      res.end('z');
    });
    const c = await RawClient.open(t, s.port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [r] = await c.responses(1);
    assert.equal(r!.body, 'x');
  });
});

describe('Http1Server: lead review additions', () => {
  it('ignores empty lines before a request line (RFC 9112 §2.2)', async (t) => {
    const s = await serve(t, (_req, res) => {
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    });
    const c = await RawClient.open(t, s.port);
    c.write('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.until((d) => d.endsWith('ok'), 'the answer');
    assert.match(c.data, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(s.refusals.length, 0);
  });
});
