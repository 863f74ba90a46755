// gRPC part of the data-plane bench: unary calls through one hop, Weft (agent outbound, h2c,
// the instance registered with protocol grpc) against nginx grpc_pass, measured like
// /work/shared/bench-peers/mtls/grpc-run.sh: grpc-js server on CPU 1, the proxy on CPU 0,
// h2load on CPU 1 (-c 10 -m 10); CPU µs per call of the proxy process; p50/p99 at one call in
// flight (h2load -c 1 -m 1, per-request times from --log-file); and one server-streaming call's
// throughput (128 MiB per call, 256 KiB messages). h2load comes from Debian's nghttp2-client:
// installed with apt-get when missing and we are root, else the part is skipped with a note.
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { clockTicks, cpuTimes, ticks } from './cpu.mjs';
import { nginxBin, nginxHead, runNginx } from './peers.mjs';
import { freePort, runToEnd, start, waitForPort, which } from './procs.mjs';

const PROXY_CPU = 0;
const LOAD_CPU = 1;
const STREAM_COUNT = 512;
const STREAM_SIZE = 256 * 1024;

/** h2load on PATH, installing nghttp2-client when it is missing and we may (root). */
export async function h2loadBin(note) {
  let bin = which('h2load');
  if (bin) return bin;
  if (process.getuid?.() === 0 && which('apt-get')) {
    const r = await runToEnd(['apt-get', 'install', '-y', '-q', 'nghttp2-client'], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    bin = which('h2load');
    if (bin) return bin;
    note(`h2load: apt-get install nghttp2-client failed (${(r.stderr || r.stdout).trim().split('\n').pop()}), gRPC part skipped`);
    return null;
  }
  note('h2load: not installed (apt-get install nghttp2-client), gRPC part skipped');
  return null;
}

/** A gRPC frame around `msg`. */
function frame(msg) {
  const f = Buffer.alloc(5 + msg.length);
  f.writeUInt32BE(msg.length, 1);
  msg.copy(f, 5);
  return f;
}

export async function startGrpcUpstream(repoRoot, here) {
  const entry = createRequire(join(repoRoot, 'package.json')).resolve('@grpc/grpc-js');
  const port = await freePort();
  const proc = start([process.execPath, join(here, 'grpc-upstream.mjs'), String(port), entry], { cpu: LOAD_CPU, name: 'grpc-upstream' });
  await waitForPort(port, proc);
  return { name: 'grpc-direct', port, authority: `127.0.0.1:${port}`, pids: [proc.pid], procs: [proc] };
}

export async function startNginxGrpc(tmp, upstreamPort, note) {
  const bin = nginxBin();
  if (!bin) return note('nginx: not installed, gRPC peer skipped');
  const dir = join(tmp, 'nginx-grpc');
  await runToEnd(['mkdir', '-p', join(dir, 'tmp')]);
  const port = await freePort();
  // As /work/shared/bench-peers/mtls/nginx-grpc.conf.
  const conf = `${nginxHead(dir)}  keepalive_requests 10000000;
  upstream grpcup { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${port} http2;
    location / { grpc_pass grpc://grpcup; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = runNginx(bin, dir, 'nginx-grpc');
  await waitForPort(port, proc);
  return { name: 'nginx-grpc', port, authority: `127.0.0.1:${port}`, pids: [proc.pid], procs: [proc] };
}

/**
 * A bare reverse proxy with none of the mesh on the proxy core, to show what
 * the platform costs before any of Weft: `node-h2-proxy.mjs` on node:http2
 * (`node-h2-grpc`) and `codec-h2-proxy.mjs` on the agent's own HTTP/2 codec
 * (`codec-h2-grpc`).
 */
async function startBareProxy(here, script, name, upstreamPort) {
  const port = await freePort();
  const proc = start([process.execPath, join(here, script), String(port), String(upstreamPort)], { cpu: PROXY_CPU, name });
  await waitForPort(port, proc);
  return { name, port, authority: `127.0.0.1:${port}`, pids: [proc.pid], procs: [proc] };
}

export const startNodeH2Proxy = (here, upstreamPort) => startBareProxy(here, 'node-h2-proxy.mjs', 'node-h2-grpc', upstreamPort);
export const startCodecH2Proxy = (here, upstreamPort) => startBareProxy(here, 'codec-h2-proxy.mjs', 'codec-h2-grpc', upstreamPort);

/** One unary call over h2c; resolves with grpc-status (from trailers or a trailers-only head) and x-weft-error. */
export function grpcCall(port, authority, path, body) {
  return new Promise((resolve, reject) => {
    const s = connect(`http://127.0.0.1:${port}`);
    s.on('error', reject);
    const req = s.request({
      ':method': 'POST',
      ':path': path,
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status;
    let error;
    req.on('response', (h) => {
      status ??= h['grpc-status'];
      error = h['x-weft-error'];
    });
    req.on('trailers', (t) => {
      status = t['grpc-status'];
    });
    req.resume();
    req.on('close', () => {
      s.close();
      resolve({ status, error });
    });
    req.end(frame(body));
  });
}

/** Waits until a unary call through `target` answers grpc-status 0. */
export async function waitGrpc(target, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    try {
      last = await grpcCall(target.port, target.authority, '/bar.Echo/Echo', Buffer.from('hi'));
      if (last.status === '0') return;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${target.name}: no gRPC answer after ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

function h2loadArgs(bin, target, extra) {
  return [bin, ...extra, '--connect-to', `127.0.0.1:${target.port}`, '-H', 'content-type: application/grpc', '-H', 'te: trailers'];
}

function parseH2load(out) {
  const num = (re) => Number((re.exec(out) ?? [])[1] ?? Number.NaN);
  return {
    succeeded: num(/(\d+) succeeded/),
    failed: num(/(\d+) failed/),
    errored: num(/(\d+) errored/),
    rps: num(/([\d.]+) req\/s/),
    seconds: (() => {
      const m = /finished in ([\d.]+)(ms|s)/.exec(out);
      return m ? Number(m[1]) / (m[2] === 'ms' ? 1000 : 1) : Number.NaN;
    })(),
    bytes: num(/traffic: [\d.]+[KMG]?B \((\d+)\) total/),
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Unary calls: CPU µs per call at -c 10 -m 10, then p50/p99 at one call in flight. */
async function measureUnary(bin, target, o, tmp) {
  const body = join(tmp, 'grpc-body.bin');
  writeFileSync(body, frame(Buffer.from('\n\x02hi')));
  const url = `http://${target.authority}/bar.Echo/Echo`;
  await runToEnd(h2loadArgs(bin, target, ['-D', '2', '-c', '10', '-m', '10', '-d', body, url]), { cpu: LOAD_CPU });
  const s0 = cpuTimes();
  const t0 = ticks(target.pids);
  const r = await runToEnd(h2loadArgs(bin, target, ['-D', String(o.duration), '-c', '10', '-m', '10', '-d', body, url]), { cpu: LOAD_CPU });
  const t1 = ticks(target.pids);
  const s1 = cpuTimes();
  const load = parseH2load(r.stdout);
  const own = target.name === 'grpc-direct' ? 0 : t1 - t0;
  const cpu0 = s1[0] && s0[0] ? { busy: s1[0].busy - s0[0].busy, total: s1[0].total - s0[0].total } : null;
  const otherCpu0Pct = cpu0 && cpu0.total > 0 ? Math.max(0, Math.round(((cpu0.busy - own) / cpu0.total) * 100)) : null;
  const logFile = join(tmp, `h2load-${target.name}.log`);
  const c1 = await runToEnd(
    h2loadArgs(bin, target, [
      '-D',
      String(Math.max(1, Math.round(o.duration / 2))),
      '-c',
      '1',
      '-m',
      '1',
      '-d',
      body,
      `--log-file=${logFile}`,
      url,
    ]),
    { cpu: LOAD_CPU },
  );
  const times = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split('\t')[2]))
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  return {
    name: target.name,
    callsPerS: Math.round(load.rps),
    succeeded: load.succeeded,
    failed: (load.failed || 0) + (load.errored || 0) + (parseH2load(c1.stdout).failed || 0),
    cpuUsPerCall: Math.round((((t1 - t0) * 1e6) / clockTicks() / load.succeeded) * 10) / 10,
    c1P50Us: percentile(times, 50),
    c1P99Us: percentile(times, 99),
    c1Calls: times.length,
    otherCpu0Pct,
  };
}

/** One server-streaming call of STREAM_COUNT × STREAM_SIZE bytes at a time, 4 calls: MiB/s. */
async function measureStream(bin, target, tmp) {
  const body = join(tmp, 'grpc-stream.bin');
  const req = Buffer.alloc(8);
  req.writeUInt32BE(STREAM_COUNT, 0);
  req.writeUInt32BE(STREAM_SIZE, 4);
  writeFileSync(body, frame(req));
  const t0 = ticks(target.pids);
  const r = await runToEnd(
    h2loadArgs(bin, target, [
      '-n',
      '4',
      '-c',
      '1',
      '-m',
      '1',
      '-w',
      '24',
      '-W',
      '24',
      '-d',
      body,
      `http://${target.authority}/bar.Echo/Stream`,
    ]),
    { cpu: LOAD_CPU },
  );
  const t1 = ticks(target.pids);
  const load = parseH2load(r.stdout);
  const mib = (load.succeeded * STREAM_COUNT * STREAM_SIZE) / (1024 * 1024);
  return {
    name: target.name,
    mibPerS: Math.round(mib / load.seconds),
    calls: load.succeeded,
    failed: (load.failed || 0) + (load.errored || 0),
    cpuSPerGiB: target.name === 'grpc-direct' ? null : Math.round(((t1 - t0) / clockTicks() / (mib / 1024)) * 100) / 100,
  };
}

/** Peers measured on unary calls only (the stream part compares Weft with the server reached directly). */
const NO_STREAM_PART = new Set(['nginx-grpc', 'node-h2-grpc', 'codec-h2-grpc']);

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : Number.NaN;
};
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? Math.round((a / b) * 100) / 100 : null);

/** Median of each numeric field over the reps' rows of one target. */
function medianRow(rows) {
  const out = { ...rows[0] };
  for (const k of Object.keys(out)) if (typeof out[k] === 'number') out[k] = median(rows.map((r) => r[k]));
  out.failed = rows.reduce((n, r) => n + (r.failed || 0), 0);
  return out;
}

/**
 * Runs the gRPC part `o.reps` times over `targets` (grpc-direct, nginx-grpc, weft-grpc);
 * `waitIdle(label)` is the bench's wait for a quiet machine. Ratios are taken within each rep
 * (the machine is shared: compare only what ran close together), and their median reported.
 * Returns { unary: median rows, stream: median rows, ratios, perRep }.
 */
export async function grpcBench({ bin, targets, o, tmp, waitIdle, log }) {
  const reps = [];
  for (const t of targets) await waitGrpc(t);
  for (let rep = 1; rep <= o.reps; rep++) {
    const unary = {};
    const stream = {};
    for (const t of targets) {
      if (o.waitIdle > 0) await waitIdle(`${t.name} (gRPC unary) rep ${rep}`);
      log(`gRPC unary: ${t.name} rep ${rep}`);
      const u = await measureUnary(bin, t, o, tmp);
      log(
        `  calls/s ${u.callsPerS}, cpu ${u.cpuUsPerCall} µs/call, p50@c1 ${u.c1P50Us} µs, p99@c1 ${u.c1P99Us} µs, other load on cpu0 ${u.otherCpu0Pct}%, ${u.failed} failed`,
      );
      unary[t.name] = u;
      if (!NO_STREAM_PART.has(t.name)) {
        log(`gRPC server streaming: ${t.name} rep ${rep}`);
        const st = await measureStream(bin, t, tmp);
        log(`  ${st.mibPerS} MiB/s over ${st.calls} calls, ${st.failed} failed`);
        stream[t.name] = st;
      }
    }
    reps.push({
      unary,
      stream,
      cpu: ratio(unary['weft-grpc']?.cpuUsPerCall, unary['nginx-grpc']?.cpuUsPerCall),
      p99c1: ratio(unary['weft-grpc']?.c1P99Us, unary['nginx-grpc']?.c1P99Us),
      p50c1: ratio(unary['weft-grpc']?.c1P50Us, unary['nginx-grpc']?.c1P50Us),
      bareCpu: ratio(unary['node-h2-grpc']?.cpuUsPerCall, unary['nginx-grpc']?.cpuUsPerCall),
      bareP99c1: ratio(unary['node-h2-grpc']?.c1P99Us, unary['nginx-grpc']?.c1P99Us),
      codecCpu: ratio(unary['codec-h2-grpc']?.cpuUsPerCall, unary['nginx-grpc']?.cpuUsPerCall),
      codecP99c1: ratio(unary['codec-h2-grpc']?.c1P99Us, unary['nginx-grpc']?.c1P99Us),
      streamVsDirect: ratio(stream['weft-grpc']?.mibPerS, stream['grpc-direct']?.mibPerS),
    });
  }
  const names = targets.map((t) => t.name);
  const unary = names.map((n) => medianRow(reps.map((r) => r.unary[n])));
  const stream = names.filter((n) => !NO_STREAM_PART.has(n)).map((n) => medianRow(reps.map((r) => r.stream[n])));
  const perRep = {
    bareCpu: reps.map((r) => r.bareCpu),
    bareP99c1: reps.map((r) => r.bareP99c1),
    codecCpu: reps.map((r) => r.codecCpu),
    codecP99c1: reps.map((r) => r.codecP99c1),
    cpu: reps.map((r) => r.cpu),
    p99c1: reps.map((r) => r.p99c1),
    p50c1: reps.map((r) => r.p50c1),
    streamVsDirect: reps.map((r) => r.streamVsDirect),
  };
  const m = (xs) => (xs.every((x) => x === null) ? null : median(xs));
  const ratios = {
    cpu: m(perRep.cpu),
    p99c1: m(perRep.p99c1),
    p50c1: m(perRep.p50c1),
    streamVsDirect: m(perRep.streamVsDirect),
    bareCpu: m(perRep.bareCpu),
    bareP99c1: m(perRep.bareP99c1),
    codecCpu: m(perRep.codecCpu),
    codecP99c1: m(perRep.codecP99c1),
  };
  return { reps: o.reps, unary, stream, ratios, perRep };
}

export function grpcLines(g) {
  if (!g) return [];
  const lines = [`gRPC unary through one hop (h2load -c 10 -m 10; c1 = -c 1 -m 1; median of ${g.reps ?? 1} rep(s)):`];
  lines.push('| path | calls/s | CPU µs/call | p50@c1 µs | p99@c1 µs | failed | other load cpu0 |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const u of g.unary)
    lines.push(
      `| ${u.name} | ${u.callsPerS} | ${u.name === 'grpc-direct' ? '-' : u.cpuUsPerCall} | ${u.c1P50Us} | ${u.c1P99Us} | ${u.failed} | ${u.otherCpu0Pct}% |`,
    );
  const r = g.ratios;
  const per = (k) => (g.perRep ? ` (per rep ${g.perRep[k].join(', ')})` : '');
  if (r && r.cpu !== null) {
    lines.push(`- weft-grpc / nginx-grpc CPU per call: ${r.cpu}×${per('cpu')} (target ≤ 2: ${r.cpu <= 2 ? 'PASS' : 'MISS'})`);
    lines.push(`- weft-grpc / nginx-grpc p99@c1: ${r.p99c1}×${per('p99c1')} (target ≤ 2: ${r.p99c1 <= 2 ? 'PASS' : 'MISS'})`);
    if (r.p50c1 !== undefined && r.p50c1 !== null) lines.push(`- weft-grpc / nginx-grpc p50@c1: ${r.p50c1}×${per('p50c1')}`);
  }
  if (r && r.bareCpu !== null && r.bareCpu !== undefined) {
    lines.push(
      `- the floor of node:http2 (node-h2-grpc, a bare proxy with none of the mesh) / nginx-grpc: CPU per call ${r.bareCpu}×${per('bareCpu')}, p99@c1 ${r.bareP99c1}×${per('bareP99c1')}`,
    );
  }
  if (r && r.codecCpu !== null && r.codecCpu !== undefined) {
    lines.push(
      `- the floor of the agent's HTTP/2 codec (codec-h2-grpc, the same bare proxy on shared/dist/http2-codec) / nginx-grpc: CPU per call ${r.codecCpu}×${per('codecCpu')}, p99@c1 ${r.codecP99c1}×${per('codecP99c1')}`,
    );
  }
  for (const s of g.stream) {
    lines.push(
      `- server streaming ${s.name}: ${s.mibPerS} MiB/s (${s.calls} calls of ${(STREAM_COUNT * STREAM_SIZE) / 1048576} MiB, ${s.failed} failed${s.cpuSPerGiB !== null ? `, proxy CPU ${s.cpuSPerGiB} s/GiB` : ''})${s.name === 'weft-grpc' ? ` (target ≥ 200: ${s.mibPerS >= 200 ? 'PASS' : 'MISS'})` : ''}`,
    );
  }
  if (r && r.streamVsDirect !== null && r.streamVsDirect !== undefined)
    lines.push(`- server streaming weft-grpc / grpc-direct: ${r.streamVsDirect}×${per('streamVsDirect')}`);
  return lines;
}
