/**
 * Static stability of traffic policy: the accepted policies go into the
 * agent's persisted snapshot with the endpoints, and a restarted agent loads
 * them (validated and compiled again) before the control plane answers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@weft/shared';
import { ConfigView } from '../discovery/config-view.js';
import { SNAPSHOT_FILE, SnapshotStore } from '../discovery/snapshot-store.js';
import { endpoint } from '../proxy/test-support.js';
import { PolicyView } from './policy-view.js';

const bundle = {
  service: 'orders',
  routes: { apiVersion: 'weft.dev/v1', kind: 'Routes', metadata: { service: 'orders' }, rules: [{ route: [{ tags: ['version=v2'] }] }] },
  policy: { apiVersion: 'weft.dev/v1', kind: 'ServicePolicy', metadata: { service: 'orders' }, loadBalancer: { policy: 'round-robin' } },
};

test('accepted policies survive an agent restart through the persisted snapshot', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-policy-snap-'));
  try {
    const policies = new PolicyView(silentLogger);
    const view = new ConfigView({ subscribeWaitMs: 100, logger: silentLogger, companion: policies });
    const store = new SnapshotStore(dir, view, silentLogger, policies);
    store.follow();
    policies.apply(
      [{ name: 'policy/orders', version: '7', body: 'policy', policy: { service: 'orders', json: JSON.stringify(bundle) } }] as never,
      [],
      [],
    );
    view.apply({ snapshots: [{ service: 'orders', version: '3', endpoints: [endpoint({ port: 8080 })] }], removed: [], notFound: [] });
    await store.flush();

    // A new process: fresh views, loaded from the file.
    const policies2 = new PolicyView(silentLogger);
    const view2 = new ConfigView({ subscribeWaitMs: 100, logger: silentLogger, companion: policies2 });
    const seeded = await new SnapshotStore(dir, view2, silentLogger, policies2).load();
    assert.deepEqual(
      seeded.map((s) => `${s.service}@${s.version}`),
      ['orders@3'],
    );
    const p = policies2.get('orders');
    assert.equal(p?.version, '7');
    assert.equal(p?.rules.length, 1);
    assert.equal(p?.lb?.policy.name, 'round_robin');
    assert.deepEqual(policies2.versions(), { 'policy/orders': '7' });

    // A damaged policy entry is skipped; the endpoints still load.
    const file = join(dir, SNAPSHOT_FILE);
    const raw = JSON.parse(await readFile(file, 'utf8')) as { resources: { name: string; policy?: { json: string } }[] };
    for (const r of raw.resources) if (r.policy) r.policy.json = '{"service":"orders","routes":{"kind":"Nope"}}';
    await writeFile(file, JSON.stringify(raw));
    const policies3 = new PolicyView(silentLogger);
    const seeded3 = await new SnapshotStore(
      dir,
      new ConfigView({ subscribeWaitMs: 100, logger: silentLogger }),
      silentLogger,
      policies3,
    ).load();
    assert.equal(seeded3.length, 1);
    assert.equal(policies3.get('orders'), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
