/**
 * Traffic policy on gRPC calls, end to end with real processes: Routes
 * match gRPC methods by path (`/pkg.Service/Method`) and headers (metadata),
 * a fault rule and a rate limit answer in gRPC terms, and `retry.on:
 * [unavailable]` re-sends a call the app answered UNAVAILABLE before any
 * answer byte, but never a streaming call that already sent messages.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { echoClient, type GrpcTestService, startGrpcService } from './grpc-service.js';
import { type AgentProc, Mesh, postJson, registerWith, runWeft, waitFor } from './harness.js';

type Client = ReturnType<typeof echoClient>;

const ROUTES = `apiVersion: weft.dev/v1
kind: Routes
metadata:
  service: echo
rules:
  - name: pick-good
    match:
      headers:
        - name: x-pick
          exact: good
    route:
      - tags: [role=good]
  - name: fault
    match:
      path: { exact: /test.Echo/ServerStream }
      headers:
        - name: x-fault
          exact: "1"
    fault:
      abort: { percent: 100, status: 503 }
    route:
      - tags: [role=good]
  - name: retry-unavailable
    match:
      path: { prefix: /test.Echo/ }
    retry: { attempts: 2, on: [unavailable] }
    route:
      - weight: 100
---
apiVersion: weft.dev/v1
kind: ServicePolicy
metadata:
  service: quota
rateLimit:
  requestsPerSecond: 1
  burst: 2
`;

const weft = runWeft;

function unary(client: Client, md: Record<string, string> = {}): Promise<Buffer> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  return new Promise((resolve, reject) => {
    client.Unary(Buffer.from('x'), metadata, (err: grpc.ServiceError | null, res: Buffer) => (err ? reject(err) : resolve(res)));
  });
}

function clientStream(client: Client, messages: number, md: Record<string, string> = {}): Promise<{ name: string }> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  return new Promise((resolve, reject) => {
    const call = client.ClientStream(metadata, (err: grpc.ServiceError | null, res: Buffer) =>
      err ? reject(err) : resolve(JSON.parse(res.toString()) as { name: string }),
    ) as grpc.ClientWritableStream<Buffer>;
    for (let i = 0; i < messages; i++) call.write(Buffer.from(`m${i}`));
    call.end();
  });
}

function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: grpc.ServiceError }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (err: grpc.ServiceError) => ({ ok: false as const, err }),
  );
}

describe('traffic policy on gRPC calls', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let good: GrpcTestService;
  let bad: GrpcTestService;
  let quota: GrpcTestService;
  let echo: Client;
  let quotaClient: Client;

  let cpPort = 0;
  let b: AgentProc;

  before(async () => {
    const cp = await mesh.controlPlane();
    cpPort = cp.grpcPort;
    a = await mesh.agent('agent-a', cp.grpcPort);
    b = await mesh.agent('agent-b', cp.grpcPort);
    good = await startGrpcService({ name: 'good' });
    bad = await startGrpcService({ name: 'bad', failWith: grpc.status.UNAVAILABLE });
    quota = await startGrpcService({ name: 'quota' });
    await registerWith(b, { name: 'echo', port: good.port, id: 'echo-good', protocol: 'grpc', tags: ['role=good'] });
    await registerWith(b, { name: 'echo', port: bad.port, id: 'echo-bad', protocol: 'grpc', tags: ['role=bad'] });
    await registerWith(b, { name: 'quota', port: quota.port, id: 'quota-1', protocol: 'grpc' });
    echo = echoClient(a.outboundPort, 'echo');
    quotaClient = echoClient(a.outboundPort, 'quota');
    // The first calls subscribe agent A to both services and their policies.
    await waitFor('echo to be callable', async () => (await settle(unary(echo, { 'x-pick': 'x' }))).ok || undefined);
    await waitFor('quota to be callable', async () => (await settle(unary(quotaClient))).ok);
    const file = join(mesh.dir, 'routes.yaml');
    writeFileSync(file, ROUTES);
    const r = await weft(['apply', '-f', file, '--wait', '--control-plane', `127.0.0.1:${cp.grpcPort}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(async () => {
    echo?.close();
    quotaClient?.close();
    await Promise.all([good?.close(), bad?.close(), quota?.close()]);
    await mesh.close();
  });

  test('a header rule routes gRPC calls by their metadata', async () => {
    const served = await Promise.all(Array.from({ length: 20 }, () => clientStream(echo, 1, { 'x-pick': 'good' })));
    assert.deepEqual(new Set(served.map((s) => s.name)), new Set(['good']));
  });

  test('a fault rule on a gRPC method answers UNAVAILABLE with x-weft-error fault_injected', async () => {
    const call = echo.ServerStream(
      Buffer.from(JSON.stringify({ count: 1, size: 1 })),
      (() => {
        const m = new grpc.Metadata();
        m.set('x-fault', '1');
        return m;
      })(),
    ) as grpc.ClientReadableStream<Buffer>;
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      call.on('data', () => {});
      call.on('error', resolve);
      call.on('end', () => resolve(new Error('no error') as grpc.ServiceError));
    });
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(String(err.metadata.get('x-weft-error')[0]), /^fault_injected; rule=echo\/1/);
  });

  test('retry.on [unavailable] re-sends a unary call the app answered UNAVAILABLE before any answer byte', async () => {
    const badBefore = bad.calls.length;
    const results = await Promise.all(Array.from({ length: 40 }, () => settle(unary(echo))));
    const failed = results.filter((r) => !r.ok);
    assert.equal(failed.length, 0, `failed: ${failed.map((f) => (f.ok ? '' : f.err.message)).join('; ')}`);
    assert.ok(bad.calls.length > badBefore, 'some calls went to the failing instance first and were re-sent');
  });

  test('a client-streaming call that sent several messages is never re-sent, whatever retry.on says', async () => {
    const badBefore = bad.calls.filter((c) => c.method === 'ClientStream').length;
    const goodBefore = good.calls.filter((c) => c.method === 'ClientStream').length;
    const results = await Promise.all(Array.from({ length: 40 }, () => settle(clientStream(echo, 3))));
    const failed = results.filter((r) => !r.ok);
    const badCalls = bad.calls.filter((c) => c.method === 'ClientStream').length - badBefore;
    const goodCalls = good.calls.filter((c) => c.method === 'ClientStream').length - goodBefore;
    assert.ok(failed.length > 0, 'some calls met the failing instance');
    for (const f of failed) if (!f.ok) assert.equal(f.err.code, grpc.status.UNAVAILABLE);
    // Each call ran exactly once: the failing instance's calls are exactly the failures.
    assert.equal(badCalls, failed.length);
    assert.equal(goodCalls, 40 - failed.length);
  });

  test('a rate limit answers RESOURCE_EXHAUSTED with x-weft-error rate_limited', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => settle(unary(quotaClient))));
    const limited = results.filter((r) => !r.ok);
    assert.ok(limited.length >= 3, `${limited.length} of 6 calls limited`);
    for (const r of limited) {
      if (r.ok) continue;
      assert.equal(r.err.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(String(r.err.metadata.get('x-weft-error')[0]), /^rate_limited/);
    }
  });

  test('access policy on gRPC: PERMISSION_DENIED naming the rule, over the mesh hop and on this host; the proxy credential on the stream is the source', async () => {
    const vault = await startGrpcService({ name: 'vault' });
    const local = await startGrpcService({ name: 'lvault' });
    try {
      await registerWith(b, { name: 'vault', port: vault.port, id: 'vault-1', protocol: 'grpc' });
      await registerWith(a, { name: 'lvault', port: local.port, id: 'lvault-1', protocol: 'grpc' });
      // The caller app on host a: its registration's credential, sent as proxy-authorization metadata on each call.
      const reg = await postJson(a.adminPort, '/v1/services', { name: 'teller', port: local.port, id: 'teller-1' });
      assert.equal(reg.status, 201, JSON.stringify(reg.json));
      const auth = `Basic ${Buffer.from(`teller:${String(reg.json.credential)}`).toString('base64')}`;
      const policy = (service: string) =>
        `apiVersion: weft.dev/v1\nkind: AccessPolicy\nmetadata: { service: ${service} }\nrules:\n  - action: allow\n    from: [teller]\n  - action: deny\n    from: ["spiffe://weft.local/agent/agent-a"]\n`;
      const file = join(mesh.dir, 'grpc-access.yaml');
      writeFileSync(file, `${policy('vault')}---\n${policy('lvault')}`);
      const r = await weft(['apply', '-f', file, '--wait', '--control-plane', `127.0.0.1:${cpPort}`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const [service, app] of [
        ['vault', vault],
        ['lvault', local],
      ] as const) {
        const client = echoClient(a.outboundPort, service);
        try {
          // Agent a's own identity (no credential): denied by rule 1, before the app sees the call.
          const before = app.calls.length;
          const denied = await waitFor(`${service} to deny agent-a`, async () => {
            const s = await settle(unary(client));
            return !s.ok && s.err.code === grpc.status.PERMISSION_DENIED ? s.err : undefined;
          });
          assert.equal(String(denied.metadata.get('x-weft-error')[0]), `forbidden; policy=${service}/1`);
          assert.equal(app.calls.length, before);
          // teller's credential: allowed by rule 0 (over the hop, agent a presented teller's certificate).
          await waitFor(`${service} to let teller in`, async () => (await settle(unary(client, { 'proxy-authorization': auth }))).ok);
          const wrong = await settle(unary(client, { 'proxy-authorization': `Basic ${Buffer.from('teller:nope').toString('base64')}` }));
          assert.ok(!wrong.ok && wrong.err.code === grpc.status.UNAUTHENTICATED, 'a wrong credential: UNAUTHENTICATED (407)');
        } finally {
          client.close();
        }
      }
    } finally {
      await Promise.all([vault.close(), local.close()]);
    }
  });
});
