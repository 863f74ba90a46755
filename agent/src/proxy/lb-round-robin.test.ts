import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '@weft/shared';
import { LEAST_REQUEST, lbPolicyName, ROUND_ROBIN } from './lb-policies.js';
import { getLbPolicy, type LoadView } from './lb-policy.js';
import { RoundRobinPicker } from './lb-round-robin.js';
import { endpoint } from './test-support.js';

const noLoad = (ejected: string[] = []): LoadView => ({ active: () => 0, isEjected: (id) => ejected.includes(id) });
const eps = (n: number, extra: Partial<Endpoint> = {}): Endpoint[] =>
  Array.from({ length: n }, (_, i) => endpoint({ port: 1000 + i, instanceId: `i${i}`, ...extra }));

describe('round-robin picker', () => {
  it('is registered under the name ServicePolicy documents use', () => {
    assert.equal(getLbPolicy(lbPolicyName('round-robin')).name, ROUND_ROBIN);
    assert.equal(getLbPolicy(lbPolicyName('least-request')).name, LEAST_REQUEST);
  });

  it('spreads requests evenly, in turn', () => {
    const picker = new RoundRobinPicker(eps(4), noLoad(), () => 0);
    const counts = new Map<string, number>();
    const order: string[] = [];
    for (let i = 0; i < 400; i++) {
      const id = picker.pick()?.instanceId ?? 'none';
      if (i < 8) order.push(id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual(order, ['i0', 'i1', 'i2', 'i3', 'i0', 'i1', 'i2', 'i3']);
    assert.deepEqual([...counts.values()], [100, 100, 100, 100]);
  });

  it('skips excluded, ejected and critical endpoints', () => {
    const list = [...eps(3), endpoint({ port: 2000, instanceId: 'sick', health: 'critical' })];
    const picker = new RoundRobinPicker(list, noLoad(['i1']), () => 0);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(picker.pick({ exclude: new Set(['i2']) })?.instanceId ?? 'none');
    assert.deepEqual([...seen], ['i0']);
    assert.equal(picker.pick({ exclude: new Set(['i0', 'i2']) }), undefined);
  });
});
