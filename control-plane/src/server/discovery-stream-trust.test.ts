import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger, TRUST_REVOCATIONS_RESOURCE } from '@weft/shared';
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { Resource } from '@weft/shared/generated/weft/v1/Resource';
import type { Watcher } from '../registry/watch-index.js';
import { DiscoveryStream, type TrustSource } from './discovery-stream.js';

/** A trust source holding one deny list whose version the test bumps. */
function fakeTrust() {
  let entry: { version: string; resource: Resource } | undefined;
  const watchers = new Set<Watcher>();
  const source: TrustSource = {
    entry: (name) => (name === TRUST_REVOCATIONS_RESOURCE ? entry : undefined),
    addWatcher: (_name, w) => watchers.add(w),
    removeWatcher: (_name, w) => watchers.delete(w),
  };
  return {
    source,
    watchers,
    set(version: string, agentIds: string[]) {
      entry = { version, resource: { name: TRUST_REVOCATIONS_RESOURCE, version, revocations: { agent_ids: agentIds, serials: [] } } };
      for (const w of watchers) w.changed(TRUST_REVOCATIONS_RESOURCE);
    },
  };
}

function stream(trust: TrustSource, sent: DiscoveryResponse[]) {
  return new DiscoveryStream({
    streamId: '1',
    agentId: 'a',
    source: { service: () => undefined, addWatcher: () => {}, removeWatcher: () => {}, revision: () => 7 },
    send: (r) => sent.push(r),
    logger: silentLogger,
    trust,
  });
}

const tick = () => new Promise((r) => setImmediate(r));

test('a trust resource follows the stream rules: answered at once, pushed on change after the ACK, not resent when held', async () => {
  const trust = fakeTrust();
  trust.set('0', []);
  const sent: DiscoveryResponse[] = [];
  const s = stream(trust.source, sent);
  s.onRequest({ subscribe: [TRUST_REVOCATIONS_RESOURCE] } as never, true);
  assert.deepEqual(
    sent[0].resources?.map((r) => [r.name, r.version]),
    [[TRUST_REVOCATIONS_RESOURCE, '0']],
  );
  trust.set('1', ['bad']);
  await tick();
  assert.equal(sent.length, 1, 'nothing is sent while a response is unanswered');
  s.onRequest({ response_nonce: '1' } as never, false);
  assert.deepEqual(sent[1].resources?.[0].revocations?.agent_ids, ['bad']);
  s.close();
  assert.equal(trust.watchers.size, 0, 'closing the stream cancels its watch');

  // A reconnecting agent that holds version 1 gets nothing new for it.
  const again: DiscoveryResponse[] = [];
  const s2 = stream(trust.source, again);
  s2.onRequest({ subscribe: [TRUST_REVOCATIONS_RESOURCE], initial_versions: { [TRUST_REVOCATIONS_RESOURCE]: '1' } } as never, true);
  assert.deepEqual(again[0].resources, []);
  s2.close();
});

test('without a trust source, trust names are not_found', () => {
  const sent: DiscoveryResponse[] = [];
  const s = new DiscoveryStream({
    streamId: '1',
    agentId: 'a',
    source: { service: () => undefined, addWatcher: () => {}, removeWatcher: () => {}, revision: () => 1 },
    send: (r) => sent.push(r),
    logger: silentLogger,
  });
  s.onRequest({ subscribe: [TRUST_REVOCATIONS_RESOURCE] } as never, true);
  assert.deepEqual(sent[0].not_found, [TRUST_REVOCATIONS_RESOURCE]);
  s.close();
});
