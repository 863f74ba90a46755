import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { echoClient, type GrpcTestService, startGrpcService } from './grpc-service.js';
import { type AgentProc, Mesh, registerWith, waitFor } from './harness.js';

type Client = ReturnType<typeof echoClient>;

function unary(client: Client, body: Buffer, md?: Record<string, string>, options: grpc.CallOptions = {}): Promise<Buffer> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md ?? {})) metadata.set(k, v);
  return new Promise((resolve, reject) => {
    client.Unary(body, metadata, options, (err: grpc.ServiceError | null, res: Buffer) => (err ? reject(err) : resolve(res)));
  });
}

function failureOf(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => assert.fail('the call should have failed'),
    (err: grpc.ServiceError) => err,
  );
}

/** Established TCP connections to 127.0.0.1:port (from /proc/net/tcp: every socket of the host). */
function connectionsTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[2] === `0100007F:${hex}` && f[3] === '01';
    }).length;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

describe('gRPC through the mesh: app -> agent A (h2c) -> agent B (h2 over mTLS) -> grpc-js server', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let b: AgentProc;
  let svc: GrpcTestService;
  let client: Client;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    b = await mesh.agent('agent-b', cp.grpcPort);
    svc = await startGrpcService();
    await registerWith(b, { name: 'echo', port: svc.port, id: 'echo-1', protocol: 'grpc' });
    client = echoClient(a.outboundPort, 'echo');
    await waitFor('echo to be callable through agent A', async () => (await unary(client, Buffer.from('ping'))).toString() === 'ping');
  });
  after(async () => {
    client?.close();
    await svc?.close();
    await mesh.close();
  });

  test('a unary call reaches the app behind agent B and its answer comes back', async () => {
    const before = svc.calls.length;
    const res = await unary(client, Buffer.from('hello through two agents'));
    assert.equal(res.toString(), 'hello through two agents');
    assert.equal(svc.calls.length, before + 1);
  });

  test('a server-streaming call delivers every message in order', async () => {
    const call = client.ServerStream(Buffer.from(JSON.stringify({ count: 200, size: 32 * 1024 }))) as grpc.ClientReadableStream<Buffer>;
    const got: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      call.on('data', (m: Buffer) => got.push(m));
      call.on('end', resolve);
      call.on('error', reject);
    });
    assert.equal(got.length, 200);
    got.forEach((m, i) => {
      assert.equal(m.length, 32 * 1024);
      assert.equal(m[0], i % 256);
    });
  });

  test('a client-streaming call delivers every message before the answer', async () => {
    const res = await new Promise<Buffer>((resolve, reject) => {
      const call = client.ClientStream((err: grpc.ServiceError | null, r: Buffer) =>
        err ? reject(err) : resolve(r),
      ) as grpc.ClientWritableStream<Buffer>;
      for (let i = 0; i < 50; i++) call.write(Buffer.alloc(1000 + i, 1));
      call.end();
    });
    assert.deepEqual(JSON.parse(res.toString()), { count: 50, bytes: 50 * 1000 + (49 * 50) / 2, name: 'echo' });
  });

  test('a bidirectional call echoes each message while the client keeps sending', async () => {
    const call = client.Bidi() as grpc.ClientDuplexStream<Buffer, Buffer>;
    const echoed: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: Buffer) => {
        echoed.push(m.toString());
        // Each answer arrives before the next message is sent: the stream is live both ways, not buffered.
        if (echoed.length < 20) call.write(Buffer.from(`m${echoed.length}`));
        else call.end();
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write(Buffer.from('m0'));
    await done;
    assert.deepEqual(
      echoed,
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
  });

  test('a 16 MiB message passes both ways', async () => {
    const big = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
    const res = await unary(client, big);
    assert.equal(res.length, big.length);
    assert.ok(res.equals(big));
  });

  test("the app's status, message and trailers reach the client", async () => {
    const err = await failureOf(unary(client, Buffer.from('x'), { 'x-status': String(grpc.status.NOT_FOUND) }));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'as asked');
    assert.equal(err.metadata.get('x-weft-error').length, 0, 'an app answer carries no mesh error');
  });

  test("the mesh's deadline passing before the app answers is DEADLINE_EXCEEDED with x-weft-error upstream_timeout in the trailers, and the app's call is cancelled", async () => {
    const started = Date.now();
    const marker = `slow-${Date.now()}`;
    const err = await failureOf(unary(client, Buffer.from(marker), { 'x-sleep-ms': '5000', 'x-weft-timeout-ms': '300' }));
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(String(err.metadata.get('x-weft-error')[0]), 'upstream_timeout');
    assert.match(err.details, /300 ms/);
    assert.ok(Date.now() - started < 2000);
    // The mesh cancels the call it gave up on, all the way to the app.
    await waitFor('the app to see its call cancelled', () => svc.calls.find((c) => c.request === marker)?.cancelled, 3000);
  });

  test('the mesh deadline passing before any response head is a trailers-only DEADLINE_EXCEEDED with x-weft-error', async () => {
    const marker = `headless-${Date.now()}`;
    const err = await failureOf(unary(client, Buffer.from(marker), { 'x-sleep-ms': '5000', 'x-no-head': '1', 'x-weft-timeout-ms': '300' }));
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(String(err.metadata.get('x-weft-error')[0]), 'upstream_timeout');
    assert.equal(err.metadata.get('x-served-by').length, 0, 'nothing of the app reached the client');
    assert.match(err.details, /no response within 300 ms|300 ms deadline/);
    await waitFor('the app to see its call cancelled', () => svc.calls.find((c) => c.request === marker)?.cancelled, 3000);
  });

  test("the client's grpc-timeout reaches the app reduced by the time spent, and is enforced", async () => {
    const res = await unary(client, Buffer.from('x'), { 'x-deadline': '1' }, { deadline: Date.now() + 5000 });
    const { left } = JSON.parse(res.toString()) as { left: number };
    assert.ok(left > 3000 && left <= 5000, `the app sees ${left} ms left of a 5000 ms deadline`);
    const err = await failureOf(unary(client, Buffer.from('x'), { 'x-sleep-ms': '5000' }, { deadline: Date.now() + 400 }));
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
  });

  test('a client cancel resets the stream all the way to the app', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-sleep-ms', '20000');
    const marker = `cancel-${Date.now()}`;
    const mine = (c: { request?: string }) => c.request === marker;
    const cancelledAtApp = svc.cancelled(mine);
    let status: number | undefined;
    const call = client.Unary(Buffer.from(marker), metadata, (err: grpc.ServiceError | null) => {
      status = err?.code;
    }) as grpc.ClientUnaryCall;
    const record = await waitFor('the call to reach the app', () => svc.calls.find(mine));
    assert.equal(record.cancelled, false);
    call.cancel();
    await Promise.race([
      cancelledAtApp,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the app never saw the cancel')), 5000)),
    ]);
    assert.equal(record.cancelled, true);
    assert.equal(record.ended, false, 'the app did not answer');
    await waitFor('the client to see CANCELLED', () => status === grpc.status.CANCELLED);
  });

  test('a slow reader holds back its own stream only: a unary call and a 32 MiB stream on the same peer session complete meanwhile, and agent A does not buffer the stalled stream', async () => {
    const rssBefore = rssKiB(a.pid);
    // 256 MiB offered, the client reads nothing for a while.
    const slow = client.ServerStream(Buffer.from(JSON.stringify({ count: 1024, size: 256 * 1024 }))) as grpc.ClientReadableStream<Buffer>;
    let received = 0;
    slow.on('data', (m: Buffer) => {
      received += m.length;
    });
    slow.pause();
    slow.on('error', () => {});
    await new Promise((r) => setTimeout(r, 800));
    const started = Date.now();
    const res = await unary(client, Buffer.from('not blocked'));
    assert.equal(res.toString(), 'not blocked');
    assert.ok(Date.now() - started < 1000, 'the unary call is not queued behind the stalled stream');
    // A second stream, on the same peer session, runs to its end while the first one is still stalled.
    const fast = client.ServerStream(Buffer.from(JSON.stringify({ count: 128, size: 256 * 1024 }))) as grpc.ClientReadableStream<Buffer>;
    let fastBytes = 0;
    await new Promise<void>((resolve, reject) => {
      fast.on('data', (m: Buffer) => {
        fastBytes += m.length;
      });
      fast.on('end', resolve);
      fast.on('error', reject);
    });
    assert.equal(fastBytes, 128 * 256 * 1024);
    assert.ok(received < 256 * 1024 * 1024, 'the stalled stream is still stalled');
    assert.equal(connectionsTo(b.inboundPort), 1, 'every call to agent B went over one connection');
    const grown = rssKiB(a.pid) - rssBefore;
    assert.ok(grown < 64 * 1024, `agent A grew by ${grown} KiB while 256 MiB waited behind a stalled reader`);
    slow.resume();
    await new Promise<void>((resolve, reject) => {
      slow.on('end', resolve);
      slow.on('error', reject);
    });
    assert.equal(received, 1024 * 256 * 1024);
  });

  test('an instance that cannot be reached is UNAVAILABLE with x-weft-error', async () => {
    await registerWith(b, { name: 'gone', port: 1, id: 'gone-1', protocol: 'grpc' });
    const gone = echoClient(a.outboundPort, 'gone');
    try {
      const err = await waitFor('the mesh to answer for gone', async () => {
        const e = await failureOf(unary(gone, Buffer.from('x')));
        return e.metadata.get('x-weft-error').length > 0 ? e : undefined;
      });
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.equal(String(err.metadata.get('x-weft-error')[0]), 'upstream_connect_failed');
    } finally {
      gone.close();
    }
  });

  test('a service without a healthy endpoint is UNAVAILABLE with x-weft-error no_healthy_endpoint', async () => {
    await registerWith(b, { name: 'sick', port: 1, id: 'sick-1', protocol: 'grpc', health: { tcp: true, interval: '200ms' } });
    const sick = echoClient(a.outboundPort, 'sick');
    try {
      const err = await waitFor(
        'the mesh to answer no_healthy_endpoint',
        async () => {
          const e = await failureOf(unary(sick, Buffer.from('x')));
          return String(e.metadata.get('x-weft-error')[0]) === 'no_healthy_endpoint' ? e : undefined;
        },
        15_000,
        300,
      );
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, /no healthy endpoint/);
    } finally {
      sick.close();
    }
  });

  test('an unknown service is UNIMPLEMENTED with x-weft-error unknown_service', async () => {
    const nobody = echoClient(a.outboundPort, 'nobody');
    try {
      const err = await failureOf(unary(nobody, Buffer.from('x')));
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
      assert.equal(String(err.metadata.get('x-weft-error')[0]), 'unknown_service');
    } finally {
      nobody.close();
    }
  });
});
