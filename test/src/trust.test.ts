/**
 * Identity and access across real processes: the control plane's TLS port,
 * enrolment with join tokens, identities taken from certificates, operator
 * and read tokens, restart, renewal under a live stream, and revocation.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { CONTROL_PLANE_TLS_OPTIONS, loadWeftProto } from '@weft/shared';
import type { DiscoveryClient } from '@weft/shared/generated/weft/v1/Discovery';
import { getJson, Mesh, registerWith, servicesAtControlPlane, waitFor } from './harness.js';

function weft(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [WEFT_BIN, ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** The structured log records among a process's stderr lines. */
const records = (lines: string[]) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

/** Opens a discovery stream claiming `agentId` and resolves with the status that ends it. */
function streamEnd(discovery: DiscoveryClient, agentId: string): Promise<grpc.StatusObject> {
  const stream = discovery.Stream();
  return new Promise((resolve) => {
    stream.on('status', resolve);
    stream.on('error', () => {});
    stream.write({ agent: { agent_id: agentId, address: '127.0.0.1', inbound_port: 15006 } });
  });
}

const unary = <T>(fn: (cb: (err: grpc.ServiceError | null, res?: T) => void) => void) =>
  new Promise<{ err: grpc.ServiceError | null; res?: T }>((resolve) => fn((err, res) => resolve({ err, res })));

describe('trust: who may call the control plane', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('a client without a certificate or token can call nothing but Enrol', async () => {
    const cp = await mesh.controlPlane();
    const proto = loadWeftProto();
    const creds = mesh.tlsTo(cp.grpcPort);
    const registry = new proto.Registry(`127.0.0.1:${cp.grpcPort}`, creds, CONTROL_PLANE_TLS_OPTIONS);
    const trust = new proto.Trust(`127.0.0.1:${cp.grpcPort}`, creds, CONTROL_PLANE_TLS_OPTIONS);
    try {
      const list = await unary((cb) => registry.ListServices({}, cb));
      assert.equal(list.err?.code, grpc.status.UNAUTHENTICATED);
      const reg = await unary((cb) =>
        registry.Register({ agent: { agent_id: 'x', address: '127.0.0.1', inbound_port: 1 }, instances: [] }, cb),
      );
      assert.equal(reg.err?.code, grpc.status.UNAUTHENTICATED);
      const token = await unary((cb) => trust.CreateToken({ kind: 'TOKEN_KIND_OPERATOR' }, cb));
      assert.equal(token.err?.code, grpc.status.UNAUTHENTICATED);
      const status = await streamEnd(new proto.Discovery(`127.0.0.1:${cp.grpcPort}`, creds, CONTROL_PLANE_TLS_OPTIONS), 'x');
      assert.equal(status.code, grpc.status.UNAUTHENTICATED);
      // Enrol answers (and refuses the bad token on its merits, not for lack of a certificate).
      const enrol = await unary((cb) => trust.Enrol({ join_token: 'nope', agent_id: 'x', csr_pem: 'x' }, cb));
      assert.equal(enrol.err?.code, grpc.status.UNAUTHENTICATED);
      assert.match(enrol.err?.details ?? '', /join_token: is not a Weft token/);
    } finally {
      registry.close();
      trust.close();
    }
  });

  test('a certificate from another mesh CA is no identity', async () => {
    const cp = await mesh.controlPlane();
    const other = await mesh.controlPlane({ dataDir: `${mesh.dir}/other-cp` });
    const foreign = await mesh.agentClients(other.grpcPort, 'agent-f');
    after(() => foreign.close());
    const registry = new (loadWeftProto().Registry)(
      `127.0.0.1:${cp.grpcPort}`,
      mesh.tlsTo(cp.grpcPort, foreign),
      CONTROL_PLANE_TLS_OPTIONS,
    );
    try {
      const reg = await unary((cb) =>
        registry.Register({ agent: { agent_id: 'agent-f', address: '127.0.0.1', inbound_port: 1 }, instances: [] }, cb),
      );
      assert.equal(reg.err?.code, grpc.status.UNAUTHENTICATED);
    } finally {
      registry.close();
    }
  });

  test("an agent cannot claim another agent's id, touch its instances, or open a stream as it", async () => {
    const cp = await mesh.controlPlane();
    const x = await mesh.agentClients(cp.grpcPort, 'agent-x');
    const y = await mesh.agentClients(cp.grpcPort, 'agent-y');
    after(() => {
      x.close();
      y.close();
    });
    const agent = (id: string) => ({ agent_id: id, address: '127.0.0.1', inbound_port: 15006 });
    const inst = { service: 'orders', instance_id: 'orders-x', address: '127.0.0.1', port: 8080 };
    assert.equal((await unary((cb) => x.registry.Register({ agent: agent('agent-x'), instances: [inst] }, cb))).err, null);
    // An empty agent id means "the caller".
    assert.equal((await unary((cb) => y.registry.Register({ agent: agent(''), instances: [] }, cb))).err, null);

    const claim = await unary((cb) => y.registry.Register({ agent: agent('agent-x'), instances: [inst] }, cb));
    assert.equal(claim.err?.code, grpc.status.PERMISSION_DENIED);
    assert.match(claim.err?.details ?? '', /agent\.agent_id: "agent-x" is not the caller/);
    const steal = await unary((cb) => y.registry.Register({ agent: agent('agent-y'), instances: [inst] }, cb));
    assert.equal(steal.err?.code, grpc.status.INVALID_ARGUMENT, 'an instance id owned by another agent is refused');
    const dereg = await unary((cb) => y.registry.Deregister({ agent_id: 'agent-x', instance_ids: ['orders-x'] }, cb));
    assert.equal(dereg.err?.code, grpc.status.PERMISSION_DENIED);
    const dereg2 = await unary((cb) => y.registry.Deregister({ agent_id: '', instance_ids: ['orders-x'] }, cb));
    assert.equal(dereg2.err?.code, grpc.status.NOT_FOUND);
    const health = await unary((cb) =>
      y.registry.SetHealth({ agent_id: 'agent-x', instance_id: 'orders-x', health: 'HEALTH_CRITICAL' }, cb),
    );
    assert.equal(health.err?.code, grpc.status.PERMISSION_DENIED);
    const status = await streamEnd(y.discovery, 'agent-x');
    assert.equal(status.code, grpc.status.PERMISSION_DENIED);
    // Only addresses of its own host: loopback or the address it advertises (its admin API's check, skipped here).
    const elsewhere = { service: 'payments', instance_id: 'payments-y', address: '192.0.2.7', port: 443 };
    const relay = await unary((cb) => y.registry.Register({ agent: agent('agent-y'), instances: [elsewhere] }, cb));
    assert.equal(relay.err?.code, grpc.status.PERMISSION_DENIED);
    assert.match(relay.err?.details ?? '', /^instances\[0\]\.address: "192\.0\.2\.7" is not on agent "agent-y"'s host/);
    const advertised = { agent_id: 'agent-y', address: '192.0.2.7', inbound_port: 15006 };
    assert.equal((await unary((cb) => y.registry.Register({ agent: advertised, instances: [elsewhere] }, cb))).err, null);
    assert.deepEqual((await servicesAtControlPlane(cp)).get('orders'), ['orders-x']);
    // An agent certificate is not an operator credential.
    const apply = await unary((cb) => x.registry.ApplyConfig({ documents: [], dry_run: true }, cb));
    assert.equal(apply.err?.code, grpc.status.PERMISSION_DENIED);
  });

  test('writes need an operator token; a read token reads but cannot write', async () => {
    const cp = await mesh.controlPlane();
    const read = await mesh.createToken(cp.grpcPort, { kind: 'read' });
    const addr = ['--control-plane', `127.0.0.1:${cp.grpcPort}`];
    const noLocal = { WEFT_CONTROL_PLANE_DATA_DIR: '/nonexistent' };
    const reads = await weft(['services', ...addr], { ...noLocal, WEFT_TOKEN: read });
    assert.equal(reads.code, 0, reads.stderr);
    const writes = await weft(['token', 'create', ...addr], { ...noLocal, WEFT_TOKEN: read });
    assert.notEqual(writes.code, 0);
    assert.match(writes.stderr, /a read token cannot write/);
    const none = await weft(['services', ...addr], noLocal);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no token/);
    const op = await weft(['--token', mesh.operator(cp.grpcPort).token, 'token', 'create', '--kind', 'read', ...addr], noLocal);
    assert.equal(op.code, 0, op.stderr);
    assert.match(op.stdout, /^weft\.read\./);
  });

  test('tokens are listed and revoked: a revoked token is refused at once, the last operator token cannot be revoked', async () => {
    const cp = await mesh.controlPlane();
    const addr = ['--control-plane', `127.0.0.1:${cp.grpcPort}`];
    const noLocal = { WEFT_CONTROL_PLANE_DATA_DIR: '/nonexistent' };
    // The bootstrap token: <data-dir>/operator.token, 0600.
    const bootstrapFile = join(cp.dataDir, 'operator.token');
    assert.equal(statSync(bootstrapFile).mode & 0o777, 0o600);
    const operator = mesh.operator(cp.grpcPort).token;
    // `--operator --scope read` makes a read token; kept in a file and sent with --token-file.
    const made = await weft(
      ['--token-file', bootstrapFile, 'token', 'create', '--operator', '--scope', 'read', '--description', 'ci reader', ...addr],
      noLocal,
    );
    assert.equal(made.code, 0, made.stderr);
    const reader = made.stdout.trim();
    assert.match(reader, /^weft\.read\./);
    const readerFile = join(mesh.dir, 'reader.token');
    writeFileSync(readerFile, `${reader}\n`, { mode: 0o600 });
    const reads = await weft(['--token-file', readerFile, 'services', ...addr], noLocal);
    assert.equal(reads.code, 0, reads.stderr);
    const listByReader = await weft(['--token-file', readerFile, 'token', 'list', ...addr], noLocal);
    assert.notEqual(listByReader.code, 0);
    assert.match(listByReader.stderr, /ListTokens refused: .*needs an operator token/);

    const list = await weft(['--token', operator, 'token', 'list', '--json', ...addr], noLocal);
    assert.equal(list.code, 0, list.stderr);
    const [, , readerId, readerSecret] = reader.split('.');
    const listed = JSON.parse(list.stdout) as { token_id: string; kind: string; description: string }[];
    assert.deepEqual(
      listed.map((t) => [t.kind, t.description]),
      [
        ['TOKEN_KIND_OPERATOR', 'bootstrap'],
        ['TOKEN_KIND_READ', 'ci reader'],
      ],
    );
    assert.equal(listed[1].token_id, readerId);
    assert.ok(!list.stdout.includes(readerSecret), 'a listed token carries no secret');

    const revoked = await weft(['--token', operator, 'token', 'revoke', readerId, ...addr], noLocal);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked read token ${readerId}`));
    const refused = await weft(['--token-file', readerFile, 'services', ...addr], noLocal);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`unknown token ${readerId} \\(never made here, or revoked\\)`));

    // The bootstrap token is the only operator token left: revoking it would lock the operators out.
    const last = await weft(['--token', operator, 'token', 'revoke', operator.split('.')[2], ...addr], noLocal);
    assert.notEqual(last.code, 0);
    assert.match(last.stderr, /token_id: token [0-9a-f]{16} is the last valid operator token; make another first/);
    const unknown = await weft(['--token', operator, 'token', 'revoke', '0123456789abcdef', ...addr], noLocal);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no token 0123456789abcdef/);
    // With a second operator token the first may go, and calls with it fail from then on.
    const second = await weft(['--token', operator, 'token', 'create', '--operator', ...addr], noLocal);
    assert.equal(second.code, 0, second.stderr);
    const gone = await weft(['--token', second.stdout.trim(), 'token', 'revoke', operator.split('.')[2], ...addr], noLocal);
    assert.equal(gone.code, 0, gone.stderr);
    const old = await weft(['--token', operator, 'token', 'list', ...addr], noLocal);
    assert.notEqual(old.code, 0);
    assert.match(old.stderr, /unknown token/);
  });

  test('expired and used-up join tokens are refused with a clear error; no token and no certificate is an error', async () => {
    const cp = await mesh.controlPlane();
    const args = (dir: string, token?: string) => [
      'agent',
      '--control-plane',
      `127.0.0.1:${cp.grpcPort}`,
      '--data-dir',
      `${mesh.dir}/${dir}`,
      '--agent-id',
      dir,
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      ...(token ? ['--join-token', token] : []),
    ];
    const expired = await mesh.createToken(cp.grpcPort, { ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const r1 = await weft(args('exp', expired));
    assert.notEqual(r1.code, 0);
    assert.match(r1.stderr, /enrolment refused.*token [0-9a-f]{16} expired at/);
    const once = await mesh.createToken(cp.grpcPort, { uses: 1 });
    const first = await mesh.agent('used-1', cp.grpcPort, ['--join-token', once]);
    assert.ok(first.ready.spiffeId);
    const r2 = await weft(args('used-2', once));
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /token [0-9a-f]{16} is used up/);
    const r3 = await weft(args('none'));
    assert.notEqual(r3.code, 0);
    assert.match(r3.stderr, /no certificate in .* and no join token/);
  });

  test('a restarted agent reuses its key and certificate', async () => {
    const cp = await mesh.controlPlane();
    const a = await mesh.agent('restart-a', cp.grpcPort);
    const serial = records(a.logLines).find((r) => r.msg === 'enrolled')?.serial;
    assert.ok(serial);
    assert.equal(statSync(`${mesh.dir}/restart-a/identity/agent.key`).mode & 0o777, 0o600);
    assert.equal(statSync(`${mesh.dir}/restart-a/identity`).mode & 0o777, 0o700);
    await a.stop();
    const again = await mesh.agent('restart-a', cp.grpcPort);
    const reused = records(again.logLines).find((r) => r.msg === 'using the stored identity');
    assert.equal(reused?.serial, serial);
  });
});

describe('trust: renewal and revocation', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('certificates are renewed under a live stream, which is never dropped', async () => {
    const cp = await mesh.controlPlane({ extra: ['--cert-ttl', '3s'] });
    const a = await mesh.agent('renew-a', cp.grpcPort, ['--renew-at', '0.4']);
    await waitFor('two renewals', () => a.logLines.filter((l) => l.includes('"certificate renewed"')).length >= 2, 10_000);
    assert.equal(a.logLines.filter((l) => l.includes('"control plane connected"')).length, 1, 'the stream was reopened');
    // 3 s certificates renewed at ~40% of their life: about one renewal a second, not a loop.
    assert.ok(a.logLines.filter((l) => l.includes('"certificate renewed"')).length <= 6, 'renewals are spaced by the certificate life');
    const agents = await getJson<{ agents: { agentId: string; connected: boolean; certExpiresAtMs: number }[] }>(cp.httpPort, '/v1/agents');
    const me = agents.agents.find((x) => x.agentId === 'renew-a');
    assert.ok(me?.connected);
    assert.ok(me.certExpiresAtMs > Date.now(), 'status shows the renewed certificate');
  });

  test('revocation cuts the stream, removes the instances and puts the agent on every deny list', async () => {
    const cp = await mesh.controlPlane();
    const a = await mesh.agent('rev-a', cp.grpcPort);
    const b = await mesh.agent('rev-b', cp.grpcPort);
    await registerWith(a, { name: 'orders', port: 9, id: 'orders-rev' });
    await waitFor('orders registered', async () => (await servicesAtControlPlane(cp)).get('orders')?.length === 1);
    const r = await weft(['agent', 'revoke', 'rev-a', '--control-plane', `127.0.0.1:${cp.grpcPort}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 instance\(s\) removed, stream closed/);
    assert.equal((await servicesAtControlPlane(cp)).get('orders'), undefined);
    await waitFor('the agent to see its stream cut', () => a.logLines.some((l) => l.includes('PERMISSION_DENIED')));
    await waitFor('the peer to get the deny list', () =>
      b.logLines.some((l) => l.includes('"deny list updated"') && l.includes('"agents":1')),
    );
    // The revoked agent cannot come back with its certificate.
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal((await servicesAtControlPlane(cp)).get('orders'), undefined);
    const status = await weft(['status', '--control-plane', `127.0.0.1:${cp.grpcPort}`]);
    assert.match(status.stdout, /rev-b .*\d{4}-\d\d-\d\dT/);
  });
});

describe('trust: CA rotation', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('a second root is trusted, then issues, then the old one is removed, without dropping agents', async () => {
    const cp = await mesh.controlPlane({ extra: ['--cert-ttl', '4s'] });
    const a = await mesh.agent('rot-a', cp.grpcPort, ['--renew-at', '0.5']);
    const bundleFile = `${mesh.dir}/rot-a/identity/ca-bundle.crt`;
    const roots = () => (readFileSync(bundleFile, 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length;
    const addr = ['--control-plane', `127.0.0.1:${cp.grpcPort}`];
    const list = await weft(['ca', 'list', ...addr]);
    const old = /^([0-9a-f]{64})\s+yes/m.exec(list.stdout)?.[1];
    assert.ok(old, list.stdout + list.stderr);

    const added = await weft(['ca', 'add', ...addr]);
    assert.equal(added.code, 0, added.stderr);
    const next = added.stdout.match(/[0-9a-f]{64}/g)?.find((f) => f !== old);
    assert.ok(next);
    await waitFor('the agent to hold both roots', () => roots() === 2);

    assert.equal((await weft(['ca', 'activate', next.slice(0, 16), ...addr])).code, 0);
    const nextRoot = new X509Certificate(readFileSync(`${cp.dataDir}/ca/${next}.crt`));
    await waitFor(
      'a certificate from the new root',
      () => new X509Certificate(readFileSync(`${mesh.dir}/rot-a/identity/agent.crt`)).verify(nextRoot.publicKey),
      10_000,
    );

    assert.equal((await weft(['ca', 'remove', old, ...addr])).code, 0);
    await waitFor('the agent to drop the old root', () => roots() === 1);
    // Renewals keep working over the connection; the agent stays connected and in sync.
    const renewed = a.logLines.filter((l) => l.includes('"certificate renewed"')).length;
    await waitFor('another renewal', () => a.logLines.filter((l) => l.includes('"certificate renewed"')).length > renewed, 10_000);
    const agents = await getJson<{ agents: { agentId: string; connected: boolean }[] }>(cp.httpPort, '/v1/agents');
    assert.ok(agents.agents.find((x) => x.agentId === 'rot-a')?.connected);
  });
});
