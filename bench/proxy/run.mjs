#!/usr/bin/env node
// Data-plane benchmark: one HTTP proxy hop on loopback, Weft against nginx,
// HAProxy and a plain undici proxy, measured the way /work/shared/bench-peers
// measured them (proxy pinned to CPU 0; upstream and load generator on CPU 1;
// CPU time of the proxy process(es) per request during the c50 run).
//
// Usage (from the repo root): node bench/proxy/run.mjs [--duration 8] [--reps 1]
//   [--only nginx,weft-hop,...] [--no-profile] [--profile-seconds 10] [--no-results]
//   [--agent-node-flags "--max-semi-space-size=64 ..." | none]
// --agent-node-flags: node/V8 flags for every Weft agent the bench starts (split on
// spaces, put before the script), to measure a runtime setting an operator might
// choose; `none` runs node without flags; the results say which flags ran. Default:
// AGENT_NODE_FLAGS (agent/src/node-flags.ts), the flags the agent runs under when
// installed (deploy/systemd/weft-agent.service) and in `weft demo`.
// Last line of stdout: one JSON object with every figure. A dated section is
// appended to bench/results/proxy.md (unless --no-results).
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS } from '../../agent/dist/node-flags.js';
import { bigBodyTest } from './bigbody.mjs';
import { clockTicks, cpuTimes, damonNote, faults, ioSyscalls, rssKiB, ticks, ticksSplit } from './cpu.mjs';
import { grpcBench, grpcLines, h2loadBin, startCodecH2Proxy, startGrpcUpstream, startNginxGrpc, startNodeH2Proxy } from './grpc.mjs';
import { handshakeRate } from './handshakes.mjs';
import { loadTool, runLoad } from './load.mjs';
import {
  startHaproxy,
  startNginx,
  startNginxMtls,
  startNginxMtlsTwoProcesses,
  startNodeMtlsRelay,
  startUndici,
  startUpstream,
} from './peers.mjs';
import { killAllSync, runToEnd, stop, stopAll, which } from './procs.mjs';
import { groupsPerReq, perReq, profileComparison, profileMarkdown, summarise } from './profile.mjs';
import { analyse, combineReps, contextLines, kernelLines, markdownTable, streamingLines, targetLines, textTable } from './report.mjs';
import { register, startAgent, startControlPlane, waitRoutable } from './weft.mjs';
import { startWsUpstream, wsBench, wsLines } from './ws.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const ALL = [
  'direct',
  'nginx',
  'haproxy',
  'undici',
  'nginx-mtls',
  'nginx-mtls-2p',
  'node-mtls-relay',
  'weft-hop',
  'weft-mesh',
  'weft-mesh-plain',
  'grpc',
  'ws',
];

function parseArgs(argv) {
  const o = {
    duration: 8,
    reps: 1,
    only: ALL,
    profile: true,
    profileSeconds: 10,
    results: true,
    waitIdle: 30,
    agentNodeFlags: [...AGENT_NODE_FLAGS],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a}: missing value`);
      return v;
    };
    if (a === '--duration') o.duration = Number(val());
    else if (a === '--reps') o.reps = Number(val());
    else if (a === '--only') o.only = val().split(',');
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--profile-seconds') o.profileSeconds = Number(val());
    else if (a === '--no-results') o.results = false;
    else if (a === '--wait-idle') o.waitIdle = Number(val());
    else if (a === '--agent-node-flags') {
      const v = val();
      o.agentNodeFlags = v === 'none' ? [] : v.split(' ').filter(Boolean);
    } else if (a === '-h' || a === '--help') {
      console.log(
        'node bench/proxy/run.mjs [--duration 8] [--reps 1] [--only a,b] [--no-profile] [--profile-seconds 10] [--no-results] [--agent-node-flags "FLAGS" | none]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['duration', 'reps', 'profileSeconds']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k}: expected a positive integer, got ${o[k]}`);
  }
  if (!Number.isInteger(o.waitIdle) || o.waitIdle < 0) throw new Error(`--wait-idle: expected seconds >= 0, got ${o.waitIdle}`);
  for (const f of o.agentNodeFlags)
    if (!f.startsWith('--')) throw new Error(`--agent-node-flags: each flag starts with --, got ${JSON.stringify(f)}`);
  for (const n of o.only) if (!ALL.includes(n)) throw new Error(`--only: unknown proxy ${n} (known: ${ALL.join(', ')})`);
  return o;
}

const log = (msg) => console.log(`# ${msg}`);
const notes = [];
const note = (msg) => {
  notes.push(msg);
  log(`note: ${msg}`);
  return null;
};

let tmp;
let cleaning;
function cleanup() {
  cleaning ??= stopAll().finally(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  return cleaning;
}
process.on('exit', () => {
  killAllSync();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping everything`);
    cleanup().finally(() => process.exit(130));
  });
}

/** Busy % of each CPU over `ms` (our own processes are idle between runs, so this is everyone else). */
async function busyPct(ms = 1000) {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  return cpuTimes().map((c, i) => Math.round(((c.busy - a[i].busy) / Math.max(1, c.total - a[i].total)) * 100));
}

/**
 * Waits (up to maxS seconds) until no CPU is more than 10% busy, so other work on the machine
 * does not land in the figures. Returns the last sample.
 */
async function waitIdle(maxS, label) {
  const until = Date.now() + maxS * 1000;
  let pct = await busyPct();
  let said = false;
  while (pct.some((p) => p > 10) && Date.now() < until) {
    if (!said) log(`waiting for the machine to go idle before ${label} (${pct.map((p, i) => `cpu${i} ${p}%`).join(', ')})`);
    said = true;
    pct = await busyPct(2000);
  }
  if (maxS > 0 && pct.some((p) => p > 10)) {
    note(`${label}: machine still busy after waiting ${maxS} s (${pct.map((p, i) => `cpu${i} ${p}%`).join(', ')}); figures inflated`);
  }
  return pct;
}

/** Warm-up, c50 run with CPU accounting, RSS, c1 run. */
async function measure(target, o) {
  const load = { port: target.port, host: target.host };
  await runLoad({ ...load, connections: 50, seconds: Math.min(2, o.duration) });
  const lines0 = target.procs.reduce((a, p) => a + (p.lineCount ?? 0), 0);
  const s0 = cpuTimes();
  const k0 = ticksSplit(target.pids);
  const t0 = k0.user + k0.kernel;
  const each0 = target.pids.map((pid) => ticks([pid]));
  const io0 = ioSyscalls(target.pids);
  const f0 = faults(target.pids);
  const c50 = await runLoad({ ...load, connections: 50, seconds: o.duration });
  const f1 = faults(target.pids);
  const k1 = ticksSplit(target.pids);
  const t1 = k1.user + k1.kernel;
  const each1 = target.pids.map((pid) => ticks([pid]));
  const io1 = ioSyscalls(target.pids);
  const s1 = cpuTimes();
  // CPU 0 time used by anything but the proxy under test (other programs on the machine).
  const cpu0 = s0[0] && s1[0] ? { busy: s1[0].busy - s0[0].busy, total: s1[0].total - s0[0].total } : null;
  const ownOnCpu0 = target.name === 'direct' ? 0 : t1 - t0;
  const otherCpu0Pct = cpu0 && cpu0.total > 0 ? Math.max(0, Math.round(((cpu0.busy - ownOnCpu0) / cpu0.total) * 100)) : null;
  const logLines = target.procs.reduce((a, p) => a + (p.lineCount ?? 0), 0) - lines0;
  const rss = rssKiB(target.pids);
  const c1 = await runLoad({ ...load, connections: 1, seconds: Math.max(1, Math.round(o.duration / 2)) });
  return {
    name: target.name,
    rps: Math.round(c50.rps),
    p50Us: c50.p50Us,
    p99Us: c50.p99Us,
    c1P50Us: c1.p50Us,
    c1P99Us: c1.p99Us,
    c1Rps: Math.round(c1.rps),
    cpuUsPerReq: Math.round((((t1 - t0) * 1e6) / clockTicks() / c50.requests) * 10) / 10,
    // the kernel's part of cpuUsPerReq (stime): system calls, and on loopback the peer's receive path and wake-up
    kernelUsPerReq: Math.round((((k1.kernel - k0.kernel) * 1e6) / clockTicks() / c50.requests) * 10) / 10,
    rssMiB: Math.round((rss / 1024) * 10) / 10,
    requests: c50.requests,
    // per process when several share the path (weft-mesh: [agent A, agent B])
    cpuUsPerReqEach: target.pids.map((_, i) => Math.round((((each1[i] - each0[i]) * 1e6) / clockTicks() / c50.requests) * 10) / 10),
    // read/write-type syscalls per request (socket reads and writes on both sides of the proxy)
    readsPerReq: Math.round(((io1.r - io0.r) / c50.requests) * 100) / 100,
    writesPerReq: Math.round(((io1.w - io0.w) / c50.requests) * 100) / 100,
    logLinesPerKReq: Math.round((logLines / c50.requests) * 1000 * 10) / 10,
    // page faults of the proxy process(es) per 1,000 requests during the c50 run (minor, major)
    faultsPerKReq: [
      Math.round(((f1.minor - f0.minor) / c50.requests) * 1000 * 10) / 10,
      Math.round(((f1.major - f0.major) / c50.requests) * 1000 * 10) / 10,
    ],
    otherCpu0Pct,
    non2xx: c50.non2xx + c1.non2xx,
    errors: c50.errors + c1.errors,
  };
}

function weftBuilt() {
  return existsSync(join(repoRoot, 'cli/dist/main.js')) && existsSync(join(repoRoot, 'agent/dist/index.js'));
}

/** Control plane + agents A and B; upstream registered as `upstream` on A and `upstream-remote` on B. */
async function startWeft(o, upstreamPort) {
  const wantHop = o.only.includes('weft-hop');
  const wantMesh = o.only.includes('weft-mesh');
  if (!wantHop && !wantMesh && !o.only.includes('grpc') && !o.only.includes('ws')) return {};
  if (!weftBuilt()) return note('weft: not built (run `npx tsc -b` first), skipped') ?? {};
  const cp = await startControlPlane(repoRoot, tmp, 1);
  log(`weft control plane ready: grpc ${cp.ready.grpcPort}, http ${cp.ready.httpPort}`);
  const a = await startAgent(repoRoot, tmp, { id: 'bench-a', cp, cpu: 0, nodeFlags: o.agentNodeFlags });
  log(`agent bench-a ready: ${JSON.stringify(a.ready)}`);
  const out = { cp, a };
  if (wantHop) {
    await register(a, 'upstream', upstreamPort);
    await waitRoutable(a, 'upstream');
    out.hop = { name: 'weft-hop', port: a.ready.outboundPort, host: 'upstream', pids: [a.proc.pid], procs: [a.proc] };
  }
  if (wantMesh) {
    const b = await startAgent(repoRoot, tmp, { id: 'bench-b', cp, cpu: 0, nodeFlags: o.agentNodeFlags });
    log(`agent bench-b ready: ${JSON.stringify(b.ready)}`);
    out.b = b;
    await register(b, 'upstream-remote', upstreamPort);
    await waitRoutable(a, 'upstream-remote');
    out.mesh = {
      name: 'weft-mesh',
      port: a.ready.outboundPort,
      host: 'upstream-remote',
      pids: [a.proc.pid, b.proc.pid],
      procs: [a.proc, b.proc],
    };
  }
  return out;
}

/**
 * The mesh path in plaintext, for context (not a target): an `--insecure` control plane and
 * two `--insecure` agents, the upstream registered as `upstream-plain` on the second. Same
 * path and code as weft-mesh but for TLS, identities and access policy, so the two rows
 * side by side show what mTLS costs the agents (and weft-mesh-plain against weft-hop what
 * a second agent costs).
 */
async function startWeftPlain(o, upstreamPort) {
  if (!o.only.includes('weft-mesh-plain')) return null;
  if (!weftBuilt()) return note('weft-mesh-plain: not built (run `npx tsc -b` first), skipped') ?? null;
  const cp = await startControlPlane(repoRoot, tmp, 1, { insecure: true });
  const a = await startAgent(repoRoot, tmp, { id: 'plain-a', cp, cpu: 0, nodeFlags: o.agentNodeFlags });
  const b = await startAgent(repoRoot, tmp, { id: 'plain-b', cp, cpu: 0, nodeFlags: o.agentNodeFlags });
  log(`insecure control plane and agents plain-a, plain-b ready (mesh hop: ${b.ready.meshHop})`);
  await register(b, 'upstream-plain', upstreamPort);
  await waitRoutable(a, 'upstream-plain');
  return {
    name: 'weft-mesh-plain',
    port: a.ready.outboundPort,
    host: 'upstream-plain',
    pids: [a.proc.pid, b.proc.pid],
    procs: [a.proc, b.proc],
  };
}

/** Waits for the .cpuprofile a process wrote into `dir` on exit. */
function profileFile(dir, code, what) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`${what} exited (${code}) without writing a .cpuprofile into ${dir}`);
  return join(dir, files[0]);
}

/**
 * One weft agent under --cpu-prof with c50 load for profileSeconds, stopped with SIGTERM; then
 * the plain undici proxy the same way, as the floor node:http + undici cost.
 */
async function profileRuns(o, cp, upstreamPort) {
  const base = join('/tmp/weft-prof', new Date().toISOString().replace(/[:.]/g, '-'));
  const flags = (dir) => {
    mkdirSync(dir, { recursive: true });
    return [...o.agentNodeFlags, '--cpu-prof', `--cpu-prof-dir=${dir}`];
  };
  const out = {};
  const agentDir = join(base, 'weft-agent');
  const p = await startAgent(repoRoot, tmp, { id: 'bench-prof', cp, cpu: 0, nodeFlags: flags(agentDir) });
  await register(p, 'upstream-prof', upstreamPort);
  await waitRoutable(p, 'upstream-prof');
  if (o.waitIdle > 0) await waitIdle(o.waitIdle, 'profile (weft)');
  const load = await runLoad({ port: p.ready.outboundPort, host: 'upstream-prof', connections: 50, seconds: o.profileSeconds });
  const file = profileFile(agentDir, await stop(p.proc, 20_000), 'weft agent');
  out.weft = { file, load, summary: summarise(file, repoRoot) };

  const peerDir = join(base, 'undici-proxy');
  const u = await startUndici(repoRoot, upstreamPort, note, flags(peerDir));
  if (u) {
    if (o.waitIdle > 0) await waitIdle(o.waitIdle, 'profile (undici)');
    const uload = await runLoad({ port: u.port, connections: 50, seconds: o.profileSeconds });
    const ufile = profileFile(peerDir, await stop(u.procs[0], 20_000), 'undici proxy');
    out.undici = { file: ufile, load: uload, summary: summarise(ufile, repoRoot) };
  }
  return out;
}

/** The markdown profile section: the comparison with plain undici, then Weft's details. */
function profileSection(profile, o) {
  const { weft, undici } = profile;
  const lines = [
    `### Profile: one weft agent hop under c50 load (${o.profileSeconds} s)`,
    '',
    `\`node --cpu-prof cli/bin/weft.js agent ...\` (${weft.load.requests} requests, ${Math.round(weft.load.rps)} rps under the profiler), ` +
      `profile \`${weft.file}\`${undici ? `; the plain undici proxy the same way (${undici.load.requests} requests), \`${undici.file}\`` : ''}. ` +
      'Self time per request by module (the profiler roughly doubles the cost; compare the columns, not with the table above):',
    '',
  ];
  if (undici) lines.push(profileComparison(weft, undici), '');
  lines.push(profileMarkdown(weft.summary, weft.load.requests));
  return lines.join('\n');
}

function environment() {
  const ver = (argv, re) => {
    if (!which(argv[0])) return 'not installed';
    return runToEnd(argv).then((r) => (re.exec(r.stdout + r.stderr) ?? [])[1] ?? '?');
  };
  return Promise.all([
    ver(['nginx', '-v'], /nginx\/(\S+)/),
    ver(['haproxy', '-v'], /version (\S+)/),
    ver(['wrk', '-v'], /wrk (\S+)/),
    runToEnd(['git', '-C', repoRoot, 'rev-parse', '--short', 'HEAD']).then((r) => r.stdout.trim() || '?'),
    runToEnd(['git', '-C', repoRoot, 'status', '--porcelain', '--', 'agent', 'shared', 'cli', 'control-plane']).then(
      (r) => r.stdout.trim() !== '',
    ),
  ]).then(([nginx, haproxy, wrk, commit, dirty]) => ({
    node: process.version,
    nginx,
    haproxy,
    wrk,
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    commit: `${commit}${dirty ? ' + uncommitted changes' : ''}`,
  }));
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = new Date();
  const command = `node bench/proxy/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  tmp = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const env = await environment();
  const tool = loadTool();
  log(`${command} | node ${env.node}, nginx ${env.nginx}, haproxy ${env.haproxy}, load: ${tool} | ${env.cores} × ${env.cpu}`);
  if (tool !== 'wrk')
    note('wrk not installed: using the built-in node load generator (slower than wrk; figures not comparable with wrk runs)');
  if (!which('taskset')) note('taskset not found: processes are not pinned to CPUs');
  const damon = damonNote();
  if (damon) note(damon);
  const load0 = loadavg()[0];
  const busyBefore = await busyPct();
  log(`CPU busy before the run (1 s sample): ${busyBefore.map((p, i) => `cpu${i} ${p}%`).join(', ')}; load average ${load0.toFixed(2)}`);

  const upstream = await startUpstream();
  const targets = [];
  if (o.only.includes('direct')) targets.push(upstream);
  if (o.only.includes('nginx')) targets.push(await startNginx(tmp, upstream.port, note));
  if (o.only.includes('haproxy')) targets.push(await startHaproxy(tmp, upstream.port, note));
  if (o.only.includes('undici')) targets.push(await startUndici(repoRoot, upstream.port, note));
  if (o.only.includes('nginx-mtls')) targets.push(await startNginxMtls(tmp, upstream.port, note));
  if (o.only.includes('nginx-mtls-2p')) targets.push(await startNginxMtlsTwoProcesses(tmp, upstream.port, note));
  if (o.only.includes('node-mtls-relay')) targets.push(await startNodeMtlsRelay(tmp, upstream.port, note));
  let weft = {};
  try {
    weft = await startWeft(o, upstream.port);
  } catch (err) {
    note(`weft: could not start: ${err.message}`);
  }
  targets.push(weft.hop ?? null, weft.mesh ?? null);
  try {
    targets.push(await startWeftPlain(o, upstream.port));
  } catch (err) {
    note(`weft-mesh-plain: could not start: ${err.message}`);
  }
  const live = targets.filter(Boolean);

  const perRep = new Map(live.map((t) => [t.name, []]));
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const t of live) {
      log(`rep ${rep}/${o.reps}: ${t.name} (port ${t.port}${t.host ? `, Host: ${t.host}` : ''})`);
      try {
        if (o.waitIdle > 0) await waitIdle(o.waitIdle, `${t.name} rep ${rep}`);
        const r = await measure(t, o);
        r.rep = rep;
        perRep.get(t.name).push(r);
        log(
          `  rps ${r.rps}, cpu ${r.cpuUsPerReq} µs/req (kernel ${r.kernelUsPerReq}), faults/1k req ${r.faultsPerKReq.join('/')}${r.cpuUsPerReqEach.length > 1 ? ` (${r.cpuUsPerReqEach.join(' + ')})` : ''}, p99@c1 ${Math.round(r.c1P99Us)} µs, other load on cpu0 ${r.otherCpu0Pct}%, ${r.non2xx} non-2xx, ${r.errors} socket errors`,
        );
      } catch (err) {
        note(`${t.name}: run failed: ${err.message}`);
      }
    }
  }
  const rows = [...perRep.values()].filter((r) => r.length > 0).map(combineReps);
  const { ratios, perRepRatios, targets: verdicts } = analyse(rows, perRep);

  const big = [];
  if (weft.hop) {
    for (const method of ['POST', 'GET']) {
      log(`streaming: ${method} 200 × 1 MiB through weft-hop`);
      try {
        const b = await bigBodyTest({ port: weft.hop.port, host: 'upstream', pids: weft.hop.pids, method });
        big.push({ via: 'weft-hop', ...b });
      } catch (err) {
        note(`streaming ${method}: failed: ${err.message}`);
      }
    }
  }

  // gRPC: unary calls and a server stream through one hop, Weft against nginx grpc_pass (grpc.mjs).
  let grpc = null;
  if (o.only.includes('grpc')) {
    try {
      const bin = await h2loadBin(note);
      if (bin) {
        const gup = await startGrpcUpstream(repoRoot, here);
        const gtargets = [gup];
        const ng = await startNginxGrpc(tmp, gup.port, note);
        if (ng) gtargets.push(ng);
        gtargets.push(await startNodeH2Proxy(here, gup.port));
        if (weftBuilt()) gtargets.push(await startCodecH2Proxy(here, gup.port));
        if (weft.a) {
          await register(weft.a, 'grpc-upstream', gup.port, 'grpc');
          gtargets.push({
            name: 'weft-grpc',
            port: weft.a.ready.outboundPort,
            authority: 'grpc-upstream',
            pids: [weft.a.proc.pid],
            procs: [weft.a.proc],
          });
        }
        grpc = await grpcBench({ bin, targets: gtargets, o, tmp, waitIdle: (label) => waitIdle(o.waitIdle, label), log });
      }
    } catch (err) {
      note(`gRPC part failed: ${err.message}`);
    }
  }

  // WebSocket echo through one hop against the echo server reached directly (ws.mjs).
  let ws = null;
  if (o.only.includes('ws')) {
    try {
      const wup = await startWsUpstream(repoRoot, here);
      const wtargets = [wup];
      if (weft.a) {
        await register(weft.a, 'ws-echo', wup.port);
        wtargets.push({ name: 'weft-ws', port: weft.a.ready.outboundPort, host: 'ws-echo', pids: [weft.a.proc.pid], procs: [weft.a.proc] });
      }
      ws = await wsBench({ targets: wtargets, o, repoRoot, here, waitIdle: (label) => waitIdle(o.waitIdle, label), log });
    } catch (err) {
      note(`WebSocket part failed: ${err.message}`);
    }
  }

  let handshakes = null;
  if (weft.b && weft.a) {
    log('handshakes: full mTLS handshakes (openssl s_time -new, 3 in parallel on CPU 1) into agent B on CPU 0');
    try {
      if (o.waitIdle > 0) await waitIdle(o.waitIdle, 'handshakes');
      handshakes = await handshakeRate({ server: weft.b, client: weft.a, seconds: Math.max(3, Math.round(o.duration / 2)), note });
      if (handshakes)
        log(
          `  ${handshakes.handshakes} handshakes in ${handshakes.seconds} s: ${handshakes.perSec}/s at ${handshakes.cpuPct}% of a core, ${handshakes.cpuUsPerHandshake} µs CPU each (${handshakes.perCoreSec}/s per core)`,
        );
    } catch (err) {
      note(`handshakes: failed: ${err.message}`);
    }
  }

  let profile = null;
  if (o.profile && weft.cp) {
    log(`profile: stopping the bench agents, then one agent under --cpu-prof with c50 load for ${o.profileSeconds} s`);
    await Promise.all([weft.a && stop(weft.a.proc), weft.b && stop(weft.b.proc)]);
    try {
      profile = await profileRuns(o, weft.cp, upstream.port);
    } catch (err) {
      note(`profile failed: ${err.message}`);
    }
  }
  await cleanup();

  // ---- report ----
  console.log('');
  console.log(textTable(rows));
  console.log('');
  for (const l of targetLines(verdicts, perRepRatios)) console.log(l);
  const mesh = rows.find((r) => r.name === 'weft-mesh');
  const split = mesh
    ? [`weft-mesh CPU µs/req by process (first rep): agent A ${mesh.cpuUsPerReqEach[0]} + agent B ${mesh.cpuUsPerReqEach[1]}`]
    : [];
  for (const l of split) console.log(l);
  for (const l of kernelLines(rows)) console.log(l);
  for (const l of contextLines(ratios, perRepRatios)) console.log(l);
  for (const l of streamingLines(big)) console.log(l);
  for (const l of grpcLines(grpc)) console.log(l);
  for (const l of wsLines(ws)) console.log(l);
  if (handshakes)
    console.log(
      `mTLS handshakes accepted by agent B (one core): ${handshakes.perSec}/s observed at ${handshakes.cpuPct}% CPU; ${handshakes.cpuUsPerHandshake} µs CPU per handshake = ${handshakes.perCoreSec}/s per fully busy core`,
    );
  const pm = profile?.weft && profileSection(profile, o);
  if (pm) console.log(`\n${pm}`);
  const json = {
    date: started.toISOString(),
    command,
    duration: o.duration,
    reps: o.reps,
    agentNodeFlags: o.agentNodeFlags,
    loadTool: tool,
    env,
    proxies: Object.fromEntries(rows.map((r) => [r.name, r])),
    ratios,
    perRepRatios,
    targets: Object.fromEntries(verdicts.map((t) => [t.id, { limit: t.limit, value: t.value, verdict: t.verdict }])),
    streaming: big,
    grpc,
    ws,
    handshakes,
    profile: profile?.weft && {
      file: profile.weft.file,
      requests: profile.weft.load.requests,
      usPerReq: perReq(profile.weft),
      groupsUsPerReq: groupsPerReq(profile.weft),
      topWeft: profile.weft.summary.weftSelf.slice(0, 5),
      undiciFile: profile.undici?.file,
      undiciUsPerReq: profile.undici ? perReq(profile.undici) : null,
      undiciGroupsUsPerReq: profile.undici ? groupsPerReq(profile.undici) : null,
    },
    loadAvgStart: Math.round(load0 * 100) / 100,
    cpuBusyPctBefore: busyBefore,
    loadAvgEnd: Math.round(loadavg()[0] * 100) / 100,
    notes,
  };
  if (o.results) {
    const md = [
      '',
      `## ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Command: \`${command}\` (from the repo root), Weft at ${env.commit}. ${env.cores} × ${env.cpu}; node ${env.node}, nginx ${env.nginx}, HAProxy ${env.haproxy}, load: ${tool === 'wrk' ? `wrk ${env.wrk}` : 'built-in node generator (wrk missing)'}. ` +
        `Proxy on CPU 0, upstream + load on CPU 1; ${o.duration} s at c50 (after a 2 s warm-up), ${Math.max(1, Math.round(o.duration / 2))} s at c1, median of ${o.reps} rep(s); target ratios are the median of the ratios within each rep.`,
      '',
      markdownTable(rows),
      '',
      ...targetLines(verdicts, perRepRatios).map((l) => `- ${l}`),
      ...split.map((l) => `- ${l}`),
      ...kernelLines(rows).map((l) => `- ${l}`),
      ...contextLines(ratios, perRepRatios).map((l) => `- ${l}`),
      ...streamingLines(big).map((l) => `- ${l}`),
      ...(handshakes
        ? [
            `- mTLS handshakes accepted by agent B (one core): ${handshakes.perSec}/s observed at ${handshakes.cpuPct}% CPU; ${handshakes.cpuUsPerHandshake} µs CPU each (${handshakes.perCoreSec}/s per core)`,
          ]
        : []),
      ...(grpc ? ['', ...grpcLines(grpc)] : []),
      ...(ws ? ['', ...wsLines(ws)] : []),
      ...notes.map((n) => `- note: ${n}`),
      '',
      '```json',
      JSON.stringify(json),
      '```',
    ];
    if (pm) md.push('', pm);
    const file = join(repoRoot, 'bench/results/proxy.md');
    if (!existsSync(file))
      md.unshift(
        '# Data-plane benchmark results (`npm run bench:proxy`)',
        '',
        'Newest run last. See bench/README.md for what each figure means.',
      );
    appendFileSync(file, `${md.join('\n')}\n`);
    console.log(`\nappended to ${file}`);
  }
  console.log(JSON.stringify(json));
}

main().catch(async (err) => {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  await cleanup();
  process.exit(1);
});
