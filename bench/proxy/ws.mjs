// WebSocket part of the data-plane bench (`ws` in --only): echo messages per second through one
// agent hop against the same echo server reached directly. The echo server (ws-upstream.mjs) and
// the load (ws-load.mjs: 10 connections, 16 messages of 64 bytes in flight on each) run on CPU 1,
// the agent on CPU 0. Weft's path: agent A's outbound port with `Host: ws-echo`, the server
// registered on A (protocol http), so the upgrade is answered by the app and the two connections
// are spliced in the agent (a tunnel). Per rep: direct, then Weft; the ratio is taken within the rep.
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { clockTicks, ticks } from './cpu.mjs';
import { freePort, runToEnd, start, waitForPort } from './procs.mjs';

const LOAD_CPU = 1;
const CONNS = 10;
const WINDOW = 16;
const SIZE = 64;

export function wsEntry(repoRoot) {
  return createRequire(join(repoRoot, 'package.json')).resolve('ws');
}

export async function startWsUpstream(repoRoot, here) {
  const port = await freePort();
  const proc = start([process.execPath, join(here, 'ws-upstream.mjs'), String(port), wsEntry(repoRoot)], {
    cpu: LOAD_CPU,
    name: 'ws-upstream',
  });
  await waitForPort(port, proc);
  return { name: 'ws-direct', port, host: `127.0.0.1:${port}`, pids: [], procs: [proc] };
}

/** Waits until a plain GET through `target` reaches the echo server (its 426 Upgrade Required). */
async function waitWs(target, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    last = await new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: target.port, path: '/', headers: { host: target.host }, agent: false }, (res) => {
        res.resume();
        resolve(String(res.statusCode));
      });
      req.on('error', (err) => resolve(err.message));
      req.end();
    });
    if (last === '426') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${target.name}: the echo server is not reachable after ${timeoutMs} ms (last: ${last})`);
}

async function measure(target, seconds, repoRoot, here) {
  const t0 = ticks(target.pids);
  const r = await runToEnd(
    [
      process.execPath,
      join(here, 'ws-load.mjs'),
      String(target.port),
      target.host,
      String(seconds),
      String(CONNS),
      String(WINDOW),
      String(SIZE),
      wsEntry(repoRoot),
    ],
    { cpu: LOAD_CPU },
  );
  const t1 = ticks(target.pids);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let res;
  try {
    res = JSON.parse(line);
  } catch {
    throw new Error(`${target.name}: ws-load printed no result (${(r.stderr || r.stdout).trim().split('\n').pop()})`);
  }
  return {
    name: target.name,
    perSec: res.perSec,
    messages: res.messages,
    bad: res.bad,
    cpuUsPerMsg: target.pids.length ? Math.round((((t1 - t0) * 1e6) / clockTicks() / res.messages) * 100) / 100 : null,
  };
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

/** Runs `o.reps` rounds over `targets` (ws-direct first, then weft-ws); returns rows (medians) and per-rep ratios. */
export async function wsBench({ targets, o, repoRoot, here, waitIdle, log }) {
  for (const t of targets) await waitWs(t);
  const reps = [];
  const seconds = Math.max(2, Math.round(o.duration / 2));
  for (let rep = 1; rep <= o.reps; rep++) {
    const got = {};
    for (const t of targets) {
      if (o.waitIdle > 0) await waitIdle(`${t.name} (WebSocket echo) rep ${rep}`);
      const m = await measure(t, seconds, repoRoot, here);
      log(
        `WebSocket echo ${t.name} rep ${rep}: ${m.perSec} msg/s${m.cpuUsPerMsg !== null ? `, agent CPU ${m.cpuUsPerMsg} µs/msg` : ''}, ${m.bad} bad`,
      );
      got[t.name] = m;
    }
    reps.push(got);
  }
  const rows = targets.map((t) => ({
    name: t.name,
    perSec: median(reps.map((r) => r[t.name].perSec)),
    cpuUsPerMsg: median(reps.map((r) => r[t.name].cpuUsPerMsg)),
    bad: reps.reduce((n, r) => n + r[t.name].bad, 0),
  }));
  const perRep = reps.map((r) =>
    r['weft-ws'] && r['ws-direct'] ? Math.round((r['weft-ws'].perSec / r['ws-direct'].perSec) * 100) / 100 : null,
  );
  return { conns: CONNS, window: WINDOW, size: SIZE, seconds, rows, perRepRatio: perRep, ratio: median(perRep) };
}

export function wsLines(w) {
  if (!w) return [];
  const lines = [
    `WebSocket echo (${w.conns} connections × ${w.window} messages of ${w.size} B in flight, ${w.seconds} s per run; median of ${w.perRepRatio.length} rep(s)):`,
  ];
  for (const r of w.rows)
    lines.push(`- ${r.name}: ${r.perSec} msg/s${r.cpuUsPerMsg !== null ? `, agent CPU ${r.cpuUsPerMsg} µs/msg` : ''}, ${r.bad} bad`);
  if (w.ratio !== null)
    lines.push(
      `- weft-ws / ws-direct: ${w.ratio}× (per rep ${w.perRepRatio.join(', ')}) (target ≥ 0.5: ${w.ratio >= 0.5 ? 'PASS' : 'MISS'})`,
    );
  return lines;
}
