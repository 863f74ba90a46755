/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`) for a time window:
 * the functions with the most self time and the most inclusive time, so a
 * slow phase can be traced to code. Windows are in ms since the profile began
 * (which is within a few tens of ms of the process spawn).
 */
import { readFileSync } from 'node:fs';

export function loadProfile(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** @returns {{ windowMs: [number, number], sampledMs: number, self: object[], inclusive: object[] }} */
export function summarizeProfile(profile, fromMs, toMs, { top = 12, repo = '' } = {}) {
  const byId = new Map();
  const parent = new Map();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const keyOf = (n) => {
    const f = n.callFrame;
    const url = (f.url || '').replace(/^file:\/\//, '').replace(repo, '');
    const where = url ? ` ${url.split('/').slice(-3).join('/')}:${f.lineNumber + 1}` : '';
    return `${f.functionName || '(anonymous)'}${where}`;
  };
  const self = new Map();
  const incl = new Map();
  let t = 0;
  let sampled = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] / 1000;
    const dur = i + 1 < timeDeltas.length ? timeDeltas[i + 1] / 1000 : 0;
    if (t < fromMs || t > toMs) continue;
    sampled += dur;
    const node = byId.get(samples[i]);
    const k = keyOf(node);
    self.set(k, (self.get(k) ?? 0) + dur);
    const seen = new Set();
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
      const key = keyOf(byId.get(id));
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + dur);
    }
  }
  const rank = (m, skip) =>
    [...m.entries()]
      .filter(([k]) => !skip.some((s) => k.startsWith(s)))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, ms]) => ({ fn, ms: Math.round(ms), pct: sampled ? Math.round((ms / sampled) * 1000) / 10 : 0 }));
  return {
    windowMs: [Math.round(fromMs), Math.round(toMs)],
    sampledMs: Math.round(sampled),
    self: rank(self, []),
    inclusive: rank(incl, ['(root)', '(anonymous)', 'processTicksAndRejections', 'listOnTimeout', 'processImmediate']),
  };
}
