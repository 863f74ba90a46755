import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTokens, tokenKindOf } from './token.js';

describe('weft token', () => {
  it('takes the kind from --kind or from --operator [--scope read|write], never from both', () => {
    assert.equal(tokenKindOf({}), 'join');
    assert.equal(tokenKindOf({ kind: 'read' }), 'read');
    assert.equal(tokenKindOf({ operator: true }), 'operator');
    assert.equal(tokenKindOf({ operator: true, scope: 'write' }), 'operator');
    assert.equal(tokenKindOf({ operator: true, scope: 'read' }), 'read');
    assert.throws(() => tokenKindOf({ operator: true, kind: 'join' }), /--kind: cannot be combined with --operator/);
    assert.throws(() => tokenKindOf({ scope: 'read' }), /--scope: goes with --operator/);
    assert.throws(() => tokenKindOf({ operator: true, scope: 'admin' }), /--scope: must be read or write/);
    assert.throws(() => tokenKindOf({ kind: 'root' }), /--kind: must be join, operator or read/);
  });

  it('lists tokens with what each can still do, and no secret', () => {
    const base = { created_at_ms: '1000', agent_id: '', description: '' };
    const text = formatTokens(
      [
        { ...base, token_id: 'a'.repeat(16), kind: 'TOKEN_KIND_OPERATOR', expires_at_ms: '0', uses_left: -1, description: 'bootstrap' },
        { ...base, token_id: 'b'.repeat(16), kind: 'TOKEN_KIND_JOIN', expires_at_ms: '5000', uses_left: 1, agent_id: 'web-1' },
        { ...base, token_id: 'c'.repeat(16), kind: 'TOKEN_KIND_JOIN', expires_at_ms: '0', uses_left: 0 },
      ],
      2000,
    );
    const [header, op, join, used] = text.split('\n');
    assert.match(header, /^TOKEN ID\s+KIND\s+STATE\s+CREATED\s+EXPIRES\s+USES LEFT\s+AGENT\s+DESCRIPTION/);
    assert.match(op, /^a{16}\s+operator\s+valid\s+1970-01-01T00:00:01Z\s+-\s+-\s+-\s+bootstrap$/);
    assert.match(join, /^b{16}\s+join\s+valid\s+\S+\s+1970-01-01T00:00:05Z\s+1\s+web-1\s+-$/);
    assert.match(used, /^c{16}\s+join\s+used up\s/);
    assert.match(
      formatTokens([{ ...base, token_id: 'd'.repeat(16), kind: 'TOKEN_KIND_READ', expires_at_ms: '1500', uses_left: -1 }], 2000),
      /read\s+expired/,
    );
  });
});
