/**
 * node-flags.ts: the check tells a node started with AGENT_NODE_FLAGS from one
 * started without them (each in its own process: V8 reads these flags only at
 * startup).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { AGENT_NODE_FLAGS } from './node-flags.js';

const MODULE = new URL('./node-flags.js', import.meta.url).href;
const check = `import(${JSON.stringify(MODULE)}).then((m) => process.stdout.write(String(m.startedWithAgentNodeFlags())))`;

function startedWith(flags: readonly string[]): string {
  return execFileSync(process.execPath, [...flags, '-e', check], { encoding: 'utf8' });
}

test('a node started with AGENT_NODE_FLAGS passes the check, one without them does not', () => {
  assert.ok(AGENT_NODE_FLAGS.length > 0);
  assert.equal(startedWith(AGENT_NODE_FLAGS), 'true');
  assert.equal(startedWith([]), 'false');
});

test('node accepts every flag on its command line (a misspelt V8 flag would stop the agent from starting)', () => {
  for (const flag of AGENT_NODE_FLAGS) assert.match(flag, /^--[a-z0-9-]+(=\S+)?$/);
  assert.equal(execFileSync(process.execPath, [...AGENT_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' }), 'ok');
});
