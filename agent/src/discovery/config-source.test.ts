import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Endpoint, silentLogger } from '@weft/shared';
import { ConfigView } from './config-view.js';

const endpoint: Endpoint = {
  service: 'orders',
  instanceId: 'o1',
  agentId: 'agent-b',
  agentAddress: '127.0.0.1',
  agentPort: 15006,
  address: '127.0.0.1',
  port: 8080,
  zone: '',
  weight: 1,
  tags: [],
  metadata: {},
  health: 'passing',
  protocol: 'http',
};

test('config seeded from a persisted snapshot is served at once and reported as source "snapshot"', () => {
  const view = new ConfigView({ subscribeWaitMs: 100, logger: silentLogger });
  try {
    assert.equal(view.connection().source, 'none');
    view.seed([]);
    assert.equal(view.connection().source, 'none', 'an empty snapshot is no config');
    view.seed([{ service: 'orders', version: '7', endpoints: [endpoint] }]);
    assert.equal(view.connection().source, 'snapshot');
    assert.equal(view.connection().connected, false);
    const snap = view.resolve('orders');
    assert.ok(!(snap instanceof Promise));
    assert.equal(snap.version, '7');
    assert.equal(view.dump().connection.source, 'snapshot');

    // The first response from the control plane makes it the source.
    view.markConnected();
    view.markResponse('9');
    assert.equal(view.connection().source, 'control-plane');
  } finally {
    view.close();
  }
});
