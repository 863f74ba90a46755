/**
 * deploy/systemd/: the units parse, their hardening and restart policy are
 * there, and every flag their ExecStart passes exists in the weft command.
 * With systemd-analyze on the machine, `systemd-analyze verify` checks each
 * unit as systemd would (with ExecStart pointing at this checkout's weft).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS } from '@weft/agent';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const UNITS = { 'weft-control-plane.service': 'control-plane', 'weft-agent.service': 'agent' } as const;
const INSTALLED_BIN = '/usr/local/bin/weft';

/** Section -> key -> values (a key may repeat). Comments and blank lines skipped; no line continuations are used. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
      return;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && current, `line ${i + 1}: not a key=value inside a section: ${raw}`);
    current.set(kv[1], [...(current.get(kv[1]) ?? []), kv[2]]);
  });
  return sections;
}

describe('systemd units', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-units-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [file, command] of Object.entries(UNITS)) {
    test(`${file}: restart policy, dedicated user, state dir, hardening, and ExecStart flags that weft ${command} knows`, () => {
      const text = readFileSync(join(root, 'deploy/systemd', file), 'utf8');
      const unit = parseUnit(text);
      const service = unit.get('Service');
      assert.ok(service && unit.get('Unit') && unit.get('Install'), 'sections Unit, Service, Install');
      const one = (key: string) => service.get(key)?.[0];
      assert.equal(one('Restart'), 'on-failure');
      assert.equal(one('User'), 'weft');
      assert.equal(one('StateDirectory'), `weft/${command}`);
      for (const [key, value] of [
        ['NoNewPrivileges', 'yes'],
        ['ProtectSystem', 'strict'],
        ['ProtectHome', 'yes'],
        ['PrivateTmp', 'yes'],
        ['CapabilityBoundingSet', ''],
      ])
        assert.equal(one(key), value, key);
      assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');

      const words = one('ExecStart')?.split(/\s+/) ?? [];
      // The agent's unit runs weft through node with the V8 flags the agent is tuned for (agent/src/node-flags.ts).
      const node = command === 'agent' ? ['/usr/bin/env', 'node', ...AGENT_NODE_FLAGS] : [];
      assert.deepEqual(words.slice(0, node.length), node, 'node and its flags');
      const exec = words.slice(node.length);
      assert.deepEqual(exec.slice(0, 2), [INSTALLED_BIN, command]);
      assert.ok(exec.includes(`/var/lib/weft/${command}`), 'the data dir is the StateDirectory');
      if (command === 'agent') assert.ok(exec.includes('--join-token-file'));
      const help = execFileSync(process.execPath, [WEFT_BIN, command, '--help'], { encoding: 'utf8' });
      for (const flag of exec.filter((a) => a.startsWith('--')))
        assert.ok(help.includes(`${flag} `), `weft ${command} --help lists ${flag}`);
    });
  }

  test('the env file example sets only what the units read', () => {
    const text = readFileSync(join(root, 'deploy/systemd/weft.env.example'), 'utf8');
    const vars = text
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => l.split('=')[0]);
    assert.deepEqual(vars.sort(), ['WEFT_AGENT_FLAGS', 'WEFT_CONTROL_PLANE_FLAGS', 'WEFT_LOG_LEVEL']);
    const flags = (name: string) =>
      (/^.*?=(.*)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name}=`)) ?? '')?.[1] ?? '').split(/\s+/);
    const help = (cmd: string) => execFileSync(process.execPath, [WEFT_BIN, cmd, '--help'], { encoding: 'utf8' });
    for (const f of flags('WEFT_AGENT_FLAGS').filter((a) => a.startsWith('--'))) assert.ok(help('agent').includes(`${f} `), f);
    for (const f of flags('WEFT_CONTROL_PLANE_FLAGS').filter((a) => a.startsWith('--')))
      assert.ok(help('control-plane').includes(`${f} `), f);
  });

  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  test('systemd-analyze verify accepts both units', { skip: analyze ? false : 'systemd-analyze is not installed' }, () => {
    // ExecStart must name an executable that exists: this checkout's weft, behind a small wrapper (run directly),
    // or the script itself (the agent's unit runs it through node).
    const bin = join(dir, 'weft');
    writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${WEFT_BIN}" "$@"\n`);
    chmodSync(bin, 0o755);
    const files = Object.keys(UNITS).map((file) => {
      const copy = join(dir, file);
      const text = readFileSync(join(root, 'deploy/systemd', file), 'utf8');
      writeFileSync(
        copy,
        text
          .replaceAll(` node ${AGENT_NODE_FLAGS.join(' ')} ${INSTALLED_BIN}`, ` node ${AGENT_NODE_FLAGS.join(' ')} ${WEFT_BIN}`)
          .replaceAll(INSTALLED_BIN, bin),
      );
      return copy;
    });
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no unknown key, no bad value');
  });
});
