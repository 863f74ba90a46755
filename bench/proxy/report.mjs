// Figures -> ratios, target verdicts, a printed table, one JSON line, and the
// dated markdown section appended to bench/results/proxy.md.

export const TARGETS = [
  { id: 'hop_cpu_vs_nginx', text: 'weft-hop CPU/req ≤ 1.5× nginx', limit: 1.5, cmp: 'le' },
  { id: 'hop_rps_vs_nginx', text: 'weft-hop rps@c50 ≥ 0.7× nginx', limit: 0.7, cmp: 'ge' },
  { id: 'hop_p99c1_vs_nginx', text: 'weft-hop p99@c1 ≤ 2× nginx', limit: 2, cmp: 'le' },
  // set when the mesh hop was plaintext; since mTLS is the default it is checked on the plaintext mesh row
  { id: 'mesh_plain_cpu_vs_hop', text: 'weft-mesh-plain (plaintext hop) CPU/req ≤ 2.2× weft-hop', limit: 2.2, cmp: 'le' },
  { id: 'mesh_mtls_cpu_vs_nginx_mtls', text: 'weft-mesh (mTLS) CPU/req ≤ 1.5× nginx-mtls (two hops)', limit: 1.5, cmp: 'le' },
  { id: 'mesh_mtls_p99c1_vs_nginx_mtls', text: 'weft-mesh (mTLS) p99@c1 ≤ 2× nginx-mtls', limit: 2, cmp: 'le' },
];

const r2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 100) / 100);
const ratio = (a, b) => (a == null || b == null || b === 0 ? null : r2(a / b));

export function median(xs) {
  const v = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** Median of each numeric field over reps; counters (non2xx, errors) are summed. */
export function combineReps(reps) {
  const out = { ...reps[0] };
  for (const k of Object.keys(reps[0])) {
    if (typeof reps[0][k] !== 'number') continue;
    out[k] = k === 'non2xx' || k === 'errors' ? reps.reduce((a, r) => a + r[k], 0) : median(reps.map((r) => r[k]));
  }
  return out;
}

/** The target ratios from one set of figures (by proxy name). */
function targetRatios(by) {
  const ng = by.nginx;
  const hop = by['weft-hop'];
  const mesh = by['weft-mesh'];
  return {
    hop_cpu_vs_nginx: ratio(hop?.cpuUsPerReq, ng?.cpuUsPerReq),
    hop_rps_vs_nginx: ratio(hop?.rps, ng?.rps),
    hop_p99c1_vs_nginx: ratio(hop?.c1P99Us, ng?.c1P99Us),
    mesh_plain_cpu_vs_hop: ratio(by['weft-mesh-plain']?.cpuUsPerReq, hop?.cpuUsPerReq),
    mesh_mtls_cpu_vs_nginx_mtls: ratio(mesh?.cpuUsPerReq, by['nginx-mtls']?.cpuUsPerReq),
    mesh_mtls_p99c1_vs_nginx_mtls: ratio(mesh?.c1P99Us, by['nginx-mtls']?.c1P99Us),
    // Context for the mesh row, not targets: the floor of two Node processes joined by mTLS, and nginx's
    // same two hops in two processes (each request wakes both, as it wakes both agents).
    relay_cpu_vs_nginx_mtls: ratio(by['node-mtls-relay']?.cpuUsPerReq, by['nginx-mtls']?.cpuUsPerReq),
    mesh_cpu_vs_relay: ratio(mesh?.cpuUsPerReq, by['node-mtls-relay']?.cpuUsPerReq),
    nginx_2p_cpu_vs_nginx_mtls: ratio(by['nginx-mtls-2p']?.cpuUsPerReq, by['nginx-mtls']?.cpuUsPerReq),
    mesh_cpu_vs_nginx_2p: ratio(mesh?.cpuUsPerReq, by['nginx-mtls-2p']?.cpuUsPerReq),
    // what mTLS costs the two agents (same path, same code, plaintext hop without identities)
    mesh_cpu_vs_mesh_plain: ratio(mesh?.cpuUsPerReq, by['weft-mesh-plain']?.cpuUsPerReq),
    mesh_plain_cpu_vs_nginx_mtls: ratio(by['weft-mesh-plain']?.cpuUsPerReq, by['nginx-mtls']?.cpuUsPerReq),
  };
}

const CONTEXT = [
  ['relay_cpu_vs_nginx_mtls', 'floor: node-mtls-relay (two Node processes relaying bytes over mTLS) / nginx-mtls CPU per request'],
  ['mesh_cpu_vs_relay', 'weft-mesh / node-mtls-relay CPU per request (what the mesh costs above that floor)'],
  ['nginx_2p_cpu_vs_nginx_mtls', 'nginx-mtls-2p (the two hops in two nginx processes) / nginx-mtls (one process) CPU per request'],
  ['mesh_cpu_vs_nginx_2p', 'weft-mesh / nginx-mtls-2p CPU per request'],
  ['mesh_cpu_vs_mesh_plain', 'weft-mesh / weft-mesh-plain CPU per request (what mTLS costs the two agents)'],
  ['mesh_plain_cpu_vs_nginx_mtls', 'weft-mesh-plain (no TLS at all) / nginx-mtls CPU per request'],
];

/** The mesh row's context ratios (not targets), with per-rep values; none when their rows were not run. */
export function contextLines(ratios, perRepRatios) {
  return CONTEXT.filter(([id]) => ratios[id] !== null && ratios[id] !== undefined).map(([id, text]) => {
    const reps = perRepRatios[id];
    return `${text}: ${ratios[id]}×${reps?.length > 1 ? ` (per rep ${reps.join(', ')})` : ''}`;
  });
}

/**
 * CPU per request split into user and kernel time (medians over reps), one line for the
 * rows that carry the split: the same reads and writes can cost different kernel time
 * (on loopback a write runs the reader's receive path and pays for waking it).
 */
export function kernelLines(rows) {
  const parts = rows
    .filter((r) => r.name !== 'direct' && r.kernelUsPerReq != null && r.cpuUsPerReq != null)
    .map((r) => `${r.name} ${Math.round((r.cpuUsPerReq - r.kernelUsPerReq) * 10) / 10} + ${r.kernelUsPerReq}`);
  return parts.length ? [`CPU µs/req, user + kernel: ${parts.join('; ')}`] : [];
}

/**
 * Adds ratios to nginx on each row; returns { rows, ratios, perRepRatios, targets }.
 * With several reps the target ratios are the median of the ratios within
 * each rep (the peers of one rep run back to back, within a minute): this
 * machine's speed drifts by up to 2x between minutes, and a ratio of medians
 * taken from different minutes mixes that drift into the result.
 */
export function analyse(rows, perRep) {
  const by = Object.fromEntries(rows.map((r) => [r.name, r]));
  const ng = by.nginx;
  for (const r of rows) {
    r.cpuVsNginx = ratio(r.cpuUsPerReq, ng?.cpuUsPerReq);
    r.rpsVsNginx = ratio(r.rps, ng?.rps);
    r.p99c1VsNginx = ratio(r.c1P99Us, ng?.c1P99Us);
  }
  const ratios = targetRatios(by);
  const perRepRatios = {};
  const repNumbers = [...new Set([...(perRep?.values() ?? [])].flat().map((r) => r.rep))].sort((a, b) => a - b);
  if (repNumbers.length > 1) {
    for (const k of Object.keys(ratios)) perRepRatios[k] = [];
    for (const rep of repNumbers) {
      const inRep = {};
      for (const [name, runs] of perRep) inRep[name] = runs.find((r) => r.rep === rep);
      const rr = targetRatios(inRep);
      for (const k of Object.keys(rr)) perRepRatios[k].push(rr[k]);
    }
    for (const k of Object.keys(ratios)) ratios[k] = r2(median(perRepRatios[k])) ?? ratios[k];
  }
  const targets = TARGETS.map((t) => {
    const value = ratios[t.id];
    const pass = value === null ? null : t.cmp === 'le' ? value <= t.limit : value >= t.limit;
    return { ...t, value, verdict: pass === null ? 'N/A' : pass ? 'PASS' : 'MISS' };
  });
  return { rows, ratios, perRepRatios, targets };
}

export function fmtUs(us) {
  if (us === null || us === undefined) return '-';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}
const fmt = (x, d = 1) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
const fmtInt = (x) => (x === null || x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));

const COLS = [
  ['proxy', (r) => r.name],
  ['rps@c50', (r) => fmtInt(r.rps)],
  ['p50@c50', (r) => fmtUs(r.p50Us)],
  ['p99@c50', (r) => fmtUs(r.p99Us)],
  ['p50@c1', (r) => fmtUs(r.c1P50Us)],
  ['p99@c1', (r) => fmtUs(r.c1P99Us)],
  ['CPU µs/req', (r) => fmt(r.cpuUsPerReq)],
  ['RSS MiB', (r) => fmt(r.rssMiB)],
  ['cpu ×nginx', (r) => fmt(r.cpuVsNginx, 2)],
  ['rps ×nginx', (r) => fmt(r.rpsVsNginx, 2)],
  ['p99@c1 ×nginx', (r) => fmt(r.p99c1VsNginx, 2)],
  ['other load cpu0', (r) => (r.otherCpu0Pct === null || r.otherCpu0Pct === undefined ? '-' : `${r.otherCpu0Pct}%`)],
  ['errors', (r) => (r.non2xx || r.errors ? `${r.non2xx} non-2xx, ${r.errors} socket` : '0')],
];

export function markdownTable(rows) {
  return [
    `| ${COLS.map((c) => c[0]).join(' | ')} |`,
    `|${COLS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${COLS.map((c) => c[1](r)).join(' | ')} |`),
  ].join('\n');
}

export function textTable(rows) {
  const cells = [COLS.map((c) => c[0]), ...rows.map((r) => COLS.map((c) => String(c[1](r))))];
  const w = COLS.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n');
}

export function targetLines(targets, perRepRatios = {}) {
  return targets.map((t) => {
    const each = perRepRatios[t.id];
    const reps = each && each.length > 1 ? `; median of per-rep ${each.map((x) => (x === null ? 'n/a' : `${x}×`)).join(', ')}` : '';
    return `${t.verdict.padEnd(4)}  ${t.text}  (measured ${t.value === null ? 'n/a' : `${t.value}×`}${reps})`;
  });
}

export function streamingLines(big) {
  return big.map(
    (b) =>
      `${b.method} ${b.count} × 1 MiB, ${b.parallel} in parallel via ${b.via}: RSS ${b.rssBeforeMiB} → peak ${b.rssPeakMiB} → after ${b.rssAfterMiB} MiB, ` +
      `${b.mibPerSec} MiB/s, ${b.bad} bad${b.firstError ? ` (first: ${b.firstError})` : ''}`,
  );
}
