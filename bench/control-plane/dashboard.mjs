/**
 * What the dashboard's live view costs the control plane.
 *
 *   node bench/control-plane/dashboard.mjs [--agents 1000] [--seconds 10]
 *
 * Starts a real control plane in this process (--insecure, loopback, temp
 * data dir), registers --agents agents with two instances each over gRPC, then
 * prints:
 *   - GET /v1/agents: median and p99 over 50 requests (the same work as one
 *     `agents` fingerprint of the change feed, which runs once a second while
 *     a dashboard is open),
 *   - the control plane's CPU per second with no event stream open and with
 *     10 open (process.cpuUsage over --seconds each; the feed works once per
 *     tick whatever the number of streams),
 *   - how long a registration takes to reach an open event stream as a
 *     `services` event (median of 10; bounded by the 1 s poll),
 *   - the size of the dashboard's files.
 * Everything stays on loopback; the control plane is closed and the temp dir
 * removed at the end. Run `npm run build` first.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { startControlPlane } from '@weft/control-plane';
import { loadWeftProto, silentLogger } from '@weft/shared';

function flag(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name}: must be a positive whole number, got ${JSON.stringify(process.argv[i + 1])}`);
    process.exit(2);
  }
  return n;
}
const AGENTS = flag('agents', 1000);
const SECONDS = flag('seconds', 10);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'weft-dash-bench-'));
const cp = await startControlPlane({
  dataDir: dir,
  host: '127.0.0.1',
  grpcPort: 0,
  httpPort: 0,
  leaseTtlMs: 600_000,
  restartGraceMs: 600_000,
  logger: silentLogger,
  insecure: true,
});
const registry = new (loadWeftProto().Registry)(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
const register = (agentId, service, ids) =>
  new Promise((resolve, reject) =>
    registry.Register(
      {
        agent: { agent_id: agentId, hostname: `${agentId}.bench`, address: '10.0.0.1', inbound_port: 15006, zone: 'z1', version: 'bench' },
        instances: ids.map((id) => ({ service, instance_id: id, address: '127.0.0.1', port: 8080 })),
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
const base = `http://127.0.0.1:${cp.httpPort}`;
const streams = [];
try {
  for (let i = 0; i < AGENTS; i += 50)
    await Promise.all(
      Array.from({ length: Math.min(50, AGENTS - i) }, (_, k) =>
        register(`agent-${i + k}`, `svc-${(i + k) % 200}`, [`a${i + k}-1`, `a${i + k}-2`]),
      ),
    );

  const times = [];
  let bytes = 0;
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    bytes = (await (await fetch(`${base}/v1/agents`)).arrayBuffer()).byteLength;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);

  const cpuPerSecond = async () => {
    const before = process.cpuUsage();
    await sleep(SECONDS * 1000);
    const d = process.cpuUsage(before);
    return (d.user + d.system) / 1000 / SECONDS;
  };
  const idleCpu = await cpuPerSecond();

  const readers = [];
  for (let i = 0; i < 10; i++) {
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/events`, { signal: abort.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    streams.push(abort);
    readers.push(reader);
  }
  // Drain every stream in the background; the first one also times events.
  const waiters = [];
  let text = '';
  void (async () => {
    for (;;) {
      const { value, done } = await readers[0].read().catch(() => ({ done: true }));
      if (done) return;
      text += value;
      if (/"services"/.test(text)) {
        text = '';
        waiters.shift()?.();
      }
    }
  })();
  for (const r of readers.slice(1))
    void (async () => {
      for (;;) if ((await r.read().catch(() => ({ done: true }))).done) return;
    })();
  const streamCpu = await cpuPerSecond();

  const delays = [];
  for (let i = 0; i < 10; i++) {
    const seen = new Promise((r) => waiters.push(r));
    const t = performance.now();
    await register('agent-0', 'svc-new', [`new-${i}`]);
    await seen;
    delays.push(performance.now() - t);
    await sleep(300 + Math.random() * 400);
  }
  delays.sort((a, b) => a - b);

  const uiDir = join(import.meta.dirname, '..', '..', 'control-plane', 'dist', 'ui');
  const ui = Object.fromEntries(readdirSync(uiDir).map((f) => [f, statSync(join(uiDir, f)).size]));

  const figures = {
    agents: AGENTS,
    instances: AGENTS * 2,
    agentsJsonBytes: bytes,
    getAgentsMedianMs: round(pct(times, 50)),
    getAgentsP99Ms: round(pct(times, 99)),
    cpuMsPerSecondNoStreams: round(idleCpu),
    cpuMsPerSecond10Streams: round(streamCpu),
    changeToEventMedianMs: round(pct(delays, 50)),
    changeToEventMaxMs: round(delays.at(-1)),
    uiBytes: ui,
  };
  console.log(`control plane with ${AGENTS} agents, ${AGENTS * 2} instances (in-process, loopback, --insecure)`);
  console.log(`  GET /v1/agents (${bytes} bytes): median ${figures.getAgentsMedianMs} ms, p99 ${figures.getAgentsP99Ms} ms`);
  console.log(`  CPU: ${figures.cpuMsPerSecondNoStreams} ms/s with no event stream, ${figures.cpuMsPerSecond10Streams} ms/s with 10 open`);
  console.log(
    `  registration -> services event: median ${figures.changeToEventMedianMs} ms, max ${figures.changeToEventMaxMs} ms (1 s poll)`,
  );
  console.log(
    `  dashboard files: ${Object.entries(ui)
      .map(([f, n]) => `${f} ${n} B`)
      .join(', ')}`,
  );
  console.log(JSON.stringify(figures));
} finally {
  for (const a of streams) a.abort();
  registry.close();
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
}
