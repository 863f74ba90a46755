import assert from 'node:assert/strict';
import { type ClientHttp2Session, connect, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { type AddressInfo, createServer, type Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Endpoint, MeshError, MeshErrorCode, silentLogger } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { HeldChunks, HOLD_BYTES } from './h2-held-chunks.js';
import { startOutboundListener } from './outbound-listener.js';
import { endpoint, localInstances, staticSource } from './test-support.js';

const DATA = 0x0;
const HEADERS = 0x1;
const END_STREAM = 0x1;

interface Frame {
  type: number;
  flags: number;
  stream: number;
  length: number;
}

/** The frames in `bytes` (what one side of an h2c connection sent, from its preface on). */
function framesOf(bytes: Buffer, clientSide: boolean): Frame[] {
  let at = clientSide ? 24 : 0;
  const out: Frame[] = [];
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    out.push({ length, type: bytes[at + 3]!, flags: bytes[at + 4]!, stream: bytes.readUInt32BE(at + 5) & 0x7fffffff });
    at += 9 + length;
  }
  return out;
}

/** A TCP relay to `port` that records every byte each side sent. */
async function startRelay(port: number): Promise<{ port: number; fromClient: Buffer[]; fromServer: Buffer[]; close(): Promise<void> }> {
  const fromClient: Buffer[] = [];
  const fromServer: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    upstream.connect(port, '127.0.0.1');
    client.on('data', (b: Buffer) => {
      fromClient.push(b);
      upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => {
      fromServer.push(b);
      client.write(b);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    fromClient,
    fromServer,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** One call on an open session: the answer's body and trailers. */
function unaryCall(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ body: Buffer; trailers: IncomingHttpHeaders | undefined }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ...headers });
    const chunks: Buffer[] = [];
    let trailers: IncomingHttpHeaders | undefined;
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP/2 frames through the outbound listener', () => {
  let upstream: Http2Server;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let proxy: Listener;

  before(async () => {
    upstream = createH2Server();
    upstream.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.resume();
      stream.on('end', () => stream.end(Buffer.from([0, 0, 0, 0, 2, 111, 107])));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    relay = await startRelay((upstream.address() as AddressInfo).port);
    const services: Record<string, Endpoint[]> = { unary: [endpoint({ service: 'unary', port: relay.port, protocol: 'grpc' })] };
    proxy = await startOutboundListener({
      agentId: 'agent-a',
      endpoints: staticSource(services, (s) => new MeshError(MeshErrorCode.unknownService, `no service ${s}`)),
      local: localInstances([]),
      logger: silentLogger,
      requestTimeoutMs: 5000,
      host: '127.0.0.1',
      port: 0,
    });
  });
  after(async () => {
    await proxy.close();
    await relay.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it("sends a unary call's message upstream as one DATA frame that carries END_STREAM (no empty DATA frame after it)", async () => {
    const message = Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]);
    const headers = { ':path': '/pkg.Echo/Unary', ':authority': 'unary', 'content-type': 'application/grpc', te: 'trailers' };
    // The first call opens both sessions (its frames are all parsed at once); the second comes as a client's calls usually do.
    const session = connect(`http://127.0.0.1:${proxy.port}`);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await unaryCall(session, headers, message);
        assert.equal(r.trailers?.['grpc-status'], '0');
        assert.deepEqual([...r.body], [0, 0, 0, 0, 2, 111, 107]);
      }
    } finally {
      session.close();
    }
    const frames = framesOf(Buffer.concat(relay.fromClient), true).filter((f) => f.stream !== 0 && f.type !== 0x8 /* WINDOW_UPDATE */);
    const second = frames.find((f) => f.stream > (frames[0]?.stream ?? 0))?.stream;
    const call = frames.filter((f) => f.stream === second);
    assert.deepEqual(
      call.map((f) => [f.type, f.length, f.flags & END_STREAM]),
      [
        [HEADERS, call[0]?.length, 0],
        [DATA, message.length, END_STREAM],
      ],
    );
  });
});

describe('HeldChunks', () => {
  it('writes nothing when holding, then everything in order on release, once', () => {
    const written: string[] = [];
    const held = new HeldChunks((c) => written.push(c.toString()));
    held.hold(Buffer.from('a'));
    held.hold(Buffer.from('b'));
    assert.deepEqual(written, []);
    held.release();
    held.release();
    assert.deepEqual(written, ['a', 'b']);
  });

  it('releases by itself at the end of the event-loop turn', async () => {
    const written: string[] = [];
    const held = new HeldChunks((c) => written.push(c.toString()));
    held.hold(Buffer.from('x'));
    await new Promise((r) => process.nextTick(r));
    assert.deepEqual(written, [], 'not on the next tick');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(written, ['x']);
  });

  it('writes at once, with what it held before, once HOLD_BYTES are held (a stream of large chunks is not delayed)', () => {
    const written: number[] = [];
    const held = new HeldChunks((c) => written.push(c.length));
    held.hold(Buffer.alloc(10));
    assert.deepEqual(written, []);
    held.hold(Buffer.alloc(HOLD_BYTES));
    assert.deepEqual(written, [10, HOLD_BYTES]);
    held.hold(Buffer.alloc(1));
    assert.deepEqual(written, [10, HOLD_BYTES], 'counting starts again after a release');
    held.drop();
  });

  it('forgets what it holds when dropped', async () => {
    const written: string[] = [];
    const held = new HeldChunks((c) => written.push(c.toString()));
    held.hold(Buffer.from('x'));
    held.drop();
    await new Promise((r) => setImmediate(r));
    held.release();
    assert.deepEqual(written, []);
  });
});
