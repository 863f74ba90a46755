import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CircuitBreaker } from './circuit-breaker.js';
import { readableBody, type TryOutcome } from './forward.js';
import { RetryBudget } from './retry-budget.js';
import { retryReason } from './retry-policy.js';

describe('retry budget', () => {
  it('allows 20% of requests plus a floor of 3 per second of the window', () => {
    const now = 50_000;
    const b = new RetryBudget({ ratio: 0.2, minPerSecond: 3, windowMs: 10_000, now: () => now });
    for (let i = 0; i < 100; i++) b.recordRequest();
    let granted = 0;
    while (b.tryAcquire()) granted++;
    assert.equal(granted, 20 + 30);
    assert.equal(b.retriesInWindow, 50);
  });

  it('forgets requests and retries that left the sliding window', () => {
    let now = 0;
    const b = new RetryBudget({ ratio: 0.5, minPerSecond: 0, windowMs: 3_000, now: () => now });
    for (let i = 0; i < 10; i++) b.recordRequest();
    for (let i = 0; i < 5; i++) assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), false);
    now += 2_000;
    assert.equal(b.tryAcquire(), false, 'still inside the window');
    now += 1_000;
    assert.equal(b.allowed, 0, 'the old requests left the window');
    for (let i = 0; i < 4; i++) b.recordRequest();
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), false);
    now += 3_600_000;
    assert.equal(b.retriesInWindow, 0);
  });
});

describe('retry reasons', () => {
  const answer = (statusCode: number, headers: Record<string, string> = {}, viaPeer = false): TryOutcome => ({
    ok: true,
    response: { statusCode, headers, body: readableBody(Readable.from([])), viaPeer },
  });
  const peerAnswer = (statusCode: number, code: string): TryOutcome =>
    answer(statusCode, { 'x-weft-error': code, 'x-weft-answered-by': 'agent/b' }, true);
  const fail = (kind: 'connect' | 'unsent' | 'stale' | 'reset' | 'timeout' | 'aborted'): TryOutcome => ({ ok: false, kind, error: null });
  const get = { idempotent: true, body: null };
  const post = { idempotent: false, body: null };

  it('retries what the app cannot have seen, whatever the method', () => {
    assert.equal(retryReason(fail('connect'), post), 'connect_failed');
    assert.equal(retryReason(fail('unsent'), post), 'not_sent');
    assert.equal(retryReason(peerAnswer(503, 'unknown_instance'), post), 'not_delivered');
    assert.equal(retryReason(peerAnswer(502, 'upstream_connect_failed'), post), 'not_delivered');
    assert.equal(retryReason(peerAnswer(503, 'shutting_down'), post), 'not_delivered');
  });

  it('re-sends after the keep-alive race only what may run twice', () => {
    assert.equal(retryReason(fail('stale'), get), 'stale_connection');
    assert.equal(retryReason(fail('stale'), post), undefined, 'bytes of the POST were written: the app may have read them');
  });

  it('believes x-weft-error only from a peer agent that marked the answer as its own', () => {
    assert.equal(retryReason(answer(503, { 'x-weft-error': 'unknown_instance' }), post), undefined, 'an app said it');
    assert.equal(
      retryReason(answer(503, { 'x-weft-error': 'unknown_instance' }, true), post),
      undefined,
      'relayed from an app by the peer',
    );
    assert.equal(
      retryReason(answer(503, { 'x-weft-error': 'unknown_instance', 'x-weft-answered-by': 'agent/b' }), post),
      undefined,
      'straight from a local app, marker and all',
    );
  });

  it('retries resets, timeouts and 502/503/504 for idempotent methods only', () => {
    assert.equal(retryReason(fail('reset'), get), 'reset');
    assert.equal(retryReason(fail('timeout'), get), 'timeout');
    assert.equal(retryReason(answer(503), get), 'status_503');
    assert.equal(retryReason(answer(504), { idempotent: true, body: null }), 'status_504');
    assert.equal(retryReason(answer(500), get), undefined);
    assert.equal(retryReason(fail('reset'), post), undefined);
    assert.equal(retryReason(fail('timeout'), post), undefined);
    assert.equal(retryReason(answer(503), post), undefined);
    assert.equal(retryReason(fail('aborted'), get), undefined);
  });
});

describe('circuit breaker', () => {
  it('admits up to the active limit and names the limit it refuses on', () => {
    const c = new CircuitBreaker(2, 1);
    assert.equal(c.enter(), undefined);
    assert.equal(c.enter(), 'max_pending_requests');
    c.leavePending();
    assert.equal(c.enter(), undefined);
    c.leavePending();
    assert.equal(c.enter(), 'max_requests');
    assert.match(c.describe('orders', 'max_requests'), /service orders: .*2 requests .*max-requests-per-service=2/);
    c.leave();
    assert.equal(c.enter(), undefined);
  });
});
