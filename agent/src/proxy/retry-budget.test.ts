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
  const answer = (statusCode: number, headers: Record<string, string> = {}): TryOutcome => ({
    ok: true,
    response: { statusCode, headers, body: readableBody(Readable.from([])) },
  });
  const fail = (kind: 'connect' | 'stale' | 'reset' | 'timeout' | 'aborted'): TryOutcome => ({ ok: false, kind, error: null });
  const get = { method: 'GET', body: null };
  const post = { method: 'POST', body: null };

  it('retries what the app cannot have seen, whatever the method', () => {
    assert.equal(retryReason(fail('connect'), post), 'connect_failed');
    assert.equal(retryReason(fail('stale'), post), 'stale_connection');
    assert.equal(retryReason(answer(503, { 'x-weft-error': 'unknown_instance' }), post), 'not_delivered');
  });

  it('retries resets, timeouts and 502/503/504 for idempotent methods only', () => {
    assert.equal(retryReason(fail('reset'), get), 'reset');
    assert.equal(retryReason(fail('timeout'), get), 'timeout');
    assert.equal(retryReason(answer(503), get), 'status_503');
    assert.equal(retryReason(answer(504), { method: 'PUT', body: null }), 'status_504');
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
