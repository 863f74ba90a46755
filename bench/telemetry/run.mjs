#!/usr/bin/env node
// What the golden metrics cost an agent (docs/metrics.md): the CPU an agent
// spends per proxied request with aggregation + reporting on
// (`--stats-interval 5s`, the default) and off (`--stats-interval 0`),
// measured side by side in the same run.
//
//   macro: two agents of one control plane, pinned to CPU 0, each with its own
//          local upstream (CPU 1); wrk (CPU 1) drives the outbound hop of one,
//          then the other, alternating, `--reps` times; the agent's utime+stime
//          from /proc per request. Reports go to the control plane every 5 s
//          during the "on" runs, so their cost is in the figure.
//   micro: the per-request hook alone (ServiceMetrics.request with and without
//          the EdgeStatsTable), in this process, ns per call: the part of the
//          difference that the macro figure's noise can hide.
//
// Usage (from the repo root, after `npx tsc -b`):
//   node bench/telemetry/run.mjs [--duration 8] [--reps 3] [--connections 50] [--no-results]
// Prints a table and, last, one JSON line; appends a dated section to
// bench/results/telemetry.md unless --no-results.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { clockTicks, ticks } from '../proxy/cpu.mjs';
import { loadTool, runLoad } from '../proxy/load.mjs';
import { startUpstream } from '../proxy/peers.mjs';
import { killAllSync, stopAll } from '../proxy/procs.mjs';
import { register, startAgent, startControlPlane, waitRoutable } from '../proxy/weft.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

function parseArgs(argv) {
  const o = { duration: 8, reps: 3, connections: 50, results: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => Number(argv[++i]);
    if (a === '--duration') o.duration = val();
    else if (a === '--reps') o.reps = val();
    else if (a === '--connections') o.connections = val();
    else if (a === '--no-results') o.results = false;
    else if (a === '-h' || a === '--help') {
      console.log('node bench/telemetry/run.mjs [--duration 8] [--reps 3] [--connections 50] [--no-results]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['duration', 'reps', 'connections'])
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k}: expected a positive integer, got ${o[k]}`);
  return o;
}

const log = (m) => console.log(`# ${m}`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** ns per ServiceMetrics.request call, with and without golden aggregation, in this process. */
async function micro(calls = 2_000_000) {
  const shared = await import(pathToFileURL(join(repoRoot, 'shared/dist/index.js')).href);
  const { ProxyMetrics } = await import(pathToFileURL(join(repoRoot, 'agent/dist/proxy/proxy-metrics.js')).href);
  const { EdgeStatsTable } = await import(pathToFileURL(join(repoRoot, 'agent/dist/proxy/edge-stats.js')).href);
  const run = (edges) => {
    const m = new ProxyMetrics(new shared.MetricsRegistry(), { agentId: 'bench', edges });
    const svc = m.service('outbound', 'upstream');
    const t0 = performance.now() - 1.5;
    for (let i = 0; i < 10_000; i++) svc.request(undefined, 200, '', t0, 0, 13);
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) svc.request(undefined, 200, '', t0, 0, 13);
    return Number(process.hrtime.bigint() - start) / calls;
  };
  const off = [];
  const on = [];
  for (let r = 0; r < 5; r++) {
    off.push(run(undefined));
    on.push(run(new EdgeStatsTable()));
  }
  return { offNs: median(off), onNs: median(on) };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const tmp = mkdtempSync(join(tmpdir(), 'weft-bench-telemetry-'));
  const cleanup = () => stopAll().finally(() => rmSync(tmp, { recursive: true, force: true }));
  process.on('exit', () => killAllSync());
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)));
  try {
    log(`load tool: ${loadTool()}; ${cpus().length} CPUs; ${o.reps} reps × ${o.duration} s × ${o.connections} connections per mode`);
    const upstream = await startUpstream();
    const cp = await startControlPlane(repoRoot, tmp, 1);
    const agents = {
      off: await startAgent(repoRoot, tmp, { id: 'stats-off', cp, cpu: 0, extraArgs: ['--stats-interval', '0'] }),
      on: await startAgent(repoRoot, tmp, { id: 'stats-on', cp, cpu: 0, extraArgs: ['--stats-interval', '5s'] }),
    };
    for (const [mode, a] of Object.entries(agents)) {
      await register(a, `up-${mode}`, upstream.port);
      await waitRoutable(a, `up-${mode}`);
    }
    const runs = { off: [], on: [] };
    for (let rep = 0; rep < o.reps; rep++) {
      const order = rep % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const mode of order) {
        const a = agents[mode];
        const before = ticks([a.proc.pid]);
        const r = await runLoad({ port: a.ready.outboundPort, connections: o.connections, seconds: o.duration, host: `up-${mode}` });
        // Let a report interval pass inside the measured CPU: the "on" agent reports what it counted.
        await new Promise((res) => setTimeout(res, 5_500));
        const cpuUs = ((ticks([a.proc.pid]) - before) / clockTicks()) * 1e6;
        const perReqUs = cpuUs / r.requests;
        runs[mode].push({ rps: r.rps, requests: r.requests, non2xx: r.non2xx, errors: r.errors, cpuUsPerReq: perReqUs });
        log(
          `rep ${rep + 1} ${mode.padEnd(3)}: ${Math.round(r.rps)} req/s, ${perReqUs.toFixed(2)} µs CPU/request (non-2xx ${r.non2xx}, errors ${r.errors})`,
        );
      }
    }
    // The control plane's reads need a token (from this host too): its bootstrap operator token.
    const authorization = `Bearer ${readFileSync(join(cp.dir, 'operator.token'), 'utf8').trim()}`;
    const stats = await fetch(`http://127.0.0.1:${cp.ready.httpPort}/v1/stats?window=15m`, { headers: { authorization } }).then((r) =>
      r.json(),
    );
    const reported = stats.services.find((s) => s.service === 'up-on');
    const reportedRequests = reported ? Math.round(reported.requestsPerSecond * 900) : 0;
    const sentOn = runs.on.reduce((n, r) => n + r.requests, 0);
    const m = await micro();
    const off = median(runs.off.map((r) => r.cpuUsPerReq));
    const on = median(runs.on.map((r) => r.cpuUsPerReq));
    // Paired per rep (the two runs of a rep are back to back): drift in the machine's load cancels out.
    const paired = runs.on.map((r, i) => r.cpuUsPerReq / runs.off[i].cpuUsPerReq);
    const spread = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
    const result = {
      date: new Date().toISOString(),
      tool: loadTool(),
      reps: o.reps,
      durationS: o.duration,
      connections: o.connections,
      rpsOff: Math.round(median(runs.off.map((r) => r.rps))),
      rpsOn: Math.round(median(runs.on.map((r) => r.rps))),
      cpuUsPerReqOff: Number(off.toFixed(3)),
      cpuUsPerReqOn: Number(on.toFixed(3)),
      ratio: Number((on / off).toFixed(4)),
      pairedRatioMedian: Number(median(paired).toFixed(4)),
      pairedRatios: paired.map((x) => Number(x.toFixed(4))),
      loadAverage1m: Number(loadavg()[0].toFixed(2)),
      overheadPct: Number((((on - off) / off) * 100).toFixed(2)),
      hookNsOff: Number(m.offNs.toFixed(1)),
      hookNsOn: Number(m.onNs.toFixed(1)),
      hookExtraPctOfRequest: Number((((m.onNs - m.offNs) / 1000 / off) * 100).toFixed(3)),
      reportedRequests,
      sentRequestsOn: sentOn,
      runs,
    };
    const table = [
      '| mode | req/s (median) | agent CPU µs/request (median) | range over reps |',
      '|---|---:|---:|---:|',
      `| stats off (--stats-interval 0) | ${result.rpsOff} | ${result.cpuUsPerReqOff} | ${spread(runs.off.map((r) => r.cpuUsPerReq))} |`,
      `| stats on (--stats-interval 5s) | ${result.rpsOn} | ${result.cpuUsPerReqOn} | ${spread(runs.on.map((r) => r.cpuUsPerReq))} |`,
      '',
      `- ratio of the medians on/off: ${result.ratio} (${result.overheadPct >= 0 ? '+' : ''}${result.overheadPct}%); median of the per-rep paired ratios: **${result.pairedRatioMedian}** (each: ${result.pairedRatios.join(', ')})`,
      `- 1-minute load average at the end: ${result.loadAverage1m} on ${cpus().length} CPUs: with other work on the machine the end-to-end figure varies far more than 1% from run to run, so it bounds the cost only coarsely; the micro figure below is the precise one`,
      `- the per-request hook alone (micro, in-process): ${result.hookNsOff} ns without aggregation, ${result.hookNsOn} ns with: +${(m.onNs - m.offNs).toFixed(1)} ns = **${result.hookExtraPctOfRequest}%** of the agent's CPU per request`,
      `- the control plane's /v1/stats (15m) counted ${reportedRequests} of the ${sentOn} requests sent through the "on" agent (plus its warm-up request)`,
    ].join('\n');
    console.log(`\n${table}\n`);
    if (o.results) {
      appendFileSync(
        join(repoRoot, 'bench/results/telemetry.md'),
        `\n## ${result.date}\n\n\`node bench/telemetry/run.mjs --duration ${o.duration} --reps ${o.reps} --connections ${o.connections}\` (${result.tool}, ${cpus().length} CPUs: agent on CPU 0, upstream and load on CPU 1)\n\n${table}\n`,
      );
    }
    console.log(JSON.stringify(result));
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
