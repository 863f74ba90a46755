import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  type ClientHttp2Session,
  constants,
  type Http2Server,
  connect as h2connect,
  createServer as h2createServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type Settings,
} from 'node:http2';
import { type AddressInfo, connect as netConnect, createServer as netCreateServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { H2Connection } from '@weft/shared/http2-codec/connection';
import { Flag, FrameType, H2Error, PREFACE } from '@weft/shared/http2-codec/frames';
import { HpackDecoder, HpackEncoder } from '@weft/shared/http2-codec/hpack';
import type { H2ClientStream, H2ServerStream } from '@weft/shared/http2-codec/stream';
import { CODEC_SETTINGS, STREAM_WINDOW } from './h2-settings.js';

// ---- helpers ----

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects after `ms` (a hung exchange fails the test instead of the run). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.once('end', () => resolve(Buffer.concat(parts)));
    stream.once('error', reject);
  });
}

/** A net server whose connections are H2Connection servers; `close` cuts everything. */
async function codecServer(onStream: (stream: H2ServerStream, headers: IncomingHttpHeaders) => void) {
  const sockets = new Set<Socket>();
  const connections: H2Connection[] = [];
  const server: Server = netCreateServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const conn = new H2Connection({ role: 'server', socket, settings: CODEC_SETTINGS, onStream });
    conn.on('error', () => {});
    connections.push(conn);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    connections,
    async close() {
      for (const c of connections) c.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A node:http2 server; `close` destroys its sessions. */
async function nodeServer(onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void, settings?: Settings) {
  const sessions = new Set<ServerHttp2Session>();
  const server: Http2Server = h2createServer(settings === undefined ? {} : { settings });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    onStream(stream, headers);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    sessions,
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A TCP proxy to `port` whose client -> server direction can be held: bytes written while held are kept until
 * `release`. `held(n)` resolves once at least `n` frame headers' worth of writes were kept (one write per frame batch).
 */
async function gatedProxy(port: number) {
  const sockets = new Set<Socket>();
  let holding = false;
  const kept: Buffer[] = [];
  let upstream: Socket | undefined;
  let onKept: () => void = () => {};
  const server = netCreateServer((down) => {
    const up = netConnect(port, '127.0.0.1');
    upstream = up;
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        down.destroy();
        up.destroy();
      });
    }
    up.pipe(down);
    down.on('data', (d: Buffer) => {
      if (holding) {
        kept.push(d);
        onKept();
      } else up.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    hold() {
      holding = true;
    },
    /** Resolves once the held bytes hold `n` HEADERS frames. */
    held(n: number): Promise<void> {
      const count = () => {
        const all = Buffer.concat(kept);
        let frames = 0;
        for (let at = 0; at + 9 <= all.length; at += 9 + all.readUIntBE(at, 3)) if (all[at + 3] === FrameType.HEADERS) frames++;
        return frames;
      };
      return new Promise((resolve) => {
        onKept = () => {
          if (count() >= n) resolve();
        };
        onKept();
      });
    },
    release() {
      holding = false;
      for (const b of kept.splice(0)) upstream?.write(b);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function codecClient(port: number): H2Connection {
  const socket = netConnect(port, '127.0.0.1');
  const conn = new H2Connection({ role: 'client', socket, settings: CODEC_SETTINGS, authority: `127.0.0.1:${port}` });
  conn.on('error', () => {});
  return conn;
}

function nodeClient(port: number): ClientHttp2Session {
  const client = h2connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  return client;
}

/** Response head and body of a codec client stream. */
async function exchange(stream: H2ClientStream): Promise<{ head: IncomingHttpHeaders; body: Buffer; trailers?: IncomingHttpHeaders }> {
  let trailers: IncomingHttpHeaders | undefined;
  stream.on('trailers', (t: IncomingHttpHeaders) => {
    trailers = t;
  });
  const head = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('close', () => reject(new Error(`stream closed before its response (rstCode ${stream.rstCode})`)));
  });
  const body = await readAll(stream);
  return trailers === undefined ? { head, body } : { head, body, trailers };
}

/** Response head, body and trailers of a node:http2 client request. */
function nodeExchange(req: ReturnType<ClientHttp2Session['request']>) {
  return new Promise<{ head: IncomingHttpHeaders; body: Buffer; trailers?: IncomingHttpHeaders }>((resolve, reject) => {
    let head: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    const parts: Buffer[] = [];
    req.on('response', (h) => {
      head = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      if (head === undefined) reject(new Error('no response head'));
      else resolve(trailers === undefined ? { head, body: Buffer.concat(parts) } : { head, body: Buffer.concat(parts), trailers });
    });
    req.on('error', reject);
  });
}

// ---- raw frames ----

function rawFrame(type: number, flags: number, streamId: number, payload: Buffer | number[] = []): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, p]);
}

const CLIENT_START = Buffer.concat([PREFACE, rawFrame(FrameType.SETTINGS, 0, 0)]);

function request(path: string, extra: Array<[string, string]> = []): Array<[string, string]> {
  return [[':method', 'GET'], [':scheme', 'http'], [':authority', 'test'], [':path', path], ...extra];
}

interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw TCP peer that parses the frames it receives. */
class RawPeer {
  readonly socket: Socket;
  readonly frames: RawFrame[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  readonly encoder = new HpackEncoder();
  readonly decoder = new HpackDecoder();

  constructor(port: number) {
    this.socket = netConnect(port, '127.0.0.1');
    this.socket.on('error', () => {});
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const length = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + length) break;
        this.frames.push({
          type: this.buf[3]!,
          flags: this.buf[4]!,
          streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(this.buf.subarray(9, 9 + length)),
        });
        this.buf = this.buf.subarray(9 + length);
      }
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs));
  }

  headers(streamId: number, fields: Array<[string, string]>, endStream: boolean): Buffer {
    return rawFrame(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId, this.encoder.encode(fields));
  }

  /** The first frame (not yet taken) that is not the server's SETTINGS / SETTINGS ACK / connection WINDOW_UPDATE and matches `pred`. */
  async next(pred: (f: RawFrame) => boolean = () => true, ms = 2000): Promise<RawFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex(
        (f) => f.type !== FrameType.SETTINGS && !(f.type === FrameType.WINDOW_UPDATE && f.streamId === 0) && pred(f),
      );
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) throw new Error('connection closed before the frame came');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no such frame in time');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitClosed(ms = 2000): Promise<void> {
    await within(
      new Promise<void>((r) => {
        if (this.closed) r();
        else this.socket.once('close', () => r());
      }),
      ms,
      'the server closes the connection',
    );
  }

  /** The GOAWAY the server sent: its error code; then the connection closes. */
  async goaway(): Promise<number> {
    const f = await this.next((x) => x.type === FrameType.GOAWAY);
    await this.waitClosed();
    return f.payload.readUInt32BE(4);
  }

  /** A stream's response head, decoded (every HEADERS the peer sends must go through the decoder, in order). */
  async responseHead(streamId: number): Promise<Map<string, string>> {
    const f = await this.next((x) => x.type === FrameType.HEADERS && x.streamId === streamId);
    assert.ok(f.flags & Flag.END_HEADERS, 'one HEADERS frame');
    return new Map(this.decoder.decode(f.payload, 1 << 20));
  }

  async rstCode(streamId: number): Promise<number> {
    const f = await this.next((x) => x.type === FrameType.RST_STREAM && x.streamId === streamId);
    return f.payload.readUInt32BE(0);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---- tests ----

describe('node:http2 client -> H2Connection server', () => {
  it('GET without a body', async () => {
    let seen: IncomingHttpHeaders | undefined;
    let endAfterHeaders: boolean | undefined;
    const srv = await codecServer((stream, headers) => {
      seen = headers;
      endAfterHeaders = stream.endAfterHeaders;
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-served-by': 'codec' });
      stream.end('hello from the codec');
    });
    const client = nodeClient(srv.port);
    try {
      const res = await within(nodeExchange(client.request({ ':path': '/hello?x=1', 'x-custom': 'abc' })), 5000, 'GET');
      assert.equal(res.head[':status'], 200);
      assert.equal(res.head['x-served-by'], 'codec');
      assert.equal(res.body.toString(), 'hello from the codec');
      assert.equal(seen?.[':method'], 'GET');
      assert.equal(seen?.[':path'], '/hello?x=1');
      assert.equal(seen?.['x-custom'], 'abc');
      assert.equal(endAfterHeaders, true);
    } finally {
      client.destroy();
      await srv.close();
    }
  });

  it('POST of 3 MiB echoed back (more than the stream window: WINDOW_UPDATEs flow)', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const srv = await codecServer((stream) => {
      stream.respond({ ':status': 200 });
      stream.pipe(stream);
    });
    const client = nodeClient(srv.port);
    try {
      const req = client.request({ ':method': 'POST', ':path': '/echo' });
      req.end(body);
      const res = await within(nodeExchange(req), 10_000, 'echo');
      assert.equal(res.head[':status'], 200);
      assert.equal(res.body.length, body.length);
      assert.ok(res.body.equals(body), 'the echo is the body');
    } finally {
      client.destroy();
      await srv.close();
    }
  });

  it('response trailers (waitForTrailers, wantTrailers, sendTrailers)', async () => {
    const srv = await codecServer((stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc123', 'grpc-status': '0' }));
      stream.end('body before trailers');
    });
    const client = nodeClient(srv.port);
    try {
      const res = await within(nodeExchange(client.request({ ':path': '/t' }, { endStream: true })), 5000, 'trailers');
      assert.equal(res.body.toString(), 'body before trailers');
      assert.equal(res.trailers?.['x-checksum'], 'abc123');
      assert.equal(res.trailers?.['grpc-status'], '0');
    } finally {
      client.destroy();
      await srv.close();
    }
  });

  it('request trailers from the client reach the server stream as trailers', async () => {
    let trailers: IncomingHttpHeaders | undefined;
    let body = '';
    const srv = await codecServer((stream) => {
      stream.on('trailers', (t: IncomingHttpHeaders) => {
        trailers = t;
      });
      stream.on('data', (d: Buffer) => {
        body += d.toString();
      });
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end(`got ${body.length}`);
      });
    });
    const client = nodeClient(srv.port);
    try {
      const req = client.request({ ':method': 'POST', ':path': '/up' }, { waitForTrailers: true });
      req.on('wantTrailers', () => req.sendTrailers({ 'x-sum': '42' }));
      req.end('upload');
      const res = await within(nodeExchange(req), 5000, 'request trailers');
      assert.equal(res.body.toString(), 'got 6');
      assert.equal(trailers?.['x-sum'], '42');
    } finally {
      client.destroy();
      await srv.close();
    }
  });

  it('a client cancel closes the server stream with rstCode 8', async () => {
    let serverStream: H2ServerStream | undefined;
    let closedResolve: (code: number | undefined) => void = () => {};
    const closed = new Promise<number | undefined>((resolve) => {
      closedResolve = resolve;
    });
    const srv = await codecServer((stream) => {
      serverStream = stream;
      stream.on('close', () => closedResolve(stream.rstCode));
      stream.respond({ ':status': 200 });
      stream.write('partial');
    });
    const client = nodeClient(srv.port);
    try {
      const req = client.request({ ':path': '/long' }, { endStream: true });
      req.on('error', () => {});
      await within(new Promise((r) => req.once('response', r)), 5000, 'response head');
      req.close(constants.NGHTTP2_CANCEL);
      assert.equal(await within(closed, 5000, 'server stream close'), H2Error.CANCEL);
      assert.equal(serverStream?.destroyed, true);
    } finally {
      client.destroy();
      await srv.close();
    }
  });

  it('50 concurrent streams on one connection', async () => {
    let open = 0;
    let maxOpen = 0;
    const srv = await codecServer((stream, headers) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      stream.on('close', () => open--);
      // Answer a little later so the streams overlap.
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end(`answer to ${headers[':path']}`);
      }, 20);
    });
    const client = nodeClient(srv.port);
    try {
      const all = Array.from({ length: 50 }, (_, i) => nodeExchange(client.request({ ':path': `/n/${i}` }, { endStream: true })));
      const results = await within(Promise.all(all), 10_000, '50 streams');
      for (const [i, r] of results.entries()) assert.equal(r.body.toString(), `answer to /n/${i}`);
      assert.equal(srv.connections.length, 1);
      assert.ok(maxOpen > 1, `streams overlapped (at most ${maxOpen} open)`);
    } finally {
      client.destroy();
      await srv.close();
    }
  });
});

describe('H2Connection client -> node:http2 server', () => {
  it('GET', async () => {
    const srv = await nodeServer((stream, headers) => {
      stream.respond({ ':status': 200, 'x-path': String(headers[':path']), 'x-authority': String(headers[':authority']) });
      stream.end('hello from node');
    });
    const conn = codecClient(srv.port);
    try {
      const s = conn.request({ ':path': '/a?b=c' }, { endStream: true });
      const res = await within(exchange(s), 5000, 'GET');
      assert.equal(res.head[':status'], '200');
      assert.equal(res.head['x-path'], '/a?b=c');
      assert.equal(res.head['x-authority'], `127.0.0.1:${srv.port}`);
      assert.equal(res.body.toString(), 'hello from node');
    } finally {
      conn.destroy();
      await srv.close();
    }
  });

  it('POST of a large body, echoed', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 123);
    const srv = await nodeServer((stream) => {
      stream.respond({ ':status': 200 });
      stream.pipe(stream);
    });
    const conn = codecClient(srv.port);
    try {
      const s = conn.request({ ':method': 'POST', ':path': '/echo' });
      s.end(body);
      const res = await within(exchange(s), 10_000, 'echo');
      assert.equal(res.body.length, body.length);
      assert.ok(res.body.equals(body), 'the echo is the body');
    } finally {
      conn.destroy();
      await srv.close();
    }
  });

  it('response trailers arrive as trailers', async () => {
    const srv = await nodeServer((stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
      stream.end('payload');
    });
    const conn = codecClient(srv.port);
    try {
      const res = await within(exchange(conn.request({ ':path': '/t' }, { endStream: true })), 5000, 'trailers');
      assert.equal(res.body.toString(), 'payload');
      assert.equal(res.trailers?.['grpc-status'], '0');
      assert.equal(res.trailers?.['grpc-message'], 'fine');
    } finally {
      conn.destroy();
      await srv.close();
    }
  });

  it('server GOAWAY: streams after its last stream id are refused (7), new requests throw, the others complete', async () => {
    const handled: string[] = [];
    let first: ServerHttp2Stream | undefined;
    let firstArrived: () => void = () => {};
    const arrived = new Promise<void>((r) => {
      firstArrived = r;
    });
    const srv = await nodeServer((stream, headers) => {
      handled.push(String(headers[':path']));
      if (headers[':path'] === '/first') {
        first = stream;
        firstArrived();
      } else {
        stream.respond({ ':status': 200 });
        stream.end('should not be served');
      }
    });
    // Client -> server bytes pass a gate, so streams 3 and 5 are on their way (sent, not yet received) when the server's GOAWAY
    // names stream 1 as its last.
    const gate = await gatedProxy(srv.port);
    const conn = codecClient(gate.port);
    try {
      const goaway = new Promise<[number, number]>((r) => conn.once('goaway', (code: number, last: number) => r([code, last])));
      const s1 = conn.request({ ':path': '/first' }, { endStream: true });
      const r1 = exchange(s1);
      await within(arrived, 5000, 'stream 1 at the server');
      gate.hold();
      const s3 = conn.request({ ':path': '/second' }, { endStream: true });
      const s5 = conn.request({ ':path': '/third' }, { endStream: true });
      const closes = [s3, s5].map((s) => new Promise<number | undefined>((r) => s.once('close', () => r(s.rstCode))));
      await within(gate.held(2), 5000, 'streams 3 and 5 sent');
      first?.session?.goaway(constants.NGHTTP2_NO_ERROR, 1);
      assert.deepEqual(await within(goaway, 5000, 'GOAWAY'), [H2Error.NO_ERROR, 1]);
      assert.deepEqual(await within(Promise.all(closes), 5000, 'refused streams close'), [H2Error.REFUSED_STREAM, H2Error.REFUSED_STREAM]);
      assert.equal(conn.closed, true);
      assert.throws(
        () => conn.request({ ':path': '/late' }, { endStream: true }),
        (err: NodeJS.ErrnoException) => err.code === 'ERR_HTTP2_GOAWAY_SESSION',
      );
      // The server ignores what came after its GOAWAY; the stream it kept still completes.
      gate.release();
      await delay(50);
      first?.respond({ ':status': 200 });
      first?.end('first served');
      const res = await within(r1, 5000, 'stream 1 after GOAWAY');
      assert.equal(res.body.toString(), 'first served');
      assert.deepEqual(handled, ['/first']);
      // With no stream left, the connection ends.
      if (!conn.destroyed) await within(new Promise((r) => conn.once('close', r)), 5000, 'connection close');
      assert.equal(conn.streamCount, 0);
    } finally {
      conn.destroy();
      await gate.close();
      await srv.close();
    }
  });

  it("the server's maxConcurrentStreams: 2 holds 6 requests to 2 at a time, all complete", async () => {
    let open = 0;
    let maxOpen = 0;
    let served = 0;
    const srv = await nodeServer(
      (stream, headers) => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        setTimeout(() => {
          open--;
          served++;
          stream.respond({ ':status': 200 });
          stream.end(`done ${headers[':path']}`);
        }, 30);
      },
      { maxConcurrentStreams: 2 },
    );
    const conn = codecClient(srv.port);
    try {
      // As a pool does: requests go out once the peer's SETTINGS (and its limit) are known.
      await within(new Promise((r) => conn.once('remoteSettings', r)), 5000, 'SETTINGS');
      const streams = Array.from({ length: 6 }, (_, i) => conn.request({ ':path': `/q/${i}` }, { endStream: true }));
      assert.equal(conn.streamCount, 6);
      const results = await within(Promise.all(streams.map(exchange)), 10_000, '6 requests');
      for (const [i, r] of results.entries()) assert.equal(r.body.toString(), `done /q/${i}`);
      assert.equal(served, 6);
      assert.ok(maxOpen <= 2, `at most 2 streams open on the server (saw ${maxOpen})`);
      assert.equal(maxOpen, 2, 'and two did run together');
      assert.ok(
        streams.every((s) => s.rstCode === H2Error.NO_ERROR),
        'no stream refused',
      );
    } finally {
      conn.destroy();
      await srv.close();
    }
  });

  it('a paused reader holds a large response back (flow control), then reads every byte', async () => {
    const body = randomBytes(8 * 1024 * 1024);
    let serverStream: ServerHttp2Stream | undefined;
    let written = false;
    const srv = await nodeServer((stream) => {
      serverStream = stream;
      stream.respond({ ':status': 200 });
      stream.end(body, () => {
        written = true;
      });
    });
    const conn = codecClient(srv.port);
    try {
      const s = conn.request({ ':path': '/big' }, { endStream: true });
      await within(new Promise((r) => s.once('response', r)), 5000, 'response head');
      // Nobody reads for a while.
      await delay(400);
      assert.equal(written, false, "the server's write has not completed");
      assert.ok(serverStream !== undefined);
      // node's stream holds the write until its data left (a single 8 MiB write: all of it is still counted).
      const pending = serverStream.writableLength;
      assert.ok(pending >= body.length - 2 * STREAM_WINDOW, `the server still holds ${pending} bytes`);
      // The codec took one stream window (and buffered it unread), no more.
      assert.ok(s.readableLength > 0 && s.readableLength <= STREAM_WINDOW, `the client buffered ${s.readableLength} bytes`);
      const got = await within(readAll(s), 10_000, 'the rest of the body');
      assert.equal(got.length, body.length);
      assert.ok(got.equals(body), 'every byte as sent');
      await delay(10);
      assert.equal(written, true);
    } finally {
      conn.destroy();
      await srv.close();
    }
  });
});

describe('hostile raw peers against the H2Connection server', () => {
  const ok = (stream: H2ServerStream, headers: IncomingHttpHeaders) => {
    stream.respond({ ':status': 200 });
    stream.end(`ok ${headers[':path']}`);
  };

  async function withPeer(run: (peer: RawPeer, calls: string[]) => Promise<void>): Promise<void> {
    const calls: string[] = [];
    const srv = await codecServer((stream, headers) => {
      calls.push(String(headers[':path']));
      stream.on('data', () => {});
      stream.on('error', () => {});
      if (headers[':path'] === '/body') return;
      ok(stream, headers);
    });
    const peer = new RawPeer(srv.port);
    try {
      await within(new Promise((r) => peer.socket.once('connect', r)), 2000, 'connect');
      await run(peer, calls);
    } finally {
      peer.destroy();
      await srv.close();
    }
  }

  it('a bad preface: connection closed', async () => {
    await withPeer(async (peer) => {
      peer.write(Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      await peer.waitClosed();
    });
  });

  it('a frame over maxFrameSize: GOAWAY FRAME_SIZE_ERROR, then close', async () => {
    await withPeer(async (peer) => {
      // Only the header of the frame (its length is what is refused).
      const header = rawFrame(FrameType.DATA, 0, 1).subarray(0, 9);
      header.writeUIntBE(CODEC_SETTINGS.maxFrameSize + 1, 0, 3);
      peer.write(CLIENT_START, header);
      assert.equal(await peer.goaway(), H2Error.FRAME_SIZE_ERROR);
    });
  });

  it('DATA on stream 0: GOAWAY PROTOCOL_ERROR', async () => {
    await withPeer(async (peer) => {
      peer.write(CLIENT_START, rawFrame(FrameType.DATA, 0, 0, Buffer.from('x')));
      assert.equal(await peer.goaway(), H2Error.PROTOCOL_ERROR);
    });
  });

  it('a garbage header block: GOAWAY COMPRESSION_ERROR', async () => {
    await withPeer(async (peer, calls) => {
      peer.write(CLIENT_START, rawFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, [0x80]));
      assert.equal(await peer.goaway(), H2Error.COMPRESSION_ERROR);
      assert.deepEqual(calls, []);
    });
  });

  it('malformed requests: RST_STREAM PROTOCOL_ERROR, never reach onStream, and the connection serves the next', async () => {
    await withPeer(async (peer, calls) => {
      peer.write(CLIENT_START);
      const bad: Array<Array<[string, string]>> = [
        request('/upper', [['X-Upper', '1']]),
        request('/connection', [['connection', 'keep-alive']]),
        request('/x').filter(([n]) => n !== ':path'),
        request('/te', [['te', 'gzip']]),
        request('/cr', [['x-a', 'a\r\nb']]),
        [
          [':path', '/late-pseudo'],
          ['x-a', '1'],
          [':method', 'GET'],
          [':scheme', 'http'],
        ],
      ];
      let id = 1;
      for (const fields of bad) {
        peer.write(peer.headers(id, fields, true));
        assert.equal(await peer.rstCode(id), H2Error.PROTOCOL_ERROR, `stream ${id}: ${JSON.stringify(fields)}`);
        id += 2;
        // The connection still serves.
        peer.write(peer.headers(id, request(`/valid-${id}`), true));
        const head = await peer.responseHead(id);
        assert.equal(head.get(':status'), '200');
        const data = await peer.next((f) => f.type === FrameType.DATA && f.streamId === id);
        assert.equal(data.payload.toString(), `ok /valid-${id}`);
        id += 2;
      }
      assert.deepEqual(
        calls,
        bad.map((_, i) => `/valid-${i * 4 + 3}`),
      );
      // A complete request answered at once is not reset after its response (no RST_STREAM NO_ERROR).
      await delay(20);
      assert.deepEqual(
        peer.frames.filter((f) => f.type === FrameType.RST_STREAM).map((f) => f.streamId),
        [],
      );
      assert.equal(peer.closed, false);
    });
  });

  it('content-length 5 with 3 bytes of DATA then END_STREAM: RST_STREAM PROTOCOL_ERROR', async () => {
    await withPeer(async (peer, calls) => {
      peer.write(
        CLIENT_START,
        peer.headers(1, [...request('/body'), ['content-length', '5']], false),
        rawFrame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('abc')),
      );
      assert.equal(await peer.rstCode(1), H2Error.PROTOCOL_ERROR);
      assert.deepEqual(calls, ['/body']);
      // More DATA than declared, too.
      peer.write(
        peer.headers(3, [...request('/body'), ['content-length', '2']], false),
        rawFrame(FrameType.DATA, 0, 3, Buffer.from('abc')),
      );
      assert.equal(await peer.rstCode(3), H2Error.PROTOCOL_ERROR);
      // And a declared body with END_STREAM on the HEADERS.
      peer.write(peer.headers(5, [...request('/body'), ['content-length', '1']], true));
      assert.equal(await peer.rstCode(5), H2Error.PROTOCOL_ERROR);
      assert.equal(peer.closed, false);
    });
  });

  it('PING is answered with PING ACK and the same 8 bytes', async () => {
    await withPeer(async (peer) => {
      const opaque = Buffer.from([1, 2, 3, 4, 0xfd, 0xfe, 0xff, 0]);
      peer.write(CLIENT_START, rawFrame(FrameType.PING, 0, 0, opaque));
      const pong = await peer.next((f) => f.type === FrameType.PING);
      assert.equal(pong.flags & Flag.ACK, Flag.ACK);
      assert.equal(pong.streamId, 0);
      assert.ok(pong.payload.equals(opaque));
      // A PING ACK is not answered.
      peer.write(rawFrame(FrameType.PING, Flag.ACK, 0, opaque));
      await delay(50);
      assert.equal(peer.frames.filter((f) => f.type === FrameType.PING).length, 0);
    });
  });

  it('HEADERS with padding and priority, split over CONTINUATION, and a padded DATA body: served', async () => {
    await withPeer(async (peer, calls) => {
      const block = peer.encoder.encode([...request('/split'), ['x-long', 'v'.repeat(300)]]);
      // PADDED | PRIORITY: pad length, 5 priority bytes, the first part of the block, 7 bytes of padding.
      const first = Buffer.concat([Buffer.from([7, 0, 0, 0, 0, 15]), block.subarray(0, 100), Buffer.alloc(7)]);
      peer.write(
        CLIENT_START,
        rawFrame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY | Flag.END_STREAM, 1, first),
        rawFrame(FrameType.CONTINUATION, 0, 1, block.subarray(100, 200)),
        rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(200)),
      );
      assert.equal((await peer.responseHead(1)).get(':status'), '200');
      // A body in a padded DATA frame: the padding is not data.
      peer.write(
        peer.headers(3, [...request('/body'), ['content-length', '4']], false),
        rawFrame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 3, Buffer.concat([Buffer.from([3]), Buffer.from('body'), Buffer.alloc(3)])),
      );
      await delay(50);
      assert.deepEqual(calls, ['/split', '/body']);
      assert.equal(
        peer.frames.some((f) => f.type === FrameType.RST_STREAM || f.type === FrameType.GOAWAY),
        false,
      );
    });
  });

  it('another frame between HEADERS and its CONTINUATION: GOAWAY PROTOCOL_ERROR', async () => {
    await withPeer(async (peer, calls) => {
      const block = peer.encoder.encode(request('/cut'));
      peer.write(
        CLIENT_START,
        rawFrame(FrameType.HEADERS, Flag.END_STREAM, 1, block.subarray(0, 3)),
        rawFrame(FrameType.PING, 0, 0, Buffer.alloc(8)),
        rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(3)),
      );
      assert.equal(await peer.goaway(), H2Error.PROTOCOL_ERROR);
      assert.deepEqual(calls, []);
    });
  });

  it('a stream id the client may not open (even, or going backwards): GOAWAY PROTOCOL_ERROR', async () => {
    await withPeer(async (peer) => {
      peer.write(CLIENT_START, peer.headers(2, request('/even'), true));
      assert.equal(await peer.goaway(), H2Error.PROTOCOL_ERROR);
    });
    await withPeer(async (peer) => {
      peer.write(CLIENT_START, peer.headers(5, request('/five'), true));
      assert.equal((await peer.responseHead(5)).get(':status'), '200');
      peer.write(peer.headers(3, request('/three'), true));
      assert.equal(await peer.goaway(), H2Error.PROTOCOL_ERROR);
    });
  });

  it('CONTINUATION without HEADERS: GOAWAY PROTOCOL_ERROR', async () => {
    await withPeer(async (peer) => {
      peer.write(CLIENT_START, rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, peer.encoder.encode(request('/c'))));
      assert.equal(await peer.goaway(), H2Error.PROTOCOL_ERROR);
    });
  });

  it('WINDOW_UPDATE of 0 on the connection: GOAWAY PROTOCOL_ERROR', async () => {
    await withPeer(async (peer) => {
      peer.write(CLIENT_START, rawFrame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 0, 0]));
      assert.equal(await peer.goaway(), H2Error.PROTOCOL_ERROR);
    });
  });

  it('rapid reset: a client that opens and resets more than 1000 requests in 10 s before they are answered gets GOAWAY ENHANCE_YOUR_CALM', async () => {
    await withPeer(async (peer, calls) => {
      const burst = (from: number, count: number): Buffer => {
        const frames: Buffer[] = [];
        for (let i = from; i < from + count; i++) {
          const id = 2 * i + 1;
          frames.push(peer.headers(id, request('/body'), false), rawFrame(FrameType.RST_STREAM, 0, id, [0, 0, 0, H2Error.CANCEL]));
        }
        return Buffer.concat(frames);
      };
      peer.write(CLIENT_START, burst(0, 600));
      await delay(100);
      assert.equal(peer.closed, false, '600 resets are allowed');
      assert.equal(calls.length, 600);
      peer.write(burst(600, 500));
      assert.equal(await peer.goaway(), H2Error.ENHANCE_YOUR_CALM);
    });
  });

  it('a client that floods PINGs and does not read the answers is cut off', async () => {
    await withPeer(async (peer) => {
      peer.socket.pause();
      const ping = rawFrame(FrameType.PING, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
      // 1.5 M PINGs: 25 MB of answers, more than the socket buffers on both sides and the 4 MiB allowed beyond them.
      const flood = Buffer.concat(new Array<Buffer>(100_000).fill(ping));
      peer.write(CLIENT_START);
      for (let i = 0; i < 15 && !peer.closed; i++) {
        peer.socket.write(flood);
        await delay(20);
      }
      peer.socket.resume();
      await peer.waitClosed(5000);
    });
  });
});
