import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeshError, silentLogger } from '@weft/shared';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { SubscriptionLink } from './config-view.js';
import { ExternalView } from './external-view.js';

function link(connected = true): SubscriptionLink & { subscribed: string[][]; unsubscribed: string[][] } {
  const l = {
    subscribed: [] as string[][],
    unsubscribed: [] as string[][],
    isConnected: () => connected,
    subscribe: (names: string[]) => void l.subscribed.push(names),
    unsubscribe: (names: string[]) => void l.unsubscribed.push(names),
  };
  return l;
}

function doc(host: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'weft.dev/v1',
    kind: 'ExternalService',
    metadata: { service: 'pay' },
    host,
    port: 443,
    tls: true,
    ...fields,
  });
}

function resource(host: string, version: string, json = doc(host)): Resource__Output {
  return { name: `external/${host}`, version, body: 'external', external: { host, json } } as Resource__Output;
}

describe('ExternalView', () => {
  it('subscribes external/<host> on first lookup, resolves with the document, then answers synchronously and subscribes its policy', async () => {
    const view = new ExternalView({ subscribeWaitMs: 2_000, logger: silentLogger });
    const l = link();
    view.attach(l);
    const first = view.lookup('api.example.com');
    assert.ok(first instanceof Promise);
    assert.deepEqual(l.subscribed, [['external/api.example.com']]);
    assert.deepEqual(view.apply([resource('api.example.com', '3')], [], []), []);
    const t = await first;
    assert.deepEqual(
      { ...t },
      { service: 'pay', host: 'api.example.com', port: 443, tls: true, version: '3', json: doc('api.example.com') },
    );
    assert.equal(view.lookup('api.example.com'), t);
    assert.deepEqual(l.subscribed[1], ['policy/pay']);
    assert.deepEqual(view.versions(), { 'external/api.example.com': '3' });
    assert.deepEqual(view.subscriptions().sort(), ['external/api.example.com', 'policy/pay']);
  });

  it('answers undefined for a host the control plane does not know, stays subscribed, and learns a later declaration', async () => {
    const view = new ExternalView({ subscribeWaitMs: 2_000, logger: silentLogger });
    const l = link();
    view.attach(l);
    const first = view.lookup('later.example.com');
    view.apply([], [], ['external/later.example.com']);
    assert.equal(await first, undefined);
    assert.equal(view.lookup('later.example.com'), undefined, 'remembered: no second subscription');
    assert.equal(l.subscribed.length, 1);
    assert.ok(view.subscriptions().includes('external/later.example.com'));
    view.apply([resource('later.example.com', '7')], [], []);
    assert.equal((view.lookup('later.example.com') as { version: string }).version, '7');
    view.apply([], ['external/later.example.com'], []);
    assert.equal(view.lookup('later.example.com'), undefined);
  });

  it('NACKs an invalid document, naming the field, and keeps the previous version', () => {
    const view = new ExternalView({ subscribeWaitMs: 2_000, logger: silentLogger });
    view.attach(link());
    view.apply([resource('a.example.com', '1')], [], []);
    const errors = view.apply(
      [resource('a.example.com', '2', doc('a.example.com', { port: 0 })), resource('b.example.com', '2', doc('other.example.com'))],
      [],
      [],
    );
    assert.equal(errors.length, 2);
    assert.match(errors[0]?.message ?? '', /port: must be an integer 1\.\.65535/);
    assert.match(errors[1]?.message ?? '', /does not match/);
    assert.equal((view.lookup('a.example.com') as { version: string }).version, '1');
  });

  it('rejects with control_plane_unavailable for an unknown host while disconnected', async () => {
    const view = new ExternalView({ subscribeWaitMs: 2_000, logger: silentLogger });
    view.attach(link(false));
    await assert.rejects(
      Promise.resolve(view.lookup('x.example.com')),
      (err: unknown) => err instanceof MeshError && err.code === 'control_plane_unavailable',
    );
  });

  it('bounds the undeclared hosts it remembers, unsubscribing the oldest', () => {
    const view = new ExternalView({ subscribeWaitMs: 2_000, logger: silentLogger, maxUndeclared: 2 });
    const l = link();
    view.attach(l);
    view.apply([], [], ['external/a.example', 'external/b.example', 'external/c.example']);
    assert.deepEqual(l.unsubscribed, [['external/a.example']]);
    assert.deepEqual(view.dump().undeclared, ['b.example', 'c.example']);
  });
});
