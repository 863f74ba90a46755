import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '@weft/shared';
import { CatchUp, type CatchUpRequest } from './catch-up.js';
import { eventually } from './test-helpers.js';

const change = (services: string[], agents: string[] = [], kind = 'registry') =>
  ({ form: 'change', replica: 'r2', kind, revision: 1, services, agents }) as const;

/** A reader whose reads finish when the test says so. */
function gatedReader() {
  const reads: CatchUpRequest[] = [];
  const gates: { resolve(): void; reject(e: Error): void }[] = [];
  const read = (r: CatchUpRequest) =>
    new Promise<void>((resolve, reject) => {
      reads.push(r);
      gates.push({ resolve, reject });
    });
  return { reads, gates, read };
}

const plain = (r: CatchUpRequest | undefined) =>
  r && { everything: r.everything, kinds: [...r.kinds].sort(), services: [...r.services].sort(), agents: [...r.agents].sort() };

describe('catch-up reads', () => {
  test('one read at a time; notices arriving meanwhile are folded into one next read', async () => {
    const { reads, gates, read } = gatedReader();
    const catchUp = new CatchUp(read, silentLogger);
    catchUp.notice(change(['orders']));
    catchUp.notice(change(['web'], ['agent-a']));
    catchUp.notice(change(['orders', 'cart'], [], 'policy'));
    assert.equal(reads.length, 1);
    assert.deepEqual(plain(reads[0]), { everything: false, kinds: ['registry'], services: ['orders'], agents: [] });
    gates[0]?.resolve();
    await eventually('the folded read', () => reads.length === 2);
    assert.deepEqual(plain(reads[1]), {
      everything: false,
      kinds: ['policy', 'registry'],
      services: ['cart', 'orders', 'web'],
      agents: ['agent-a'],
    });
    gates[1]?.resolve();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(reads.length, 2);
    assert.equal(catchUp.busy(), false);
    catchUp.close();
  });

  test('a resync or a reload notice asks for everything', async () => {
    const { reads, gates, read } = gatedReader();
    const catchUp = new CatchUp(read, silentLogger);
    catchUp.everything();
    assert.equal(reads[0]?.everything, true);
    catchUp.notice({ form: 'reload', replica: 'r2', kind: 'registry', revision: 9, reloadAfter: 8 });
    gates[0]?.resolve();
    await eventually('the reload read', () => reads.length === 2);
    assert.equal(reads[1]?.everything, true);
    gates[1]?.resolve();
    catchUp.close();
  });

  test('a failed read is retried with what arrived meanwhile, and nothing is dropped', async () => {
    const { reads, gates, read } = gatedReader();
    const catchUp = new CatchUp(read, silentLogger);
    catchUp.notice(change(['orders']));
    catchUp.notice(change(['web']));
    gates[0]?.reject(new Error('database down'));
    await eventually('the retry', () => reads.length === 2, 3_000);
    assert.deepEqual(plain(reads[1])?.services, ['orders', 'web']);
    gates[1]?.resolve();
    catchUp.close();
  });
});
