import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { readableBody, type TryOutcome } from './forward.js';
import { OutlierDetector, verdictOf } from './outlier-detector.js';

/** A peer agent's own answer (viaPeer, marked): the only kind whose x-weft-error is believed. */
function peer(statusCode: number, code: string): TryOutcome {
  return answer(statusCode, { 'x-weft-error': code, 'x-weft-answered-by': 'agent/b' }, true);
}

function answer(statusCode: number, headers: Record<string, string> = {}, viaPeer = false): TryOutcome {
  return { ok: true, response: { statusCode, headers, body: readableBody(Readable.from([])), viaPeer } };
}

describe('outlier detector', () => {
  it('ejects after 5 consecutive failures, and a success in between starts the count over', () => {
    const d = new OutlierDetector({ now: () => 0 });
    for (let i = 0; i < 4; i++) assert.equal(d.record('failure', 'a', 'orders', 4), 0);
    d.record('success', 'a', 'orders', 4);
    for (let i = 0; i < 4; i++) assert.equal(d.record('failure', 'a', 'orders', 4), 0);
    assert.equal(d.isEjected('a'), false);
    assert.equal(d.record('failure', 'a', 'orders', 4), 5_000);
    assert.equal(d.isEjected('a'), true);
  });

  it('ejects an unreachable endpoint at once', () => {
    const d = new OutlierDetector({ now: () => 0 });
    assert.equal(d.record('unreachable', 'a', 'orders', 4), 5_000);
    assert.equal(d.record('unreachable', 'a', 'orders', 4), 0, 'already ejected');
  });

  it('grows the ejection as base x number of ejections, up to 5 minutes', () => {
    let now = 1_000_000;
    const d = new OutlierDetector({ now: () => now });
    const lengths: number[] = [];
    for (let i = 0; i < 70; i++) {
      lengths.push(d.record('unreachable', 'a', 'orders', 4));
      now += 301_000;
    }
    assert.deepEqual(lengths.slice(0, 4), [5_000, 10_000, 15_000, 20_000]);
    assert.equal(lengths[69], 300_000);
    // A success right after coming back keeps the count; one a whole base period later resets it.
    d.record('success', 'a', 'orders', 4);
    assert.equal(d.record('unreachable', 'a', 'orders', 4), 300_000);
    now += 305_000;
    d.record('success', 'a', 'orders', 4);
    assert.equal(d.record('unreachable', 'a', 'orders', 4), 5_000);
  });

  it('never ejects more than half of a service', () => {
    const d = new OutlierDetector({ now: () => 0 });
    for (const id of ['a', 'b', 'c', 'd']) d.record('unreachable', id, 'orders', 4);
    assert.equal(d.ejectedCount('orders'), 2);
    assert.equal(d.record('unreachable', 'x', 'single', 1), 0);
    assert.equal(d.isEjected('x'), false);
    assert.ok(d.record('unreachable', 'p', 'payments', 2) > 0, 'other services have their own cap');
    assert.deepEqual(
      [...d.ejectedByService()],
      [
        ['orders', 2],
        ['payments', 1],
      ],
    );
  });

  it('reads outcomes: 5xx, resets and timeouts fail; connect failures and undelivered peers are unreachable; the rest is neutral', () => {
    assert.equal(verdictOf(answer(200)), 'success');
    assert.equal(verdictOf(answer(404)), 'success');
    assert.equal(verdictOf(answer(503)), 'failure');
    assert.equal(verdictOf(peer(503, 'unknown_instance')), 'unreachable');
    assert.equal(verdictOf(peer(502, 'upstream_connect_failed')), 'unreachable');
    assert.equal(verdictOf(peer(503, 'shutting_down')), 'unreachable');
    assert.equal(verdictOf(answer(503, { 'x-weft-error': 'unknown_instance' })), 'failure', "an app cannot claim the mesh's codes");
    assert.equal(verdictOf(answer(503, { 'x-weft-error': 'circuit_open' })), 'failure');
    assert.equal(verdictOf({ ok: false, kind: 'connect', error: null }), 'unreachable');
    assert.equal(verdictOf({ ok: false, kind: 'timeout', error: null }), 'failure');
    assert.equal(verdictOf({ ok: false, kind: 'reset', error: null }), 'failure');
    assert.equal(verdictOf({ ok: false, kind: 'stale', error: null }), 'neutral');
    assert.equal(verdictOf({ ok: false, kind: 'aborted', error: null }), 'neutral');
  });
});
