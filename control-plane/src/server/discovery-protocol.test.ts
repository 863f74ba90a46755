/**
 * Stream-rule tests of DiscoveryStream over a real registry (SQLite in a temp
 * dir): every send goes through CheckedStream, which asserts the protocol
 * rules (nonce increases, one unanswered response, only subscribed names,
 * never a rejected or held version) on each response.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import type { AgentInfo, Health, InstanceSpec } from '@weft/shared';
import { silentLogger } from '@weft/shared';
import type { DiscoveryRequest__Output } from '@weft/shared/generated/weft/v1/DiscoveryRequest';
import { Registry } from '../registry/registry.js';
import { SqliteRegistryStore } from '../store/sqlite-backend.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { CheckedAgent, type CheckedStream, tempDir } from '../test-support.js';
import { DiscoveryStream } from './discovery-stream.js';
import { RejectedVersions } from './rejected-versions.js';

const owner: AgentInfo = { agentId: 'owner', hostname: 'o', address: '10.0.0.1', inboundPort: 15006, zone: 'z1', version: '1' };

function spec(service: string, instanceId: string, health: Health = 'passing'): InstanceSpec {
  return { service, instanceId, address: '127.0.0.1', port: 8080, zone: '', weight: 1, tags: [], metadata: {}, health, protocol: 'http' };
}

/** Lets group commits and stream flushes (both setImmediate) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

let dir: ReturnType<typeof tempDir>;
let store: SqliteStore;
let registry: Registry;
let rejections: RejectedVersions;
let seq = 0;

async function openRegistry(): Promise<void> {
  store = SqliteStore.open(join(dir.path, 'cp.db'));
  registry = new Registry(new SqliteRegistryStore(store), {
    leaseTtlMs: 60_000,
    restartGraceMs: 60_000,
    logger: silentLogger,
    sweepIntervalMs: 3_600_000,
  });
  await registry.start();
}

async function closeRegistry(): Promise<void> {
  await registry.close();
  store.close();
}

beforeEach(async () => {
  dir = tempDir();
  rejections = new RejectedVersions();
  await openRegistry();
});
afterEach(async () => {
  await closeRegistry();
  dir.remove();
});

interface Open {
  t: CheckedStream;
  s: DiscoveryStream;
  req(r: object, first?: boolean): void;
}

function open(agent: CheckedAgent): Open {
  const t = agent.stream();
  const s = new DiscoveryStream({
    streamId: String(++seq),
    agentId: agent.agentId,
    source: registry,
    send: t.send,
    logger: silentLogger,
    rejections: rejections.forAgent(agent.agentId),
  });
  return { t, s, req: (r, first = false) => s.onRequest(r as DiscoveryRequest__Output, first) };
}

const names = (r: { resources?: { name?: string }[] } | undefined) => (r?.resources ?? []).map((x) => x.name).sort();

test('rules hold on every send through subscribe, changes, NACKs, unsubscribe and a reconnect', async () => {
  await registry.register(
    owner,
    ['p1', 'p2', 'p3', 'p4', 'p5'].map((s) => spec(s, `${s}-1`)),
    false,
  );
  const agent = new CheckedAgent('agent-x');
  const a = open(agent);
  a.req(a.t.subscribe('endpoints/p1', 'endpoints/p2', 'endpoints/p3', 'endpoints/p4', 'endpoints/p5', 'endpoints/missing'), true);
  assert.deepEqual(names(a.t.responses[0]), ['endpoints/p1', 'endpoints/p2', 'endpoints/p3', 'endpoints/p4', 'endpoints/p5']);
  assert.deepEqual(a.t.responses[0].not_found, ['endpoints/missing']);

  // A change while the first response is unanswered waits (coalesced) ...
  await registry.setHealth('owner', 'p1-1', 'critical');
  await settle();
  assert.equal(a.t.responses.length, 1);
  // ... and is sent after the answer, which NACKs p2.
  a.req(a.t.answer(['endpoints/p2']));
  assert.deepEqual(names(a.t.responses[1]), ['endpoints/p1']);
  a.req(a.t.answer());

  // p2 changes: its new version is sent and rejected again.
  await registry.setHealth('owner', 'p2-1', 'critical');
  await settle();
  assert.deepEqual(names(a.t.responses[2]), ['endpoints/p2']);
  a.req(a.t.answer(['endpoints/p2']));

  // Unsubscribed names get nothing.
  a.req(a.t.unsubscribe('endpoints/p3'));
  await registry.setHealth('owner', 'p3-1', 'critical');
  await settle();
  assert.equal(a.t.responses.length, 3);

  // p4 changes and the stream breaks before the agent answers.
  await registry.setHealth('owner', 'p4-1', 'critical');
  await settle();
  assert.deepEqual(names(a.t.responses[3]), ['endpoints/p4']);
  a.s.close();

  // Reconnect: the agent declares what it holds. Sent: p4 (never ACKed); NOT p2,
  // whose latest version this agent rejected on its previous stream.
  const b = open(agent);
  b.req(b.t.resume('endpoints/p1', 'endpoints/p2', 'endpoints/p4', 'endpoints/p5'), true);
  assert.deepEqual(names(b.t.responses[0]), ['endpoints/p4']);
  b.req(b.t.answer());
  assert.deepEqual(
    rejections.ofAgent('agent-x').map((r) => r.name),
    ['endpoints/p2'],
  );

  // A newer p2 is sent and, once accepted, the remembered rejection goes away.
  await registry.register(owner, [spec('p2', 'p2-2')], false);
  await settle();
  assert.deepEqual(names(b.t.responses[1]), ['endpoints/p2']);
  b.req(b.t.answer());
  assert.deepEqual(rejections.ofAgent('agent-x'), []);
  b.s.close();
  assert.deepEqual(agent.violations, []);
});

test('a stalled agent costs pending state bounded by its subscriptions; other agents keep getting updates', async () => {
  const services = Array.from({ length: 20 }, (_, i) => `st${i}`);
  await registry.register(
    owner,
    services.map((s) => spec(s, `${s}-1`)),
    false,
  );
  const subs = services.map((s) => `endpoints/${s}`);
  const stalledAgent = new CheckedAgent('stalled');
  const stalled = open(stalledAgent);
  stalled.req(stalled.t.subscribe(...subs), true);
  const fastAgent = new CheckedAgent('fast');
  const fast = open(fastAgent);
  fast.req(fast.t.subscribe(...subs), true);
  fast.req(fast.t.answer());

  let maxPending = 0;
  let changes = 0;
  for (let round = 0; round < 20; round++) {
    const writes: Promise<unknown>[] = [];
    for (let k = 0; k < 50; k++, changes++) {
      const service = services[changes % services.length];
      const health: Health = Math.floor(changes / services.length) % 2 === 0 ? 'critical' : 'passing';
      writes.push(registry.setHealth('owner', `${service}-1`, health));
    }
    await Promise.all(writes);
    await settle();
    maxPending = Math.max(maxPending, stalled.s.pendingNames);
    // The fast agent got this round's changes already and answers them.
    const pending = fast.t.pendingResponse;
    assert.ok(pending, `round ${round}: the fast agent got no update`);
    fast.req(fast.t.answer());
    for (const s of services) assert.equal(fastAgent.held.get(`endpoints/${s}`), registry.service(s)?.version, `round ${round}: ${s}`);
  }
  assert.equal(changes, 1000);
  assert.ok(maxPending <= subs.length, `pending ${maxPending} > ${subs.length} subscriptions`);
  assert.equal(stalled.s.pendingNames, subs.length);
  assert.equal(stalled.t.responses.length, 1, 'nothing more is sent until the stalled agent answers');

  // When it finally answers, it gets one response with the latest version of each service.
  stalled.req(stalled.t.answer());
  assert.equal(stalled.t.responses.length, 2);
  assert.deepEqual(names(stalled.t.responses[1]), [...subs].sort());
  for (const r of stalled.t.responses[1].resources ?? []) {
    assert.equal(r.version, registry.service((r.name ?? '').slice('endpoints/'.length))?.version);
  }
  stalled.s.close();
  fast.s.close();
  assert.deepEqual([...stalledAgent.violations, ...fastAgent.violations], []);
});

test('a reconnect (also after a control-plane restart) resends no unchanged resource', async () => {
  const services = Array.from({ length: 30 }, (_, i) => `rs${i}`);
  await registry.register(
    owner,
    services.map((s) => spec(s, `${s}-1`)),
    false,
  );
  const subs = services.map((s) => `endpoints/${s}`);
  const agent = new CheckedAgent('resumer');
  const a = open(agent);
  a.req(a.t.subscribe(...subs), true);
  a.req(a.t.answer());
  assert.equal(a.t.resourcesSent, 30);
  a.s.close();

  const b = open(agent);
  b.req(b.t.resume(), true);
  assert.equal(b.t.responses.length, 1, 'the first request is always answered');
  assert.equal(b.t.resourcesSent, 0, 'unchanged resources resent');
  b.req(b.t.answer());
  b.s.close();

  // Same after the control plane restarts on the same database: versions are persisted.
  await closeRegistry();
  await openRegistry();
  const c = open(agent);
  c.req(c.t.resume(), true);
  assert.equal(c.t.resourcesSent, 0, 'unchanged resources resent after a restart');
  c.req(c.t.answer());
  await registry.setHealth('owner', 'rs7-1', 'critical');
  await settle();
  assert.deepEqual(names(c.t.responses[1]), ['endpoints/rs7']);
  c.req(c.t.answer());
  c.s.close();
  assert.equal(agent.resentUnchanged, 0);
  assert.deepEqual(agent.violations, []);
});
