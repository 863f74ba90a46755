import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '@weft/shared';
import { ConfigView, type SubscriptionLink } from './config-view.js';
import { IdleSubscriptions, SWEEPS_PER_IDLE } from './idle-subscriptions.js';

function setup(connected = true) {
  const unsubscribed: string[] = [];
  const view = new ConfigView({ subscribeWaitMs: 1000, logger: createLogger({}, { level: 'error', write: () => {} }) });
  const link: SubscriptionLink = {
    isConnected: () => connected,
    subscribe: () => {},
    unsubscribe: (names) => unsubscribed.push(...names),
  };
  view.attach(link);
  const snap = (service: string) => ({ service, version: '1', endpoints: [] });
  view.apply({ snapshots: [snap('orders'), snap('billing'), snap('local')], removed: [], notFound: ['typo'] });
  return { view, unsubscribed, setConnected: (c: boolean) => (connected = c) };
}

describe('idle subscriptions', () => {
  it('drops the services not used for one idle time, keeps the used and the pinned ones', () => {
    const { view, unsubscribed } = setup();
    const idle = new IdleSubscriptions(view.idleTarget(), 1000, (s) => s === 'local');
    idle.sweep(); // first sight of every subscription
    for (let i = 0; i < SWEEPS_PER_IDLE; i++) {
      view.resolve('orders');
      assert.deepEqual(idle.sweep(), []);
    }
    view.resolve('orders');
    assert.deepEqual(idle.sweep().sort(), ['billing', 'typo']);
    assert.deepEqual(unsubscribed.sort(), ['endpoints/billing', 'endpoints/typo']);
    assert.equal(view.get('billing'), undefined);
    assert.ok(view.get('orders'));
    assert.ok(view.get('local'), 'a pinned service stays');
    assert.equal(view.isNotFound('typo'), false);
  });

  it('drops nothing while the control plane is unreachable (what is held is all there is)', () => {
    const { view, unsubscribed, setConnected } = setup(false);
    const idle = new IdleSubscriptions(view.idleTarget(), 1000);
    for (let i = 0; i < SWEEPS_PER_IDLE * 3; i++) assert.deepEqual(idle.sweep(), []);
    assert.deepEqual(unsubscribed, []);
    setConnected(true);
    idle.sweep();
    assert.ok(view.get('orders'));
  });

  it('never drops anything with an idle time of 0', () => {
    const { view } = setup();
    const idle = new IdleSubscriptions(view.idleTarget(), 0);
    idle.start();
    idle.close();
    assert.ok(view.get('billing'));
  });
});
