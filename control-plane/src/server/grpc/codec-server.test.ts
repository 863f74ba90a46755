import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createLogger, loadWeftProto } from '@weft/shared';
import { encodeGrpcMessage } from '@weft/shared/grpc-wire';
import { H2Connection } from '@weft/shared/http2-codec/connection';
import { Flag, FrameType, frame, H2Error, PREFACE, settingsFrame } from '@weft/shared/http2-codec/frames';
import type { H2ClientStream } from '@weft/shared/http2-codec/stream';
import type { DuplexCall, UnaryCall } from './calls.js';
import { GrpcCodecServer, type GrpcCodecServerOptions } from './codec-server.js';
import { frameMessage, grpcDeadlineMs } from './wire.js';

const proto = loadWeftProto();
const log = createLogger({ component: 'grpc-test' }, { level: 'error' });
const LIST_SERVICES = proto.Registry.service.ListServices;

interface Seen {
  unary: UnaryCall[];
  streams: DuplexCall[];
}

type ListCallback = (err: { code: number; details?: string; metadata?: grpc.Metadata } | null, value?: unknown) => void;

async function withServer(
  behaviour: { list?: (call: UnaryCall, cb: ListCallback) => void; stream?: (call: DuplexCall) => void },
  body: (port: number, seen: Seen, server: GrpcCodecServer) => Promise<void>,
  options: Partial<GrpcCodecServerOptions> = {},
): Promise<void> {
  const seen: Seen = { unary: [], streams: [] };
  const server = new GrpcCodecServer({ logger: log, ...options });
  server.addService(proto.Registry.service, {
    ListServices: (call: UnaryCall, cb: ListCallback) => {
      seen.unary.push(call);
      (behaviour.list ?? ((_c, done) => done(null, { revision: '7', services: [{ name: 'orders', version: '1' }] })))(call, cb);
    },
  });
  server.addService(proto.Discovery.service, {
    Stream: (call: DuplexCall) => {
      seen.streams.push(call);
      (
        behaviour.stream ??
        ((c) => {
          c.on('data', (req: { subscribe: string[] }) => c.write({ nonce: req.subscribe.join(','), resources: [] }));
          c.on('end', () => c.end());
        })
      )(call);
    },
  });
  const port = await server.listen('127.0.0.1', 0);
  try {
    await body(port, seen, server);
  } finally {
    await server.close(200);
  }
}

function clients(port: number) {
  const registry = new proto.Registry(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const discovery = new proto.Discovery(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    registry,
    discovery,
    close: () => {
      registry.close();
      discovery.close();
    },
  };
}

function listServices(c: ReturnType<typeof clients>, md = new grpc.Metadata(), deadlineMs?: number) {
  return new Promise<{ err: grpc.ServiceError | null; res: unknown; trailers: grpc.Metadata | undefined }>((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = c.registry.ListServices({}, md, deadlineMs ? { deadline: Date.now() + deadlineMs } : {}, (err, res) =>
      setImmediate(() => resolve({ err, res, trailers })),
    );
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
    });
  });
}

const RAW_SETTINGS = {
  initialWindowSize: 65_535,
  connectionWindowSize: 65_535,
  maxConcurrentStreams: 100,
  maxFrameSize: 16_384,
  maxHeaderListSize: 65_536,
  streamWriteBuffer: 65_536,
};

/** A raw HTTP/2 request on the codec's client side: what a hostile or odd client can send. */
async function rawOpen(port: number, headers: Record<string, string>): Promise<{ conn: H2Connection; stream: H2ClientStream }> {
  const socket = netConnect(port, '127.0.0.1');
  await once(socket, 'connect');
  const conn = new H2Connection({ role: 'client', socket, authority: `127.0.0.1:${port}`, settings: RAW_SETTINGS });
  const stream = conn.request({
    ':method': 'POST',
    ':path': LIST_SERVICES.path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  return { conn, stream };
}

async function rawCall(
  port: number,
  headers: Record<string, string>,
  body: Buffer[],
): Promise<{ head: IncomingHttpHeaders; trailers: IncomingHttpHeaders | undefined; data: Buffer }> {
  const { conn, stream } = await rawOpen(port, headers);
  try {
    for (const b of body) stream.write(b);
    stream.end();
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h: IncomingHttpHeaders) => {
      head = h;
    });
    stream.on('trailers', (t: IncomingHttpHeaders) => {
      trailers = t;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => stream.once('close', resolve));
    return { head, trailers, data: Buffer.concat(chunks) };
  } finally {
    conn.destroy();
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** grpc-status and grpc-message of an answer, from its trailers or its trailers-only head. */
function statusOf(r: { head: IncomingHttpHeaders; trailers: IncomingHttpHeaders | undefined }) {
  const fields = r.trailers ?? r.head;
  return { code: Number(fields['grpc-status']), message: decodeURIComponent(String(fields['grpc-message'] ?? '')) };
}

describe('gRPC server on the HTTP/2 codec', () => {
  it('serves a unary call to a grpc-js client, with the metadata and the peer the handler sees', async () => {
    await withServer({}, async (port, seen) => {
      const c = clients(port);
      try {
        const md = new grpc.Metadata();
        md.set('authorization', 'Bearer abc');
        const { err, res } = await listServices(c, md);
        assert.equal(err, null);
        assert.deepEqual((res as { revision: string }).revision, '7');
        assert.equal((res as { services: Array<{ name: string }> }).services[0]?.name, 'orders');
        const call = seen.unary[0]!;
        assert.deepEqual(call.metadata.get('authorization'), ['Bearer abc']);
        assert.deepEqual(call.metadata.get('grpc-timeout'), [], 'transport headers are not metadata');
        assert.match(call.getPeer(), /^127\.0\.0\.1:\d+$/);
        assert.deepEqual(call.getAuthContext(), {}, 'plaintext: no TLS context');
        // Many calls on one connection.
        const many = await Promise.all(Array.from({ length: 50 }, () => listServices(c)));
        assert.ok(many.every((r) => r.err === null));
      } finally {
        c.close();
      }
    });
  });

  it('sends an answer far larger than the client window (flow control), and takes a 3 MiB request', async () => {
    const services = Array.from({ length: 20_000 }, (_, i) => ({ name: `service-${i}-${'x'.repeat(100)}`, version: String(i) }));
    await withServer({ list: (_call, cb) => cb(null, { revision: '9', services }) }, async (port, seen) => {
      const c = clients(port);
      try {
        const { err, res } = await listServices(c);
        assert.equal(err, null);
        assert.equal((res as { services: unknown[] }).services.length, 20_000);
        assert.equal((res as { services: Array<{ name: string }> }).services[19_999]?.name, services[19_999]?.name);
      } finally {
        c.close();
      }
      // ListServicesRequest has no fields: unknown field 15 (bytes) carries the bulk, as protobuf allows.
      const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
      const field = Buffer.concat([Buffer.from([0x7a]), varint(big.length), big]);
      const r = await rawCall(port, {}, [frameMessage(field)]);
      assert.equal(statusOf(r).code, grpc.status.OK);
      assert.ok(seen.unary.at(-1)?.request !== undefined);
    });
  });

  it("ends a call with the handler's status, details (percent-encoded on the wire) and metadata in the trailers", async () => {
    const details = 'instances[0].port: 70000 is not a port — 1..65535 (100%)';
    await withServer(
      {
        list: (_call, cb) => {
          const metadata = new grpc.Metadata();
          metadata.set('x-weft-error', 'invalid_argument');
          cb({ code: grpc.status.INVALID_ARGUMENT, details, metadata });
        },
      },
      async (port) => {
        const c = clients(port);
        try {
          const { err } = await listServices(c);
          assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
          assert.equal(err?.details, details);
          assert.deepEqual(err?.metadata.get('x-weft-error'), ['invalid_argument']);
        } finally {
          c.close();
        }
        const raw = await rawCall(port, {}, [frameMessage(Buffer.alloc(0))]);
        assert.equal(raw.trailers, undefined, 'a status before any message is a trailers-only answer');
        assert.equal(raw.head['grpc-message'], encodeGrpcMessage(details));
        assert.match(String(raw.head['grpc-message']), /^[\x20-\x7e]+$/);
      },
    );
  });

  it('streams both ways; a reset from the client reaches the handler as cancelled, then close', async () => {
    await withServer({}, async (port, seen) => {
      const c = clients(port);
      try {
        const call = c.discovery.Stream();
        const got: string[] = [];
        call.on('data', (r: { nonce: string }) => got.push(r.nonce));
        call.on('error', () => {});
        call.write({ subscribe: ['a', 'b'] });
        call.write({ subscribe: ['c'] });
        while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual(got, ['a,b', 'c']);
        // grpc-js's cancel half-closes and resets at once: the handler sees the call end one way or the other.
        const closed = once(seen.streams[0]!, 'close');
        call.cancel();
        await closed;
      } finally {
        c.close();
      }
      // A reset alone (RST_STREAM CANCEL, no half-close): 'cancelled', then 'close'.
      const { conn, stream } = await rawOpen(port, { ':path': proto.Discovery.service.Stream.path });
      try {
        stream.write(frameMessage(proto.Discovery.service.Stream.requestSerialize({ subscribe: ['z'] })));
        while (seen.streams.length < 2) await new Promise((r) => setTimeout(r, 5));
        const server = seen.streams[1]!;
        const events: string[] = [];
        server.on('cancelled', () => events.push('cancelled'));
        server.on('close', () => events.push('close'));
        stream.close(H2Error.CANCEL);
        while (!events.includes('close')) await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual(events, ['cancelled', 'close']);
        assert.equal(server.cancelled, true);
        server.write({ nonce: 'late' }); // dropped, not thrown
      } finally {
        conn.destroy();
      }
    });
  });

  it("a streaming call ends with the status the handler emits as 'error', and a half-close ends it OK", async () => {
    let emitError = true;
    await withServer(
      {
        stream: (call) =>
          call.on('data', () => {
            if (emitError)
              call.emit('error', { code: grpc.status.ABORTED, details: 'replaced by a newer stream', metadata: new grpc.Metadata() });
            else call.write({ nonce: '1' });
          }),
      },
      async (port) => {
        const c = clients(port);
        try {
          const first = c.discovery.Stream();
          first.write({ subscribe: ['a'] });
          const [err] = (await once(first, 'error')) as [grpc.ServiceError];
          assert.equal(err.code, grpc.status.ABORTED);
          assert.equal(err.details, 'replaced by a newer stream');
          emitError = false;
        } finally {
          c.close();
        }
      },
    );
    await withServer({}, async (port) => {
      const c = clients(port);
      try {
        const call = c.discovery.Stream();
        call.on('data', () => {});
        call.write({ subscribe: ['x'] });
        call.end();
        const [status] = (await once(call, 'status')) as [grpc.StatusObject];
        assert.equal(status.code, grpc.status.OK);
      } finally {
        c.close();
      }
    });
  });

  it('honours grpc-timeout: the client gets DEADLINE_EXCEEDED and the handler is told it is cancelled', async () => {
    await withServer({ list: () => {} }, async (port, seen) => {
      const c = clients(port);
      try {
        const { err } = await listServices(c, new grpc.Metadata(), 150);
        assert.equal(err?.code, grpc.status.DEADLINE_EXCEEDED);
        const call = seen.unary[0]!;
        while (!call.cancelled) await new Promise((r) => setTimeout(r, 5));
      } finally {
        c.close();
      }
    });
    assert.equal(grpcDeadlineMs('2S'), 2000);
    assert.equal(grpcDeadlineMs('1500u'), 1.5);
    assert.throws(() => grpcDeadlineMs('12'), /grpc-timeout/);
    assert.throws(() => grpcDeadlineMs('123456789S'), /grpc-timeout/);
  });

  it('refuses what breaks the framing, each with a status that names the cause, and serves the next call', async () => {
    await withServer({}, async (port, seen) => {
      const compressed = Buffer.from([1, 0, 0, 0, 1, 0]);
      let r = await rawCall(port, {}, [compressed]);
      assert.deepEqual(statusOf(r), { code: grpc.status.UNIMPLEMENTED, message: statusOf(r).message });
      assert.match(statusOf(r).message, /compressed/);

      // A length of 1 GiB is refused from its prefix: the bytes are never gathered.
      const huge = Buffer.from([0, 0x40, 0, 0, 0]);
      r = await rawCall(port, {}, [huge, Buffer.alloc(1024)]);
      assert.equal(statusOf(r).code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(statusOf(r).message, /1073741824 bytes is over the limit/);

      r = await rawCall(port, {}, [frameMessage(Buffer.from([0xff, 0xff, 0xff]))]);
      assert.equal(statusOf(r).code, grpc.status.INTERNAL);
      assert.match(statusOf(r).message, /cannot parse the request message/);

      r = await rawCall(port, {}, [frameMessage(Buffer.alloc(0)), frameMessage(Buffer.alloc(0))]);
      assert.equal(statusOf(r).code, grpc.status.INTERNAL);
      assert.match(statusOf(r).message, /one request message/);

      r = await rawCall(port, {}, []);
      assert.match(statusOf(r).message, /carried no message/);

      r = await rawCall(port, {}, [Buffer.from([0, 0, 0, 0, 9, 1, 2])]);
      assert.match(statusOf(r).message, /ended inside a message/);

      r = await rawCall(port, { 'grpc-timeout': 'soon' }, [frameMessage(Buffer.alloc(0))]);
      assert.match(statusOf(r).message, /grpc-timeout/);

      r = await rawCall(port, { ':path': '/weft.v1.Registry/Nope' }, [frameMessage(Buffer.alloc(0))]);
      assert.equal(statusOf(r).code, grpc.status.UNIMPLEMENTED);
      assert.match(statusOf(r).message, /unknown method \/weft.v1.Registry\/Nope/);

      r = await rawCall(port, { 'content-type': 'application/json' }, [Buffer.from('{}')]);
      assert.equal(Number(r.head[':status']), 415);
      assert.match(r.data.toString(), /speaks gRPC only/);

      assert.equal(seen.unary.filter((c) => c.request !== undefined).length, 0, 'no handler ran on a broken request');
      const c = clients(port);
      try {
        assert.equal((await listServices(c)).err, null);
      } finally {
        c.close();
      }
    });
  });

  it('a handler that throws ends its call with INTERNAL; the server goes on', async () => {
    await withServer(
      {
        list: () => {
          throw new Error('bug');
        },
      },
      async (port) => {
        const c = clients(port);
        try {
          const first = await listServices(c);
          assert.equal(first.err?.code, grpc.status.INTERNAL);
          assert.equal(first.err?.details, 'internal error');
          assert.equal((await listServices(c)).err?.code, grpc.status.INTERNAL);
        } finally {
          c.close();
        }
      },
    );
  });

  it('closes a connection whose peer does not answer the keep-alive PING', async () => {
    await withServer(
      {},
      async (port, _seen, server) => {
        // A peer that opens the connection properly and then answers nothing (what it reads is thrown away).
        const socket: Socket = netConnect(port, '127.0.0.1');
        await once(socket, 'connect');
        socket.write(Buffer.concat([PREFACE, settingsFrame([]), frame(FrameType.SETTINGS, Flag.ACK, 0)]));
        while (server.connectionCount === 0) await new Promise((r) => setTimeout(r, 5));
        const closed = once(socket, 'close');
        socket.on('error', () => {});
        socket.resume();
        await closed;
        assert.equal(server.connectionCount, 0);
      },
      { keepaliveMs: 100, keepaliveTimeoutMs: 100 },
    );
  });

  it('close() sends GOAWAY: an open call still finishes, and a connection left open is cut after the grace time', async () => {
    let answer: (() => void) | undefined;
    const server = new GrpcCodecServer({ logger: log });
    server.addService(proto.Registry.service, {
      ListServices: (_call: UnaryCall, cb: ListCallback) => {
        answer = () => cb(null, { revision: '1', services: [] });
      },
    });
    const port = await server.listen('127.0.0.1', 0);
    const c = clients(port);
    try {
      const pending = listServices(c);
      while (!answer) await new Promise((r) => setTimeout(r, 5));
      const closing = server.close(5000);
      await new Promise((r) => setTimeout(r, 50));
      answer();
      assert.equal((await pending).err, null);
      const started = Date.now();
      await closing;
      assert.ok(Date.now() - started < 4000, 'closed once the last call ended, not at the grace time');
    } finally {
      c.close();
    }
  });
});
