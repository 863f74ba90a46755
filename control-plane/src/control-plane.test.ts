import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '@weft/shared';
import type { ListServicesResponse__Output } from '@weft/shared/generated/weft/v1/ListServicesResponse';
import { agentInfo, instance, startHarness, TestStream, tempDir } from './test-support.js';

test("logs 'ready' with the bound ports and keeps registrations across a restart of the same data dir", async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const logger = createLogger({}, { level: 'info', write: (l) => lines.push(l) });
  try {
    const first = await startHarness({ dataDir: dir.path, logger });
    const ready = lines.map((l) => JSON.parse(l)).find((r) => r.msg === 'ready');
    assert.deepEqual(ready && [ready.grpcPort, ready.httpPort, ready.dataDir], [first.cp.grpcPort, first.cp.httpPort, dir.path]);
    await first.call('Register', { agent: agentInfo('restart-agent'), instances: [instance('kept', 'k1')] });
    const before = await first.call<ListServicesResponse__Output>('ListServices', {});
    await first.close(true);

    // With a 50 ms TTL the agent, which never reconnects, would be gone at once; the restart grace keeps it.
    const second = await startHarness({ dataDir: dir.path, leaseTtlMs: 50, restartGraceMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 120)); // several sweeps
      const after = await second.call<ListServicesResponse__Output>('ListServices', {});
      assert.deepEqual(after, before);
    } finally {
      await second.close(true);
    }
  } finally {
    dir.remove();
  }
});

test("when an agent's last stream closes and its lease lapses, its instances are removed for every subscriber", async () => {
  const h = await startHarness({ leaseTtlMs: 150 });
  const owner = new TestStream(h.discovery).send({ agent: agentInfo('lapse-owner') });
  const watcher = new TestStream(h.discovery).send({ agent: agentInfo('lapse-watcher'), subscribe: ['endpoints/lapse'] });
  try {
    await owner.next();
    watcher.ack((await watcher.next()).nonce); // not_found
    await h.call('Register', { agent: agentInfo('lapse-owner'), instances: [instance('lapse', 'l1')] });
    const added = await watcher.next();
    assert.equal(added.resources[0].name, 'endpoints/lapse');
    watcher.ack(added.nonce);

    owner.close();
    const removed = await watcher.next(3000);
    assert.deepEqual(removed.removed, ['endpoints/lapse']);
    const services = await h.call<ListServicesResponse__Output>('ListServices', {});
    assert.deepEqual(services.services, []);
  } finally {
    watcher.close();
    await h.close();
  }
});
