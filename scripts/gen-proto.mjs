#!/usr/bin/env node
// Generates TypeScript types for proto/weft/v1/*.proto into shared/src/generated.
// With --check, generates into a temporary folder and fails when the committed
// files differ (generated code is never hand-edited).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'proto');
const target = join(root, 'shared/src/generated');
const check = process.argv.includes('--check');
const protos = readdirSync(join(protoDir, 'weft/v1'))
  .filter((f) => f.endsWith('.proto'))
  .map((f) => `weft/v1/${f}`);

function generate(outDir) {
  const bin = join(root, 'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
  execFileSync(
    process.execPath,
    [
      bin,
      '--grpcLib=@grpc/grpc-js',
      '--keepCase',
      '--longs=String',
      '--enums=String',
      '--defaults',
      '--oneofs',
      '--importFileExtension=.js',
      '--includeDirs',
      protoDir,
      '--outDir',
      outDir,
      ...protos,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // The generator records the absolute path of each .proto; make it relative so
  // the output does not depend on where the repository is checked out.
  for (const file of listFiles(outDir)) {
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.split(`${root}/`).join(''));
  }
}

function listFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

if (!check) {
  rmSync(target, { recursive: true, force: true });
  generate(target);
  console.log(`generated ${listFiles(target).length} files in ${relative(root, target)}`);
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'weft-gen-'));
  try {
    generate(tmp);
    const fresh = listFiles(tmp).map((f) => relative(tmp, f));
    let committed = [];
    try {
      committed = listFiles(target).map((f) => relative(target, f));
    } catch {}
    const stale = [];
    for (const f of new Set([...fresh, ...committed])) {
      let a = null,
        b = null;
      try {
        a = readFileSync(join(tmp, f), 'utf8');
      } catch {}
      try {
        b = readFileSync(join(target, f), 'utf8');
      } catch {}
      if (a !== b) stale.push(f);
    }
    if (stale.length) {
      console.error(`generated proto types are stale (${stale.join(', ')}); run: npm run gen`);
      process.exit(1);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
