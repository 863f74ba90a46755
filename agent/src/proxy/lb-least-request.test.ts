import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '@weft/shared';
import { LEAST_REQUEST, LeastRequestPicker } from './lb-least-request.js';
import { describeHealth, getLbPolicy, type LoadView } from './lb-policy.js';
import { endpoint } from './test-support.js';

function view(active: Record<string, number> = {}, ejected: string[] = []): LoadView {
  return { active: (id) => active[id] ?? 0, isEjected: (id) => ejected.includes(id) };
}

function tally(picker: LeastRequestPicker, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = picker.pick();
    const id = e?.instanceId ?? 'none';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

const eps = (n: number, extra: Partial<Endpoint> = {}): Endpoint[] =>
  Array.from({ length: n }, (_, i) => endpoint({ port: 1000 + i, instanceId: `i${i}`, ...extra }));

describe('least-request picker', () => {
  it('is registered as the default policy', () => {
    assert.equal(getLbPolicy(LEAST_REQUEST).name, LEAST_REQUEST);
  });

  it('prefers the less loaded of two endpoints', () => {
    const picker = new LeastRequestPicker(eps(2), view({ i0: 10, i1: 0 }));
    assert.deepEqual([...tally(picker, 100)], [['i1', 100]]);
  });

  it('never picks the most loaded endpoint of many (power of two choices)', () => {
    const picker = new LeastRequestPicker(eps(5), view({ i0: 1, i1: 1, i2: 1, i3: 1, i4: 50 }));
    assert.equal(tally(picker, 300).get('i4'), undefined);
  });

  it('spreads picks across equally loaded endpoints', () => {
    const counts = tally(new LeastRequestPicker(eps(4), view()), 400);
    assert.equal(counts.size, 4);
  });

  it('is weight-aware: with equal load the heavier endpoint wins', () => {
    const [a, b] = eps(2);
    const picker = new LeastRequestPicker([{ ...a!, weight: 3 }, b!], view());
    assert.deepEqual([...tally(picker, 50)], [['i0', 50]]);
  });

  it('avoids ejected endpoints', () => {
    const picker = new LeastRequestPicker(eps(4), view({}, ['i2']));
    const counts = tally(picker, 300);
    assert.equal(counts.get('i2'), undefined);
    assert.equal(counts.size, 3);
  });

  it('ignores ejection when more than half of the endpoints are ejected', () => {
    const picker = new LeastRequestPicker(eps(2), view({}, ['i0', 'i1']));
    assert.equal(tally(picker, 100).get('none'), undefined);
  });

  it('never picks critical endpoints, and unknown ones only when nothing is passing or warning', () => {
    const mixed = [
      endpoint({ port: 1, instanceId: 'crit', health: 'critical' }),
      endpoint({ port: 2, instanceId: 'unk', health: 'unknown' }),
      endpoint({ port: 3, instanceId: 'warn', health: 'warning' }),
    ];
    assert.deepEqual([...tally(new LeastRequestPicker(mixed, view()), 50)], [['warn', 50]]);
    assert.deepEqual([...tally(new LeastRequestPicker(mixed.slice(0, 2), view()), 50)], [['unk', 50]]);
    assert.equal(new LeastRequestPicker(mixed.slice(0, 1), view()).pick(), undefined);
    assert.equal(describeHealth(mixed), '3 endpoints: 1 critical, 1 unknown, 1 warning');
  });

  it('skips excluded endpoints (retries go elsewhere)', () => {
    const picker = new LeastRequestPicker(eps(2), view());
    for (let i = 0; i < 20; i++) assert.equal(picker.pick({ exclude: new Set(['i0']) })?.instanceId, 'i1');
    assert.equal(picker.pick({ exclude: new Set(['i0', 'i1']) }), undefined);
  });
});
