// Summary of a V8 .cpuprofile (node --cpu-prof): self time grouped by module
// (undici, node:http, node streams/net, Weft's proxy code, logging, GC...),
// the hottest functions by self time, and Weft's own functions by self and
// inclusive time. Pure data in, markdown/text out.
import { readFileSync } from 'node:fs';

const SPECIAL = { '(idle)': 'idle', '(program)': 'V8/native (program)', '(garbage collector)': 'GC', '(root)': 'idle' };

export function shortUrl(url, repoRoot) {
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  if (repoRoot && u.startsWith(repoRoot)) u = u.slice(repoRoot.length + 1);
  return u;
}

/** The module group of one call frame. */
export function groupOf(frame) {
  const { url, functionName } = frame;
  if (!url) return SPECIAL[functionName] ?? 'native builtins (C++/JS builtins)';
  if (url.includes('/node_modules/undici/')) return 'undici';
  if (url.includes('/node_modules/@grpc/') || url.includes('/node_modules/protobufjs/')) return 'gRPC';
  if (url.includes('/node_modules/')) return 'other npm';
  if (/\/shared\/(dist|src)\/log/.test(url)) return 'weft logging';
  if (/\/agent\/(dist|src)\/proxy\//.test(url)) return 'weft proxy code';
  if (/\/agent\/(dist|src)\//.test(url)) return 'weft agent (other)';
  if (/\/shared\/(dist|src)\//.test(url)) return 'weft shared';
  if (url.startsWith('node:')) {
    if (/abort_controller|domexception|event_target/.test(url)) return 'node:AbortController/EventTarget';
    if (/crypto/.test(url)) return 'node:crypto';
    if (/internal\/modules\/|bootstrap\//.test(url)) return 'node:module loading (startup)';
    if (/http|_http_/.test(url)) return 'node:http';
    if (/net|stream|tcp|pipe|buffer/.test(url)) return 'node:net + streams';
    if (/timers/.test(url)) return 'node:timers';
    if (/events|task_queues|async_hooks|promise/.test(url)) return 'node:events/async';
    if (/url/.test(url)) return 'node:url';
    return 'node:other';
  }
  return 'other';
}

/**
 * Reads a profile; returns { totalMs, busyMs, groups: [{group, ms, pct}], topSelf: [...], weftSelf, weftTotal }.
 * pct is of busy time (everything but idle).
 */
export function summarise(file, repoRoot, top = 15) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0) / 1000;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  const key = (f) => `${f.functionName || '(anonymous)'} ${f.url ? `${shortUrl(f.url, repoRoot)}:${f.lineNumber + 1}` : ''}`.trim();
  const groups = new Map();
  const fnSelf = new Map();
  let totalMs = 0;
  for (const [id, ms] of self) {
    const f = byId.get(id).callFrame;
    const g = groupOf(f);
    totalMs += ms;
    groups.set(g, (groups.get(g) ?? 0) + ms);
    const k = key(f);
    const cur = fnSelf.get(k) ?? { fn: k, group: g, ms: 0 };
    cur.ms += ms;
    fnSelf.set(k, cur);
  }
  const idleMs = groups.get('idle') ?? 0;
  const busyMs = totalMs - idleMs;
  const pct = (ms) => Math.round((ms / busyMs) * 1000) / 10;
  // Inclusive time of Weft's own functions: a node's subtree time, counted
  // once per stack even when the function recurses.
  const subtree = new Map();
  const sub = (n) => {
    if (subtree.has(n.id)) return subtree.get(n.id);
    let t = self.get(n.id) ?? 0;
    for (const c of n.children ?? []) t += sub(byId.get(c));
    subtree.set(n.id, t);
    return t;
  };
  const fnTotal = new Map();
  const walk = (n, onStack) => {
    const f = n.callFrame;
    const k = key(f);
    const isWeft = groupOf(f).startsWith('weft');
    let next = onStack;
    if (isWeft && !onStack.has(k)) {
      fnTotal.set(k, (fnTotal.get(k) ?? 0) + sub(n));
      next = new Set(onStack).add(k);
    }
    for (const c of n.children ?? []) walk(byId.get(c), next);
  };
  walk(prof.nodes[0], new Set());
  const round = (x) => Math.round(x * 10) / 10;
  return {
    totalMs: round(totalMs),
    busyMs: round(busyMs),
    groups: [...groups]
      .filter(([g]) => g !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([group, ms]) => ({ group, ms: round(ms), pct: pct(ms) })),
    topSelf: [...fnSelf.values()]
      .filter((x) => x.group !== 'idle')
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((x) => ({ ...x, ms: round(x.ms), pct: pct(x.ms) })),
    weftSelf: [...fnSelf.values()]
      .filter((x) => x.group.startsWith('weft'))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((x) => ({ ...x, ms: round(x.ms), pct: pct(x.ms) })),
    weftTotal: [...fnTotal]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, ms]) => ({ fn, ms: round(ms), pct: pct(ms) })),
  };
}

/** Markdown for a summary. */
export function profileMarkdown(s, requests) {
  const perReq = (ms) => (requests ? ` | ${((ms * 1000) / requests).toFixed(2)}` : '');
  const head = requests ? ' | µs/req' : '';
  const sep = requests ? '|---' : '';
  const lines = [
    `Busy (non-idle) CPU in the profile: ${s.busyMs} ms${requests ? ` over ${requests} requests (${((s.busyMs * 1000) / requests).toFixed(1)} µs/req; the profiler itself adds overhead)` : ''}.`,
    '',
    `| module | self ms | % of busy${head} |`,
    `|---|---|---${sep}|`,
    ...s.groups.map((g) => `| ${g.group} | ${g.ms} | ${g.pct}${perReq(g.ms)} |`),
    '',
    'Top functions by self time:',
    '',
    '| function | module | self ms | % |',
    '|---|---|---|---|',
    ...s.topSelf.map((f) => `| \`${f.fn}\` | ${f.group} | ${f.ms} | ${f.pct} |`),
    '',
    "Weft's own functions by self time:",
    '',
    '| function | module | self ms | % |',
    '|---|---|---|---|',
    ...s.weftSelf.map((f) => `| \`${f.fn}\` | ${f.group} | ${f.ms} | ${f.pct} |`),
    '',
    "Weft's own functions by inclusive time (self + callees):",
    '',
    '| function | total ms | % |',
    '|---|---|---|',
    ...s.weftTotal.map((f) => `| \`${f.fn}\` | ${f.ms} | ${f.pct} |`),
  ];
  return lines.join('\n');
}

// `node profile.mjs <file.cpuprofile> [repoRoot]` prints the summary.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${profileMarkdown(summarise(process.argv[2], process.argv[3]))}\n`);
}

/** Busy µs per request of a profiled run ({ summary, load }). */
export function perReq(run) {
  return Math.round((run.summary.busyMs * 1000 * 10) / run.load.requests) / 10;
}

/** { group: µs per request } of a profiled run. */
export function groupsPerReq(run) {
  return Object.fromEntries(run.summary.groups.map((g) => [g.group, Math.round((g.ms * 1000 * 10) / run.load.requests) / 10]));
}

/** Markdown table: µs/req per module group, Weft against the plain undici proxy, and the difference. */
export function profileComparison(weft, undici) {
  const w = groupsPerReq(weft);
  const u = groupsPerReq(undici);
  const names = [...new Set([...Object.keys(w), ...Object.keys(u)])].sort(
    (a, b) => (w[b] ?? 0) - (u[b] ?? 0) - ((w[a] ?? 0) - (u[a] ?? 0)),
  );
  const f = (x) => (x === undefined ? '0' : x.toFixed(1));
  return [
    '| module | weft agent µs/req | plain undici proxy µs/req | weft − undici |',
    '|---|---|---|---|',
    ...names.map((n) => `| ${n} | ${f(w[n])} | ${f(u[n])} | ${((w[n] ?? 0) - (u[n] ?? 0)).toFixed(1)} |`),
    `| **total busy** | **${perReq(weft)}** | **${perReq(undici)}** | **${(perReq(weft) - perReq(undici)).toFixed(1)}** |`,
  ].join('\n');
}
