#!/usr/bin/env node
// Runs the compiled tests with node:test. `unit` = tests beside the code in each
// package; `e2e` = test/ (real processes); no argument = both, unit first.
// E2E files run one at a time: each starts several processes and the CI
// machine has 2 cores.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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

function run(label, files, concurrency) {
  if (files.length === 0) {
    console.log(`${label}: no test files`);
    return 0;
  }
  console.log(`${label}: ${files.length} files`);
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
    stdio: 'inherit',
    cwd: root,
  });
  return r.status ?? 1;
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
}
process.exit(status);
