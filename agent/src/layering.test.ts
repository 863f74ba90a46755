/**
 * The agent's layers only look down (docs/architecture.md): the codec knows
 * nothing of the mesh, the proxy never imports the traffic policy (policy/
 * implements proxy/route-policy.ts), and no module imports itself through a
 * cycle of runtime imports (`import type` is erased at build and may point
 * both ways: compiled types are read by their matcher and vice versa). Read from the sources, so a change that breaks the layering fails
 * here rather than in a review.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a file, resolved to source paths (`x.js` -> `x.ts`); `runtimeOnly` skips `import type`. */
function importsOf(file: string, runtimeOnly: boolean): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s)?[^;]*?from\s+'(\.[^']+)'/gms)) {
    if (runtimeOnly && m[2] !== undefined) continue;
    out.push(resolve(dirname(file), m[3]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f, false)]));
const runtimeGraph = new Map(files.map((f) => [f, importsOf(f, true)]));
const layer = (f: string) => relative(SRC, f).split('/')[0];

describe('agent layering', () => {
  it('the codec (http1/) imports nothing of the proxy, the policy or the mesh headers', () => {
    for (const [file, deps] of graph) {
      if (layer(file) !== 'http1') continue;
      for (const d of deps) assert.equal(layer(d), 'http1', `${relative(SRC, file)} imports ${relative(SRC, d)}`);
      assert.doesNotMatch(readFileSync(file, 'utf8'), /x-weft-|ERROR_HEADER/, `${relative(SRC, file)} knows a mesh header`);
    }
  });

  it('the proxy never imports the traffic policy (policy/ implements proxy/route-policy.ts)', () => {
    for (const [file, deps] of graph) {
      if (layer(file) !== 'proxy') continue;
      for (const d of deps) assert.notEqual(layer(d), 'policy', `${relative(SRC, file)} imports ${relative(SRC, d)}`);
    }
  });

  it('has no cycle of runtime imports', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        const cycle = path.slice(path.indexOf(f)).concat(f);
        assert.fail(`import cycle: ${cycle.map((p) => relative(SRC, p)).join(' -> ')}`);
      }
      state.set(f, 'visiting');
      for (const d of runtimeGraph.get(f) ?? []) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
  });
});
