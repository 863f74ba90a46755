#!/usr/bin/env node
// Runs the compiled tests with node:test. `unit` = tests beside the code in each
// package; `e2e` = test/ (real processes); no argument = both, unit first.
// E2E files run one at a time: each starts several processes and the CI
// machine has 2 cores.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const which = process.argv[2] ?? 'all';
const UNIT_PACKAGES = ['shared', 'control-plane', 'agent', 'client', 'cli'];

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

// Besides the spec output, each run writes TAP to a scratch file; its closing
// `# pass N` / `# fail N` / ... lines give the counts for the one total line
// printed at the end (unit + e2e).
const scratch = mkdtempSync(join(tmpdir(), 'weft-tests-'));
const totals = [];

function run(label, files, concurrency) {
  if (files.length === 0) {
    console.log(`${label}: no test files`);
    return 0;
  }
  console.log(`${label}: ${files.length} files`);
  const tap = join(scratch, `${label}.tap`);
  const r = spawnSync(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ],
    { stdio: 'inherit', cwd: root },
  );
  totals.push({ label, ...countsOf(tap) });
  return r.status ?? 1;
}

/** The summary counts at the end of a TAP file (top level only); zeros when the run died before writing them. */
function countsOf(file) {
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0, cancelled: 0 };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { ...counts, missing: true };
  }
  const field = { pass: 'passed', fail: 'failed', skipped: 'skipped', todo: 'todo', cancelled: 'cancelled' };
  for (const m of text.matchAll(/^# (pass|fail|skipped|todo|cancelled) (\d+)$/gm)) counts[field[m[1]]] = Number(m[2]);
  return counts;
}

let status = 0;
if (which === 'all' || which === 'unit') {
  status ||= run(
    'unit',
    UNIT_PACKAGES.flatMap((p) => findTests(join(root, p, 'dist'))),
    2,
  );
}
if ((which === 'all' && status === 0) || which === 'e2e') {
  status ||= run('e2e', findTests(join(root, 'test/dist')), 1);
} else if (which === 'all') console.log('e2e: not run (unit tests failed)');
rmSync(scratch, { recursive: true, force: true });

const sum = (k) => totals.reduce((n, t) => n + t[k], 0);
const parts = totals.map((t) => `${t.label} ${t.passed + t.failed + t.skipped + t.todo + t.cancelled}${t.missing ? ' (no summary)' : ''}`);
console.log(
  `\nall tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped` +
    `${sum('todo') ? `, ${sum('todo')} todo` : ''}${sum('cancelled') ? `, ${sum('cancelled')} cancelled` : ''}` +
    ` (${parts.join(', ') || 'nothing run'})${status === 0 ? '' : ' - FAILED'}`,
);
process.exit(status);
