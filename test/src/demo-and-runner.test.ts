/**
 * `npm start` (the demo) and `npm test` (scripts/run-tests.mjs), run as a
 * newcomer runs them: the first thing they see must be right.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

function run(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT (set for this file by the runner), a nested `node --test` reports as its own run.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    execFile(process.execPath, args, { timeout: 120_000, cwd, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A base port with 8 free ports after it (the demo's --ports-from), found by binding them. */
async function freeRange(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    const servers: net.Server[] = [];
    let ok = true;
    for (let p = base; p < base + 8 && ok; p++) {
      const s = net.createServer();
      ok = await new Promise<boolean>((r) => {
        s.once('error', () => r(false));
        s.listen(p, '127.0.0.1', () => r(true));
      });
      if (ok) servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error('no 8 free consecutive ports');
}

describe('the demo (npm start)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-demo-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('its caller starts only after orders is registered, and a second run starts from a clean state', async () => {
    const first = await run([WEFT_BIN, 'demo', '--duration', '4s', '--data-dir', dir, '--ports-from', String(await freeRange())]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const lines = first.stdout.split('\n').filter((l) => /web → orders/.test(l));
    assert.ok(lines.length >= 2, first.stdout);
    assert.doesNotMatch(lines.join('\n'), /errors:/, 'no unknown_service or no_healthy_endpoint, from the first second on');
    assert.match(lines[0], /ok 100\.0%/);

    const second = await run([WEFT_BIN, 'demo', '--duration', '2s', '--data-dir', dir, '--ports-from', String(await freeRange())]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const agentLog = readFileSync(join(dir, 'agent-b.log'), 'utf8');
    assert.doesNotMatch(agentLog, /restored local registrations/, 'no registration carried over from the first run');
    assert.doesNotMatch(agentLog, /loaded persisted config/, 'no config carried over from the first run');
    assert.equal(agentLog.match(/"msg":"agent stopped"/g)?.length, 1, 'the log is of this run only');
    // The demo starts its agents as the systemd unit does, under AGENT_NODE_FLAGS (an agent without them says so).
    assert.doesNotMatch(agentLog, /without the flags it is tuned for/, 'the agents run under AGENT_NODE_FLAGS');
  });
});

describe('npm test (scripts/run-tests.mjs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-runner-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('ends with one line totalling the unit and end-to-end tests: passed, failed, skipped', async () => {
    mkdirSync(join(dir, 'scripts'));
    copyFileSync(join(root, 'scripts/run-tests.mjs'), join(dir, 'scripts/run-tests.mjs'));
    const write = (file: string, body: string) => {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), `import { test } from 'node:test';\n${body}\n`);
    };
    write('shared/dist/a.test.js', "test('one', () => {});\ntest('two', () => {});\ntest('later', { skip: true }, () => {});");
    write('agent/dist/b.test.js', "test('three', () => {});");
    write('test/dist/c.test.js', "test('e2e one', () => {});\ntest('e2e skipped', { skip: 'not here' }, () => {});");
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    const r = await run([join(dir, 'scripts/run-tests.mjs')], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const last = r.stdout.trimEnd().split('\n').at(-1);
    assert.equal(last, 'all tests: 4 passed, 0 failed, 2 skipped (unit 4, e2e 2)');

    write('test/dist/c.test.js', "test('e2e fails', () => { throw new Error('no'); });");
    const failed = await run([join(dir, 'scripts/run-tests.mjs'), 'e2e'], dir);
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout.trimEnd().split('\n').at(-1), 'all tests: 0 passed, 1 failed, 0 skipped (e2e 1) - FAILED');
  });
});
