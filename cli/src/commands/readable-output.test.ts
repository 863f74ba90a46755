import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AgentStatus__Output } from '@weft/shared/generated/weft/v1/AgentStatus';
import { formatRetry } from './explain.js';
import { agentStates } from './services.js';
import { inSync } from './status.js';

describe('what the CLI prints', () => {
  it('explain prints retry settings as lines, not JSON', () => {
    const text = formatRetry({
      attempts: 2,
      on: 'connect failures (any method); reset, per-try timeout, 502/503/504 (idempotent methods)',
      budget: 'agent retry budget',
      source: 'agent default',
    });
    assert.equal(
      text,
      [
        'retry: 2 retries after the first try (agent default)',
        '  on: connect failures (any method); reset, per-try timeout, 502/503/504 (idempotent methods)',
        '  budget: agent retry budget',
      ].join('\n'),
    );
    assert.equal(
      formatRetry({ attempts: 1, on: ['gateway-error', 'reset'], backoff: { base: '25ms', max: '250ms' } }),
      'retry: 1 retry after the first try\n  on: gateway-error, reset\n  backoff: base 25ms, max 250ms',
    );
    assert.equal(formatRetry({ attempts: 0 }), 'retry: none');
    assert.doesNotMatch(formatRetry({ attempts: 3, on: ['5xx'] }), /[{}"]/);
  });

  it('services shows the owning agent as connected, or disconnected with when its instances go', () => {
    const agent = (id: string, connected: boolean, leaseMs: number, revoked = false, sinceMs = 0) =>
      ({
        agent: { agent_id: id },
        connected,
        lease_expires_at_ms: String(leaseMs),
        disconnected_at_ms: String(sinceMs),
        revoked,
      }) as unknown as AgentStatus__Output;
    const state = agentStates(
      [agent('a', true, 0), agent('b', false, 61_500, false, 42_000), agent('c', false, 0, true), agent('d', false, 61_500)],
      50_000,
    );
    assert.equal(state('a'), 'connected');
    assert.equal(state('b'), 'disconnected since 1970-01-01T00:00:42Z (8s ago), removed in 12s');
    assert.equal(state('d'), 'disconnected, removed in 12s', 'left before this control plane started: no since');
    assert.equal(state('c'), 'revoked');
    assert.equal(state('gone'), 'unknown');
  });

  it('status counts acknowledged and not-found resources as in sync, a pending or rejected one not', () => {
    assert.ok(inSync({ sent_version: '7', acked_version: '7', rejected_version: '' }));
    assert.ok(inSync({ sent_version: '', acked_version: '', rejected_version: '' }), 'not found: nothing owed');
    assert.ok(!inSync({ sent_version: '8', acked_version: '7', rejected_version: '' }));
    assert.ok(!inSync({ sent_version: '', acked_version: '', rejected_version: '9' }));
  });
});
