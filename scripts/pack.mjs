#!/usr/bin/env node
// Builds the one installable package: `npm run pack` -> weft-<version>.tgz in
// the repo root (or `--out DIR`), installable with `npm install -g ./weft-<version>.tgz`.
//
// The workspaces stay private; this assembles dist-pkg/weft/ from their
// compiled output instead:
//   package.json            name "weft", bin weft -> bin/weft.js, the runtime
//                           dependencies of every workspace (pinned to the
//                           versions installed here, the ones the tests ran on)
//   bin/, dist/             the CLI (@weft/cli)
//   proto/                  the wire contract, loaded at run time (shared/src/proto.ts
//                           looks for proto/ above its own dist/)
//   node_modules/@weft/*    shared, control-plane, agent, client: bundled
//                           (bundleDependencies), so npm never looks them up in
//                           a registry (no such public packages exist)
// Tests (*.test.js), source maps and build info stay out. Run after `tsc -b`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `--out DIR`: where the tarball goes (default: the repo root); the package is staged in DIR/dist-pkg/weft.
const outAt = process.argv.indexOf('--out');
const dest = outAt > 0 && process.argv[outAt + 1] ? process.argv[outAt + 1] : root;
const staging = join(dest, 'dist-pkg');
const out = join(staging, 'weft');
const BUNDLED = ['shared', 'control-plane', 'agent', 'client'];

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const rootPkg = readJson(join(root, 'package.json'));

/** Compiled output without tests, maps and build info. */
const keep = (src) => !/\.test\.(js|d\.ts)$|\.map$|\.tsbuildinfo$/.test(src);

function installedVersion(name) {
  return readJson(join(root, 'node_modules', name, 'package.json')).version;
}

for (const ws of [...BUNDLED, 'cli']) {
  if (!existsSync(join(root, ws, 'dist'))) {
    console.error(`${ws}/dist is missing: run \`npx tsc -b\` first`);
    process.exit(1);
  }
}

rmSync(staging, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// Third-party runtime dependencies of the root (the workspaces' common ones) and of each bundled workspace.
const deps = {};
const addDeps = (d = {}) => {
  for (const name of Object.keys(d)) if (!name.startsWith('@weft/')) deps[name] = installedVersion(name);
};
addDeps(rootPkg.dependencies);

for (const ws of BUNDLED) {
  const pkg = readJson(join(root, ws, 'package.json'));
  addDeps(pkg.dependencies);
  const dest = join(out, 'node_modules', pkg.name);
  cpSync(join(root, ws, 'dist'), join(dest, 'dist'), { recursive: true, filter: keep });
  // Their own dependencies are the package's (hoisted above them), so npm resolves each once.
  const { private: _p, dependencies: _d, devDependencies: _dd, scripts: _s, ...rest } = pkg;
  writeFileSync(join(dest, 'package.json'), `${JSON.stringify(rest, null, 2)}\n`);
}

cpSync(join(root, 'cli', 'bin'), join(out, 'bin'), { recursive: true });
cpSync(join(root, 'cli', 'dist'), join(out, 'dist'), { recursive: true, filter: keep });
cpSync(join(root, 'proto'), join(out, 'proto'), { recursive: true });
cpSync(join(root, 'README.md'), join(out, 'README.md'));
if (existsSync(join(root, 'docs'))) cpSync(join(root, 'docs'), join(out, 'docs'), { recursive: true });

const bundled = BUNDLED.map((ws) => `@weft/${ws}`);
const pkg = {
  name: 'weft',
  version: rootPkg.version,
  description: rootPkg.description,
  type: 'module',
  engines: rootPkg.engines,
  bin: { weft: 'bin/weft.js' },
  files: ['bin/', 'dist/', 'proto/', 'docs/', 'README.md'],
  dependencies: { ...Object.fromEntries(bundled.map((n) => [n, rootPkg.version])), ...sortKeys(deps) },
  bundleDependencies: bundled,
};
writeFileSync(join(out, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

function sortKeys(o) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

const r = spawnSync('npm', ['pack', '--silent', '--pack-destination', dest], { cwd: out, encoding: 'utf8' });
if (r.status !== 0) {
  process.stderr.write(r.stderr);
  process.exit(r.status ?? 1);
}
const file = r.stdout.trim().split('\n').pop();
console.log(join(dest, file));
