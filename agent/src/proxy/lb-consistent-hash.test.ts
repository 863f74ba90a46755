import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '@weft/shared';
import { ConsistentHashPicker, hashKeyOf } from './lb-consistent-hash.js';
import { CONSISTENT_HASH, lbPolicyName } from './lb-policies.js';
import { getLbPolicy, type LoadView } from './lb-policy.js';
import { endpoint } from './test-support.js';

const load = (active: Record<string, number> = {}, ejected: string[] = []): LoadView => ({
  active: (id) => active[id] ?? 0,
  isEjected: (id) => ejected.includes(id),
});
const eps = (n: number): Endpoint[] => Array.from({ length: n }, (_, i) => endpoint({ port: 1000 + i, instanceId: `i${i}` }));
const KEYS = Array.from({ length: 5000 }, (_, i) => `user-${i}`);

function assign(picker: ConsistentHashPicker): Map<string, string> {
  return new Map(KEYS.map((k) => [k, picker.pick({ hashKey: k })?.instanceId ?? 'none']));
}

describe('consistent-hash picker', () => {
  it('is registered under the name ServicePolicy documents use', () => {
    assert.equal(getLbPolicy(lbPolicyName('consistent-hash')).name, CONSISTENT_HASH);
  });

  it('sends the same key to the same endpoint and spreads keys over all endpoints', () => {
    const list = eps(5);
    const a = assign(new ConsistentHashPicker(list, load()));
    const b = assign(new ConsistentHashPicker([...list].reverse(), load()));
    assert.deepEqual(b, a, 'the endpoint order does not matter');
    const perEndpoint = new Map<string, number>();
    for (const id of a.values()) perEndpoint.set(id, (perEndpoint.get(id) ?? 0) + 1);
    assert.equal(perEndpoint.size, 5);
    for (const n of perEndpoint.values()) assert.ok(n > 800 && n < 1200, `share ${n} of 5000`);
  });

  it('moves only the removed endpoint’s keys (about 1/N) when one endpoint goes', () => {
    const list = eps(5);
    const before = assign(new ConsistentHashPicker(list, load()));
    const after = assign(
      new ConsistentHashPicker(
        list.filter((e) => e.instanceId !== 'i2'),
        load(),
      ),
    );
    let moved = 0;
    for (const k of KEYS) {
      if (before.get(k) === after.get(k)) continue;
      moved++;
      assert.equal(before.get(k), 'i2', `${k} moved although its endpoint stayed`);
    }
    assert.ok(moved > KEYS.length * 0.15 && moved < KEYS.length * 0.25, `moved ${moved} of ${KEYS.length}`);
    // Ejection and retry exclusion behave the same way: only that endpoint's keys move.
    const ejected = assign(new ConsistentHashPicker(list, load({}, ['i2'])));
    assert.deepEqual(ejected, after);
    const picker = new ConsistentHashPicker(list, load());
    for (const k of KEYS.slice(0, 200)) {
      const first = picker.pick({ hashKey: k })!.instanceId;
      assert.equal(picker.pick({ hashKey: k, exclude: new Set([first]) })?.instanceId === first, false);
    }
  });

  it('falls back to least-request when the request has no key', () => {
    const list = eps(2);
    const picker = new ConsistentHashPicker(list, load({ i0: 50 }));
    for (let i = 0; i < 20; i++) assert.equal(picker.pick()?.instanceId, 'i1');
  });

  it('reads the key from a header or a cookie', () => {
    assert.equal(hashKeyOf({ 'x-user': '42' }, { header: 'X-User' }), '42');
    assert.equal(hashKeyOf({}, { header: 'x-user' }), undefined);
    assert.equal(hashKeyOf({ cookie: 'a=1; session=abc; b=2' }, { cookie: 'session' }), 'abc');
    assert.equal(hashKeyOf({ cookie: 'sessionx=1' }, { cookie: 'session' }), undefined);
  });
});
