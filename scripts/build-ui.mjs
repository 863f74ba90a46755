#!/usr/bin/env node
// Builds the dashboard (control-plane/ui) into control-plane/dist/ui, which the
// control plane serves under /ui/ (control-plane/src/server/ui-assets.ts):
//   index.html  copied as is (no inline script or style: the CSP forbids both), favicon.svg
//   app.js      src/main.tsx with preact and uPlot, one minified ES module
//   app.css     styles.css with uPlot's stylesheet
// The UI's TypeScript is type-checked first (control-plane/ui/tsconfig.json);
// a type error fails the build. Run by `npm run build` after `tsc -b`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'control-plane', 'ui');
const out = join(root, 'control-plane', 'dist', 'ui');

const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(src, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  console.error('build-ui: the dashboard does not type-check');
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [
    { in: join(src, 'src', 'main.tsx'), out: 'app' },
    { in: join(src, 'styles.css'), out: 'app' },
  ],
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'favicon.svg']) copyFileSync(join(src, file), join(out, file));
