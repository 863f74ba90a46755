/**
 * Control-plane scale benchmark (see README.md beside this file).
 *
 *   node bench/control-plane/run.mjs [--agents 200] [--services 200] [--endpoints 2000]
 *        [--subscriptions 20] [--churn 100] [--duration 15] [--registrations 2000] [--cp-cpu-prof]
 *        [--replicas N --store postgres://…]
 *
 * Starts real control planes (`weft control-plane`, one per --replicas) in temp
 * data dirs on loopback, forks the load generator (load.mjs), samples each
 * control plane's RSS/CPU when the load generator asks, restarts the control
 * plane on the same port and data dir when asked (one replica) or kills the
 * last replica with SIGKILL (several), then prints a summary, PASS/MISS per target,
 * and, as the last stdout line, one JSON object with every figure. Appends a
 * dated section to bench/results/control-plane.md. Everything it starts is
 * stopped by PID (also on error, timeout and Ctrl-C); the temp dir is removed.
 */
import { fork } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlPlaneProcess } from './lib/cp-process.mjs';
import { loadProfile, summarizeProfile } from './lib/cpu-profile.mjs';
import { parseFlags, usage } from './lib/flags.mjs';
import { REPO } from './lib/proto.mjs';
import { appendMarkdown, atTargetScale, evaluateTargets, summaryLines, targetLines } from './lib/report.mjs';
import { round, sleep } from './lib/stats.mjs';

let cfg;
try {
  cfg = parseFlags(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
if (cfg.help) {
  console.log(usage());
  process.exit(0);
}

const command = ['node', 'bench/control-plane/run.mjs', ...process.argv.slice(2)].join(' ');
const tmp = mkdtempSync(join(tmpdir(), 'weft-cp-bench-'));
const dataDir = join(tmp, 'data');
const profDir = join(tmp, 'prof');
const processes = { cps: [], load: null };
let finished = false;

function cleanupSync() {
  if (processes.load && processes.load.exitCode === null && processes.load.signalCode === null) processes.load.kill('SIGKILL');
  for (const cp of processes.cps) cp.killNow();
  try {
    rmSync(tmp, { recursive: true, force: true });
  } catch {}
}
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the load generator and the control plane`);
    fail(new Error(`interrupted by ${sig}`), 130);
  });
}

const timeoutS =
  cfg.timeoutS ||
  Math.ceil(
    120 +
      cfg.endpoints / 500 +
      cfg.agents * 0.06 +
      cfg.duration +
      cfg.settleMs / 1000 +
      (cfg.registrations + cfg.warmupRegistrations) / 200 +
      90,
  );
const watchdog = setTimeout(() => fail(new Error(`run exceeded its ${timeoutS} s limit (--timeout-s)`), 1), timeoutS * 1000);

async function fail(err, code) {
  if (finished) return;
  finished = true;
  clearTimeout(watchdog);
  console.error(`control-plane bench failed: ${err.message}`);
  for (const cp of processes.cps)
    if (cp.tail.length) console.error(`--- control-plane pid ${cp.pid} stderr (tail) ---\n${cp.tail.slice(-15).join('\n')}`);
  if (processes.load && processes.load.exitCode === null) processes.load.kill('SIGTERM');
  await Promise.all(processes.cps.map((cp) => cp.stop(3000).catch(() => {})));
  console.log(JSON.stringify({ bench: 'control-plane', date: new Date().toISOString(), command, error: err.message }));
  process.exit(code);
}

async function main() {
  const date = new Date().toISOString();
  console.log(`control-plane bench: ${command}`);
  console.log(`data dir ${dataDir}; hard limit ${timeoutS} s`);
  // One after another: each replica's start (migrations included) is timed alone.
  const readies = [];
  for (let r = 0; r < cfg.replicas; r++) {
    const cp = new ControlPlaneProcess({
      repo: REPO,
      dataDir: r === 0 ? dataDir : `${dataDir}-${r}`,
      grpcPort: 0,
      leaseTtlS: cfg.leaseTtl,
      cpuProfDir: cfg.cpCpuProf && r === cfg.cpCpuProfReplica ? profDir : null,
      store: cfg.store,
      nodeFlags: cfg.cpNodeFlags,
    });
    processes.cps.push(cp);
    const ready = await cp.start();
    readies.push(ready);
    console.log(
      `control plane ${r} pid ${cp.pid} ready on 127.0.0.1:${ready.grpcPort} in ${ready.startMs} ms${cfg.store ? ' (PostgreSQL store)' : ''}`,
    );
  }
  const ready = readies[0];
  const cp = processes.cps[0];
  const firstCp = cp;
  const cpInfo = {
    pid: cp.pid,
    grpcPort: ready.grpcPort,
    startMs: ready.startMs,
    spawnedAtMs: cp.spawnedAtMs,
    replicas: processes.cps.map((c, r) => ({ pid: c.pid, grpcPort: readies[r].grpcPort, startMs: readies[r].startMs })),
    store: cfg.store ? 'postgres' : 'sqlite',
  };
  await sleep(1000);
  const rssEmpty = sumKnown(processes.cps.map((c) => c.rssKiB()));
  const rssEmptyPerReplica = processes.cps.map((c) => c.rssKiB());
  const marks = {};

  const load = fork(join(REPO, 'bench/control-plane/load.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  processes.load = load;
  const outcome = new Promise((resolve, reject) => {
    load.on('message', async (m) => {
      try {
        if (m.type === 'measure') {
          const perReplica = processes.cps.map((c) => ({ rssKiB: c.rssKiB(), cpuMs: c.cpuMs() }));
          load.send({
            replyTo: m.id,
            rssKiB: sumKnown(perReplica.map((p) => p.rssKiB)),
            cpuMs: sumKnown(perReplica.map((p) => p.cpuMs)),
            perReplica,
          });
        } else if (m.type === 'failover') {
          // A replica crashes: its agents must move to the others and resync.
          const victim = processes.cps[processes.cps.length - 1];
          load.send({ type: 'cp-stopping' });
          const t0 = Date.now();
          await victim.kill9();
          console.log(`control plane ${processes.cps.length - 1} (pid ${victim.pid}) killed with SIGKILL`);
          load.send({ type: 'cp-ready' });
          load.send({ replyTo: m.id, stopMs: Date.now() - t0, killed: true, startMs: 0 });
        } else if (m.type === 'mark') {
          marks[m.name] = m.wall;
        } else if (m.type === 'restart') {
          load.send({ type: 'cp-stopping' });
          const stopped = await processes.cps[0].stop(10_000);
          console.log(
            `control plane stopped with SIGTERM in ${stopped.stopMs} ms (exit code ${stopped.code}, signal ${stopped.signal}${stopped.killed ? ', needed SIGKILL' : ''}); restarting on port ${ready.grpcPort}`,
          );
          const next = new ControlPlaneProcess({
            repo: REPO,
            dataDir,
            grpcPort: ready.grpcPort,
            leaseTtlS: cfg.leaseTtl,
            cpuProfDir: null,
            store: cfg.store,
            nodeFlags: cfg.cpNodeFlags,
          });
          processes.cps[0] = next;
          try {
            const again = await next.start();
            load.send({ type: 'cp-ready' });
            console.log(`control plane restarted: pid ${next.pid}, ready in ${again.startMs} ms`);
            load.send({ replyTo: m.id, stopMs: stopped.stopMs, killed: stopped.killed, startMs: again.startMs });
          } catch (err) {
            load.send({ replyTo: m.id, error: err.message });
          }
        } else if (m.type === 'result') {
          resolve(m.out);
        } else if (m.type === 'error') {
          reject(new Error(`load generator: ${m.message}`));
        }
      } catch (err) {
        reject(err);
      }
    });
    load.on('exit', (code, signal) => reject(new Error(`load generator exited (code ${code}, signal ${signal}) without a result`)));
  });
  load.send({ type: 'start', config: cfg, grpcPorts: readies.map((r) => r.grpcPort), httpPorts: readies.map((r) => r.httpPort) });
  const out = await outcome;
  await new Promise((resolve) => (load.exitCode !== null ? resolve() : load.once('exit', resolve)));
  const finalStops = await Promise.all(processes.cps.map((c) => c.stop(10_000)));
  const finalStop = finalStops[0];

  let profiles = null;
  let profilePath = null;
  if (cfg.cpCpuProf) {
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      profilePath = join(tmpdir(), `weft-cp-bench-${date.replace(/[:.]/g, '-')}.cpuprofile`);
      copyFileSync(join(profDir, file), profilePath);
      const profile = loadProfile(profilePath);
      const rel = (name) => marks[name] - cpInfo.spawnedAtMs;
      profiles = {};
      for (const ph of ['seed', 'connect', 'churn', 'burst']) {
        if (marks[`${ph}-start`] && marks[`${ph}-end`])
          profiles[ph] = summarizeProfile(profile, rel(`${ph}-start`), rel(`${ph}-end`), { repo: `${REPO}/` });
      }
    } else console.log('no CPU profile was written (the control plane did not exit normally on SIGTERM?)');
  }

  const rssKiB = { empty: rssEmpty, ...out.rssKiB };
  const f = {
    bench: 'control-plane',
    date,
    command,
    config: cfg,
    atTargetScale: atTargetScale(cfg),
    host: { cpus: availableParallelism(), node: process.version },
    cp: {
      ...cpInfo,
      finalStopMs: finalStop.stopMs,
      finalStopKilled: finalStop.killed,
      logLines: {
        first: { warn: firstCp.warnLines, error: firstCp.errorLines },
        restarted: processes.cps[0] === firstCp ? null : { warn: processes.cps[0].warnLines, error: processes.cps[0].errorLines },
      },
    },
    ...out,
    rssKiB,
    memPerAgentKiB:
      rssKiB.connected && rssKiB.seeded && out.connect.synced ? round((rssKiB.connected - rssKiB.seeded) / out.connect.synced, 1) : null,
    marginalPerAgentKiB: marginalPerAgent(rssKiB, out.perReplica),
    perReplica: out.perReplica.map((p, r) => ({ ...p, rssKiB: { empty: rssEmptyPerReplica[r], ...p.rssKiB } })),
    cpuProfile: profilePath,
  };
  const lines = summaryLines(f);
  const rows = evaluateTargets(f);
  f.targets = Object.fromEntries(rows.map((r) => [r.name, { value: r.value, target: r.target, pass: r.pass }]));
  f.pass = rows.every((r) => r.pass);

  console.log('');
  for (const l of lines) console.log(l);
  if (profiles) {
    for (const [ph, p] of Object.entries(profiles)) {
      console.log(
        `\ncontrol-plane CPU profile (replica ${cfg.cpCpuProfReplica}), ${ph} phase (${p.sampledMs} ms sampled in window ${p.windowMs.join('..')} ms):`,
      );
      console.log('  self time:');
      for (const s of p.self) console.log(`    ${String(s.pct).padStart(5)}%  ${String(s.ms).padStart(6)} ms  ${s.fn}`);
      console.log('  inclusive:');
      for (const s of p.inclusive) console.log(`    ${String(s.pct).padStart(5)}%  ${String(s.ms).padStart(6)} ms  ${s.fn}`);
    }
    console.log(`\nfull profile kept at ${profilePath} (open in Chrome DevTools > Performance)`);
    f.cpuProfileSummary = Object.fromEntries(Object.entries(profiles).map(([ph, p]) => [ph, p.self.slice(0, 6)]));
  }
  console.log(`\ntargets${f.atTargetScale ? '' : ' (this run is below the target scale: verdicts are indicative only)'}:`);
  for (const l of targetLines(rows)) console.log(l);
  if (!cfg.noResults) {
    const path = join(REPO, 'bench/results/control-plane.md');
    appendMarkdown(path, f, lines, rows, profiles);
    console.log(`appended to ${path}`);
  }
  finished = true;
  clearTimeout(watchdog);
  rmSync(tmp, { recursive: true, force: true });
  console.log(JSON.stringify(f));
}

/** Sum of the figures that are known (a killed replica has none). */
function sumKnown(values) {
  const known = values.filter((v) => v !== null && v !== undefined);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

main().catch((err) => fail(err, 1));

/** RSS growth over the second half of the connecting agents, per agent of that half (load.mjs says why). */
function marginalPerAgent(rssKiB, perReplica) {
  const agents = perReplica.reduce((n, p) => n + (p.secondHalfAgents ?? 0), 0);
  if (!rssKiB.connected || !rssKiB.halfConnected || agents === 0) return null;
  return round((rssKiB.connected - rssKiB.halfConnected) / agents, 1);
}
