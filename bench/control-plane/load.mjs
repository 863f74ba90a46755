/**
 * The load generator: one process, forked by run.mjs with an IPC channel,
 * that plays every simulated agent and every registry client, so all
 * propagation timestamps come from one clock (performance.now()).
 *
 * Phases: seed -> connect -> churn -> burst -> restart/resync. Between phases
 * it asks the parent to sample the control plane's RSS/CPU (`measure`), and
 * asks it to restart the control plane (`restart`). It sends one `result`
 * message with every figure, then exits.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
// The project's Prometheus text reader (the agent's test support), not a second one.
import { metricValue } from '../../agent/dist/proxy/fault-upstreams.js';
import { ChangeTracker } from './lib/change-tracker.mjs';
import { H2UnaryClient } from './lib/h2-unary.mjs';
import { makePlan } from './lib/plan.mjs';
import { AGENT_CHANNEL_OPTIONS, grpc, loadClients, unary } from './lib/proto.mjs';
import { SimAgent } from './lib/sim-agent.mjs';
import { pool, prng, round, sleep, summarize } from './lib/stats.mjs';

const log = (msg) => console.log(`[load +${(performance.now() / 1000).toFixed(1)}s] ${msg}`);

// ---- IPC with the parent -------------------------------------------------
let askSeq = 0;
const waiting = new Map();
const listeners = new Map();
process.on('message', (m) => {
  if (m.replyTo !== undefined) {
    const w = waiting.get(m.replyTo);
    waiting.delete(m.replyTo);
    w?.(m);
  } else listeners.get(m.type)?.(m);
});
process.on('disconnect', () => process.exit(2));
function ask(type, payload = {}) {
  const id = ++askSeq;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    process.send({ type, id, ...payload });
  });
}
const mark = (name) => process.send({ type: 'mark', name, wall: Date.now() });
const measure = (label) => ask('measure', { label });
const start = new Promise((resolve) => listeners.set('start', resolve));

// ---- per-phase traffic counters -------------------------------------------
let phase = 'idle';
const traffic = {};
function counter(p) {
  if (!traffic[p]) traffic[p] = { responses: 0, bytes: 0, resources: 0, removed: 0, notFound: 0, emptyResponses: 0, maxBytes: 0 };
  return traffic[p];
}

/** The registry revision a replica holds (GET /healthz: small, so polling it leaves no garbage to count as memory). */
async function revisionAt(httpPort) {
  const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  return Number((await res.json()).revision);
}

/** A replica's group-commit counters (GET /metrics): batches, writes in them, seconds spent committing them. */
async function batchCounters(httpPort) {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return {
    batches: metricValue(text, 'weft_cp_write_batch_size_count'),
    writes: metricValue(text, 'weft_cp_write_batch_size_sum'),
    seconds: metricValue(text, 'weft_cp_write_batch_seconds_sum'),
  };
}

/** Waits (up to 30 s) until every replica holds the first one's revision; resolves with the time it took. */
async function replicasAtRevisionOfFirst(httpPorts) {
  if (httpPorts.length < 2) return 0;
  const t0 = performance.now();
  const want = await revisionAt(httpPorts[0]);
  while (performance.now() - t0 < 30_000) {
    const revisions = await Promise.all(httpPorts.map(revisionAt));
    if (revisions.every((r) => r >= want)) return round(performance.now() - t0);
    await sleep(50);
  }
  throw new Error(`replicas did not all reach revision ${want} within 30 s`);
}

async function main() {
  const { config: cfg, grpcPorts, httpPorts } = await start;
  const targets = grpcPorts.map((p) => `127.0.0.1:${p}`);
  const replicas = targets.length;
  const plan = makePlan(cfg);
  const { Discovery, Registry, registryMethods } = loadClients();
  // One registry channel per replica. Seeding and churn write through replica 0, so with several replicas
  // the agents of the others measure propagation across replicas; the burst is spread over all of them.
  const registries = targets.map((t) => new Registry(t, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const registry = registries[0];
  // Agents of one channel group share a channel per replica (own HTTP/2 connection each); with
  // --agents-per-channel 1 (the default) every agent has its own connection, as real agents do.
  const channelCount = Math.ceil(cfg.agents / cfg.agentsPerChannel);
  const channels = new Map();
  const clientFor = (group, replica) => {
    const key = `${group}:${replica}`;
    if (!channels.has(key)) channels.set(key, new Discovery(targets[replica], grpc.credentials.createInsecure(), AGENT_CHANNEL_OPTIONS));
    return channels.get(key);
  };
  const groupOf = (i) => Math.floor(i / cfg.agentsPerChannel);
  const firstReplicaOf = (i) => groupOf(i) % replicas;
  const out = {
    channels: { count: channelCount, agentsPerChannel: cfg.agentsPerChannel, registryChannels: replicas },
    replicas,
  };
  const cpuAt = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };

  // ---- seed -----------------------------------------------------------
  phase = 'seed';
  mark('seed-start');
  let t0 = performance.now();
  const seedErrors = [];
  const owners = plan.byOwner.map((eps, i) => ({ i, eps })).filter((o) => o.eps.length > 0);
  // Each owner registers through the replica its stream will use, as a real agent registers with its own
  // control plane: every replica does a share of the seeding (and grows its heap for it) before "seeded".
  await pool(owners.length, cfg.concurrency, async (k) => {
    const { i, eps } = owners[k];
    try {
      await unary(
        registries[firstReplicaOf(i)],
        'Register',
        { agent: plan.infos[i], instances: eps.map((e) => e.spec), replace_all: false },
        30_000,
      );
    } catch (err) {
      seedErrors.push(err.details ?? err.message);
    }
  });
  out.seed = {
    registerCalls: owners.length,
    endpoints: cfg.endpoints,
    ms: round(performance.now() - t0),
    failed: seedErrors.length,
    firstError: seedErrors[0] ?? null,
  };
  log(`seeded ${cfg.endpoints} endpoints with ${owners.length} Register calls in ${out.seed.ms} ms (${seedErrors.length} failed)`);
  if (seedErrors.length === owners.length) throw new Error(`every seed Register failed: ${seedErrors[0]}`);
  mark('seed-end');
  // Every replica must hold the seeded mesh before the "seeded" memory sample: the others take it in
  // through catch-up reads, and what they grow while doing so would be counted as the agents' later.
  out.seed.replicasCaughtUpMs = await replicasAtRevisionOfFirst(httpPorts);
  if (httpPorts.length > 1) log(`every replica holds the seeded revision ${out.seed.replicasCaughtUpMs} ms after the last seed call`);
  await sleep(1000);
  const mSeeded = await measure('seeded');

  // ---- connect --------------------------------------------------------
  phase = 'connect';
  mark('connect-start');
  const agents = [];
  let resync = null;
  const syncWaiters = new Map();
  const tracker = new ChangeTracker();
  const endsByCode = {};
  const sink = {
    response(agent, res, t) {
      const c = counter(phase);
      c.responses++;
      c.bytes += res.__bytes ?? 0;
      if ((res.__bytes ?? 0) > c.maxBytes) c.maxBytes = res.__bytes;
      c.resources += res.resources.length;
      c.removed += res.removed.length;
      c.notFound += res.not_found.length;
      if (res.resources.length + res.removed.length + res.not_found.length === 0) c.emptyResponses++;
      if (phase === 'churn' || phase === 'settle') for (const r of res.resources) tracker.onResource(agent.idx, r, t);
      if (resync && agent.preHeld) {
        for (const r of res.resources) {
          if (agent.preHeld.get(r.name) === r.version) resync.resentUnchanged++;
          else resync.resentChanged++;
        }
        resync.removed += res.removed.length;
      }
    },
    synced(agent, t) {
      if (resync && agent.preHeld && agent.resyncedAt === undefined) {
        agent.resyncedAt = t;
        resync.synced++;
      }
      syncWaiters.get(agent.idx)?.(t);
      syncWaiters.delete(agent.idx);
    },
    streamEnded(_agent, status) {
      const key = grpc.status[status.code] ?? String(status.code);
      endsByCode[`${phase}:${key}`] = (endsByCode[`${phase}:${key}`] ?? 0) + 1;
    },
  };
  for (let i = 0; i < cfg.agents; i++) {
    agents.push(
      new SimAgent({
        idx: i,
        info: plan.infos[i],
        subscriptions: plan.subs[i],
        replica: firstReplicaOf(i),
        replicas,
        clientFor: (r) => clientFor(groupOf(i), r),
        sink,
      }),
    );
  }
  const connectTimeoutMs = 60_000 + cfg.agents * 20;
  const syncTimes = [];
  let connectMs = 0;
  /** Connects agents [from, to) and waits until each is synced (or timed out); adds to connectMs. */
  const connectRange = async (from, to) => {
    t0 = performance.now();
    // At most 200 agents are between "stream opened" and "first sync" at once: a fleet that starts up, not a stampede.
    await pool(to - from, 200, (k) => {
      const i = from + k;
      const opened = performance.now();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(1000, connectTimeoutMs - (opened - t0)));
        syncWaiters.set(i, (t) => {
          clearTimeout(timer);
          syncTimes.push(t - opened);
          resolve();
        });
        agents[i].start();
      });
    });
    connectMs += performance.now() - t0;
  };
  // Two halves with a memory sample between them: the second half's growth is what one more connected
  // agent costs (the marginal figure), without what the first agents cost once (a heap grown to its
  // working size, code compiled for streams), which the seeded-to-connected figure includes.
  const half = Math.floor(cfg.agents / 2);
  await connectRange(0, half);
  await sleep(2000);
  const mHalf = await measure('half-connected');
  await connectRange(half, cfg.agents);
  const connected = agents.filter((a) => a.synced).length;
  out.connect = { agents: cfg.agents, synced: connected, ms: round(connectMs), timeToSyncMs: summarize(syncTimes) };
  out.connect.agentsPerS = round((connected / out.connect.ms) * 1000);
  log(`${connected}/${cfg.agents} agents connected and synced in ${out.connect.ms} ms over ${channelCount} channels`);
  mark('connect-end');
  await sleep(2000);
  const mConnected = await measure('connected');

  // ---- churn ----------------------------------------------------------
  phase = 'churn';
  mark('churn-start');
  const rnd = prng(0xc0ffee);
  const retired = new Set();
  let inflight = 0;
  let issued = 0;
  let skippedBusy = 0;
  let lagged = 0;
  const mChurn0 = await measure('churn-start');
  const cpu0 = cpuAt();
  // The load generator's own event-loop delay: if it is high, latencies include our own queueing.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  t0 = performance.now();
  const total = Math.round(cfg.churn * cfg.duration);
  const issueOne = () => {
    let ep = null;
    for (let tries = 0; tries < 50; tries++) {
      const cand = plan.endpoints[Math.floor(rnd() * plan.endpoints.length)];
      if (!tracker.isBusy(cand.spec.instance_id) && !retired.has(cand.spec.instance_id)) {
        ep = cand;
        break;
      }
      skippedBusy++;
    }
    if (!ep) return;
    const service = ep.spec.service;
    const expected = (plan.subscribers.get(service) ?? []).filter((a) => agents[a].synced);
    const kind = issued % 4 === 3 ? 'register' : 'set_health';
    issued++;
    let change;
    let call;
    if (kind === 'set_health') {
      const targetHealth = ep.spec.health === 'HEALTH_PASSING' ? 'HEALTH_CRITICAL' : 'HEALTH_PASSING';
      ep.spec.health = targetHealth;
      change = tracker.begin({ kind, service, instanceId: ep.spec.instance_id, field: 'health', target: targetHealth, expected });
      call = unary(registry, 'SetHealth', {
        agent_id: plan.infos[ep.owner].agent_id,
        instance_id: ep.spec.instance_id,
        health: targetHealth,
        output: 'bench',
      });
    } else {
      ep.spec.weight = (ep.spec.weight % 100) + 1;
      change = tracker.begin({ kind, service, instanceId: ep.spec.instance_id, field: 'weight', target: ep.spec.weight, expected });
      call = unary(registry, 'Register', { agent: plan.infos[ep.owner], instances: [ep.spec], replace_all: false });
    }
    inflight++;
    call
      .then(
        () => tracker.acked(change),
        (err) => {
          tracker.failed(change, err);
          retired.add(ep.spec.instance_id);
        },
      )
      .finally(() => inflight--);
  };
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - t0;
      const due = Math.min(total, Math.floor((elapsed * cfg.churn) / 1000)) - issued;
      for (let k = 0; k < due; k++) {
        if (inflight >= 512) {
          lagged += due - k;
          break;
        }
        issueOne();
      }
      if (issued >= total || elapsed > cfg.duration * 1000 + 5000) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  const issueMs = performance.now() - t0;
  while (inflight > 0 && performance.now() - t0 < issueMs + 30_000) await sleep(20);
  const churnCpuMs = cpuAt() - cpu0;
  loopDelay.disable();
  const mChurn1 = await measure('churn-end');
  mark('churn-end');
  phase = 'settle';
  const settleStart = performance.now();
  while (tracker.outstanding() > 0 && performance.now() - settleStart < cfg.settleMs) await sleep(20);
  const tr = tracker.result((i) => agents[i].replica);
  const churnTraffic = { ...counter('churn') };
  for (const k of Object.keys(churnTraffic)) {
    if (k === 'maxBytes') churnTraffic[k] = Math.max(churnTraffic[k], counter('settle').maxBytes);
    else churnTraffic[k] += counter('settle')[k];
  }
  const wallS = issueMs / 1000;
  out.churn = {
    targetPerS: cfg.churn,
    achievedPerS: round(issued / wallS),
    issued: tr.issued,
    acked: tr.acked,
    byKind: tr.byKind,
    failedCalls: tr.failedCalls,
    failures: tr.failures,
    callsStillInflight: inflight,
    lagged,
    skippedBusyPicks: skippedBusy,
    expectedDeliveries: tr.expected,
    delivered: tr.delivered,
    missed: tr.missed,
    deliveredBeforeAck: tr.beforeAck,
    latencyMs: summarize(tr.latencies),
    latencyByReplicaMs: Object.fromEntries(Object.entries(tr.byGroup).map(([r, l]) => [r, summarize(l)])),
    latencyFromSendMs: summarize(tr.fromSend),
    cpCpuPct: mChurn0.cpuMs !== null && mChurn1.cpuMs !== null ? round(((mChurn1.cpuMs - mChurn0.cpuMs) / issueMs) * 100, 1) : null,
    loadCpuPct: round((churnCpuMs / issueMs) * 100, 1),
    loadEventLoopDelayMs: {
      p50: round(loopDelay.percentile(50) / 1e6),
      p99: round(loopDelay.percentile(99) / 1e6),
      max: round(loopDelay.max / 1e6),
    },
    p99ByChurnSecondMs: tr.perSecond.map((v) => round(v, 1)),
    traffic: churnTraffic,
    bytesPerChange: tr.acked ? round(churnTraffic.bytes / tr.acked, 1) : null,
    bytesPerResponse: churnTraffic.responses ? round(churnTraffic.bytes / churnTraffic.responses, 1) : null,
  };
  log(
    `churn: ${tr.acked} changes acked (${out.churn.achievedPerS}/s), ${tr.delivered}/${tr.expected} deliveries, p50 ${out.churn.latencyMs.p50} ms, p99 ${out.churn.latencyMs.p99} ms, max ${out.churn.latencyMs.max} ms`,
  );

  // ---- registration burst ---------------------------------------------
  phase = 'burst';
  mark('burst-start');
  const burstLat = [];
  const burstErrors = new Map();
  // The burst's calls: the lean client by default (lib/h2-unary.mjs says why), one connection per replica either way.
  const burstClients =
    cfg.burstClient === 'grpc-js'
      ? null
      : targets.map((t) => new H2UnaryClient(t, registryMethods, cfg.burstClient === 'h2' ? 'node' : 'codec'));
  const register = (k, request) =>
    burstClients
      ? burstClients[k % replicas].call('Register', request, 30_000)
      : unary(registries[k % replicas], 'Register', request, 30_000);
  // Registration k of the burst (prefix 'w' for the warm-up's, 'b' for the measured ones): one new instance of one
  // of 50 services, for an existing agent.
  const registration = (prefix, k) => ({
    agent: plan.infos[k % cfg.agents],
    instances: [
      {
        service: `burst-${k % 50}`,
        instance_id: `${prefix}-${k}`,
        address: '127.0.0.1',
        port: 1024 + (k % 60_000),
        zone: '',
        weight: 1,
        tags: [],
        metadata: {},
        health: 'HEALTH_PASSING',
      },
    ],
    replace_all: false,
  });
  // The warm-up: the same calls, not counted, so the measured burst runs on code the JIT has optimised (a
  // control plane that has run for a while); without it, seconds of the burst go to compiling its hot paths.
  let warmup = null;
  if (cfg.warmupRegistrations > 0) {
    let ok = 0;
    const w0 = performance.now();
    await pool(cfg.warmupRegistrations, cfg.concurrency, async (k) => {
      await register(k, registration('w', k)).then(
        () => ok++,
        () => {},
      );
    });
    const ms = performance.now() - w0;
    warmup = { calls: cfg.warmupRegistrations, ok, ms: round(ms), perS: round((ok / ms) * 1000, 1) };
    log(`registration warm-up: ${ok}/${cfg.warmupRegistrations} in ${warmup.ms} ms = ${warmup.perS}/s (not counted)`);
  }
  const mBurst0 = await measure('burst-start');
  const batches0 = await Promise.all(httpPorts.map(batchCounters));
  const burstCpu0 = cpuAt();
  t0 = performance.now();
  await pool(cfg.registrations, cfg.concurrency, async (k) => {
    const s = performance.now();
    try {
      await register(k, registration('b', k));
      burstLat.push(performance.now() - s);
    } catch (err) {
      const key = String(err.details ?? err.message).slice(0, 120);
      burstErrors.set(key, (burstErrors.get(key) ?? 0) + 1);
    }
  });
  const burstMs = performance.now() - t0;
  const burstLoadCpuMs = cpuAt() - burstCpu0;
  for (const c of burstClients ?? []) c.close();
  // What each replica committed during the burst (lease renewals included): batches, writes per batch, ms per commit.
  const batchesByReplica = (await Promise.all(httpPorts.map(batchCounters))).map((b, r) => {
    const n = b.batches - batches0[r].batches;
    return {
      batches: n,
      writesPerBatch: n > 0 ? round((b.writes - batches0[r].writes) / n, 1) : null,
      commitMsMean: n > 0 ? round(((b.seconds - batches0[r].seconds) / n) * 1000, 2) : null,
    };
  });
  const mBurst1 = await measure('burst-end');
  mark('burst-end');
  out.registrations = {
    calls: cfg.registrations,
    concurrency: cfg.concurrency,
    client: cfg.burstClient,
    ok: burstLat.length,
    failed: cfg.registrations - burstLat.length,
    errors: Object.fromEntries(burstErrors),
    ms: round(burstMs),
    perS: round((burstLat.length / burstMs) * 1000, 1),
    warmup,
    latencyMs: summarize(burstLat),
    cpCpuPct: mBurst0.cpuMs !== null && mBurst1.cpuMs !== null ? round(((mBurst1.cpuMs - mBurst0.cpuMs) / burstMs) * 100, 1) : null,
    loadCpuPct: round((burstLoadCpuMs / burstMs) * 100, 1),
    batchesByReplica,
  };
  log(`registrations: ${burstLat.length}/${cfg.registrations} in ${out.registrations.ms} ms = ${out.registrations.perS}/s`);
  log(
    `registration batches per replica: ${batchesByReplica.map((b, r) => `${r}: ${b.batches} of ${b.writesPerBatch} writes, ${b.commitMsMean} ms each`).join('; ')}`,
  );
  await sleep(500);

  // ---- restart + resync (one replica), or failover (several) ---------------
  // One replica: it is restarted and every agent resyncs. Several: the last replica is killed with
  // SIGKILL and its agents move to the others and resync there.
  const failover = replicas > 1;
  const victim = replicas - 1;
  const inSync = agents.filter((a) => a.synced && (!failover || a.replica === victim));
  for (const a of inSync) {
    a.preHeld = new Map(a.held);
    a.resyncedAt = undefined;
  }
  resync = { mode: failover ? 'failover' : 'restart', agents: inSync.length, synced: 0, resentUnchanged: 0, resentChanged: 0, removed: 0 };
  phase = 'resync';
  let tStop = 0;
  let tReady = 0;
  listeners.set('cp-stopping', () => {
    tStop = performance.now();
  });
  listeners.set('cp-ready', () => {
    tReady = performance.now();
  });
  const attemptsBefore = agents.reduce((n, a) => n + a.attempts, 0);
  const restart = await ask(failover ? 'failover' : 'restart');
  if (restart.error) throw new Error(`restart failed: ${restart.error}`);
  if (!tReady) tReady = performance.now();
  mark('resync-start');
  const resyncLimit = performance.now() + 60_000;
  while (resync.synced < resync.agents && performance.now() < resyncLimit) await sleep(20);
  const times = inSync.filter((a) => a.resyncedAt !== undefined).map((a) => a.resyncedAt);
  const last = times.length ? Math.max(...times) : null;
  out.resync = {
    ...resync,
    cpStopMs: restart.stopMs,
    cpKilled: restart.killed,
    cpStartMs: restart.startMs,
    resyncMs: last === null ? null : round(Math.max(0, last - tReady)),
    resyncFromStopMs: last === null ? null : round(last - tStop),
    agentSyncAfterReadyMs: summarize(times.map((t) => Math.max(0, t - tReady))),
    reconnectAttempts: agents.reduce((n, a) => n + a.attempts, 0) - attemptsBefore,
    traffic: counter('resync'),
  };
  log(
    `resync: ${resync.synced}/${resync.agents} agents back in sync ${out.resync.resyncMs} ms after the new control plane was ready; resent unchanged ${resync.resentUnchanged}`,
  );
  mark('resync-end');
  await sleep(2000);
  const mEnd = await measure('end');

  out.rssKiB = {
    seeded: mSeeded.rssKiB,
    halfConnected: mHalf.rssKiB,
    connected: mConnected.rssKiB,
    churnStart: mChurn0.rssKiB,
    churnEnd: mChurn1.rssKiB,
    afterBurst: mBurst1.rssKiB,
    afterRestartResync: mEnd.rssKiB,
  };
  out.streamEnds = endsByCode;
  out.perReplica = Array.from({ length: replicas }, (_, r) => {
    const on = agents.filter((a) => a.synced !== undefined && firstReplicaOf(a.idx) === r).length;
    const secondHalf = agents.filter((a) => a.synced !== undefined && firstReplicaOf(a.idx) === r && a.idx >= half).length;
    const seeded = mSeeded.perReplica[r]?.rssKiB ?? null;
    const halfConnected = mHalf.perReplica[r]?.rssKiB ?? null;
    const conn = mConnected.perReplica[r]?.rssKiB ?? null;
    return {
      agents: on,
      secondHalfAgents: secondHalf,
      rssKiB: { seeded, halfConnected, connected: conn },
      memPerAgentKiB: seeded !== null && conn !== null && on > 0 ? round((conn - seeded) / on, 1) : null,
      marginalPerAgentKiB: halfConnected !== null && conn !== null && secondHalf > 0 ? round((conn - halfConnected) / secondHalf, 1) : null,
      latencyMs: out.churn.latencyByReplicaMs[r] ?? null,
    };
  });
  phase = 'done';
  for (const a of agents) a.close();
  for (const c of channels.values()) c.close();
  for (const r of registries) r.close();
  process.send({ type: 'result', out });
  await sleep(100);
  process.exit(0);
}

main().catch((err) => {
  process.send({ type: 'error', message: err.stack ?? String(err) });
  setTimeout(() => process.exit(1), 100);
});
