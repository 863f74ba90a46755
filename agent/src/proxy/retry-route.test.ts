import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TryOutcome, UpstreamResponse } from './forward.js';
import { backoffMs, type RetryCondition, retryReason } from './retry-policy.js';

const answer = (statusCode: number, headers: Record<string, string> = {}): TryOutcome => ({
  ok: true,
  // retryReason reads the status and headers only; a peer agent's own answers carry its mark.
  response: { statusCode, headers, body: {} as UpstreamResponse['body'], viaPeer: 'x-weft-answered-by' in headers },
});
const failed = (kind: 'connect' | 'stale' | 'reset' | 'timeout'): TryOutcome => ({ ok: false, kind, error: new Error(kind) });
const GET = { idempotent: true, body: null };
const POST = { idempotent: false, body: null };
const on = (...c: RetryCondition[]) => new Set(c);

describe('route retry conditions', () => {
  it('retries only what the rule names', () => {
    assert.equal(retryReason(answer(500), GET), undefined, 'the proxy default never retries a 500');
    assert.equal(retryReason(answer(500), GET, on('5xx')), 'status_500');
    assert.equal(retryReason(answer(500), GET, on('gateway-error')), undefined);
    assert.equal(retryReason(answer(503), GET, on('gateway-error')), 'status_503');
    assert.equal(retryReason(answer(503), GET, on('connect-failure')), undefined);
    assert.equal(retryReason(answer(409), GET, on('retriable-4xx')), 'status_409');
    assert.equal(retryReason(failed('reset'), GET, on('connect-failure')), undefined);
    assert.equal(retryReason(failed('reset'), GET, on('reset')), 'reset');
    assert.equal(retryReason(failed('timeout'), GET, on('reset')), undefined);
    assert.equal(retryReason(failed('timeout'), GET, on('5xx')), 'timeout');
    assert.equal(retryReason(failed('connect'), POST, on('connect-failure')), 'connect_failed');
    assert.equal(
      retryReason(answer(503, { 'x-weft-error': 'unknown_instance', 'x-weft-answered-by': 'agent/b' }), POST, on('5xx')),
      'not_delivered',
    );
  });

  it('never replays a request the app may have seen, whatever the rule says', () => {
    assert.equal(retryReason(answer(503), POST, on('5xx', 'gateway-error')), undefined);
    assert.equal(retryReason(failed('reset'), POST, on('reset')), undefined);
    assert.equal(retryReason(failed('stale'), POST, on('retriable-4xx')), undefined);
    assert.equal(retryReason(failed('stale'), GET, on('retriable-4xx')), 'stale_connection');
  });

  it('backs off with full jitter under the cap', () => {
    const b = { baseMs: 25, maxMs: 250 };
    assert.equal(
      backoffMs(b, 0, () => 0.999),
      24,
    );
    assert.equal(
      backoffMs(b, 2, () => 0.5),
      50,
    );
    assert.equal(
      backoffMs(b, 10, () => 0.999),
      249,
    );
    assert.equal(
      backoffMs(b, 3, () => 0),
      0,
    );
  });
});
