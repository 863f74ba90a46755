/**
 * Turns the run's figures into target verdicts, a readable summary, and the
 * dated markdown section appended to bench/results/control-plane.md.
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const TARGET_SCALE = { agents: 1000, services: 1000, endpoints: 10000, subscriptions: 20, churn: 100 };

export function evaluateTargets(f) {
  const p99 = f.churn?.latencyMs?.p99 ?? null;
  const r = f.resync ?? {};
  const rows = [
    { name: 'propagation p99', target: '<= 100 ms', value: p99 === null ? null : `${p99} ms`, pass: p99 !== null && p99 <= 100 },
    {
      name: 'deliveries missed',
      target: '0',
      value: f.churn ? `${f.churn.missed} of ${f.churn.expectedDeliveries}` : null,
      pass: !!f.churn && f.churn.missed === 0 && f.churn.expectedDeliveries > 0,
    },
    {
      name: 'CP memory per agent',
      target: '<= 50 KiB',
      value: f.memPerAgentKiB === null ? null : `${f.memPerAgentKiB} KiB`,
      pass: f.memPerAgentKiB !== null && f.memPerAgentKiB <= 50,
    },
    {
      // One control plane on SQLite: >= 2,000/s (issue #3). Through replicas on PostgreSQL: >= 1,500/s (issue #13).
      name: 'registrations/s',
      target: `>= ${registrationTarget(f)}/s`,
      value: f.registrations ? `${f.registrations.perS}/s` : null,
      pass: !!f.registrations && f.registrations.perS >= registrationTarget(f),
    },
    {
      name: r.mode === 'failover' ? 'failover resync' : 'resync after restart',
      target: '<= 10 s, all agents, 0 unchanged resent',
      value: r.resyncMs === undefined ? null : `${r.resyncMs} ms, ${r.synced}/${r.agents} agents, ${r.resentUnchanged} unchanged resent`,
      pass: r.resyncMs !== null && r.resyncMs !== undefined && r.resyncMs <= 10_000 && r.synced === r.agents && r.resentUnchanged === 0,
    },
  ];
  return rows;
}

function registrationTarget(f) {
  return (f.replicas ?? 1) > 1 ? 1500 : 2000;
}

export function atTargetScale(cfg) {
  return Object.entries(TARGET_SCALE).every(([k, v]) => cfg[k] >= v);
}

export function summaryLines(f) {
  const c = f.churn ?? {};
  const lines = [
    `control plane: pid ${f.cp?.pid}, ready in ${f.cp?.startMs} ms; restarted ready in ${f.resync?.cpStartMs} ms (stop took ${f.resync?.cpStopMs} ms${f.resync?.cpKilled ? ', needed SIGKILL' : ''})`,
    `control planes: ${f.cp?.replicas?.length ?? 1} (${f.cp?.store ?? 'sqlite'} store, plaintext gRPC: --insecure); changes written through replica 0`,
    `channels: ${f.channels?.count} agent channel groups (own HTTP/2 connection per replica each), ${f.channels?.agentsPerChannel} agent stream(s) per connection`,
    ...(f.perReplica ?? []).map(
      (p, r) =>
        `replica ${r}: ${p.agents} agents, RSS KiB seeded ${p.rssKiB?.seeded} half connected ${p.rssKiB?.halfConnected} connected ${p.rssKiB?.connected} => ${p.memPerAgentKiB} KiB per agent, ${p.marginalPerAgentKiB} KiB per agent of the second half; propagation p50 ${p.latencyMs?.p50} ms, p99 ${p.latencyMs?.p99} ms (${p.latencyMs?.count} deliveries)`,
    ),
    `seed: ${f.seed?.endpoints} endpoints via ${f.seed?.registerCalls} Register calls in ${f.seed?.ms} ms`,
    `connect: ${f.connect?.synced}/${f.connect?.agents} agents synced in ${f.connect?.ms} ms (per agent p50 ${f.connect?.timeToSyncMs?.p50} ms, p99 ${f.connect?.timeToSyncMs?.p99} ms)`,
    `RSS KiB: empty ${f.rssKiB?.empty}, seeded ${f.rssKiB?.seeded}, half connected ${f.rssKiB?.halfConnected}, connected ${f.rssKiB?.connected}, after churn ${f.rssKiB?.churnEnd}, after burst ${f.rssKiB?.afterBurst}, after restart+resync ${f.rssKiB?.afterRestartResync} => ${f.memPerAgentKiB} KiB per connected agent (seeded to connected), ${f.marginalPerAgentKiB} KiB per agent of the second half (half connected to connected); the simulated agents connect in plaintext: what TLS and an agent's mTLS add per connection is measured by tls-connections.mjs`,
    `churn: ${c.acked} changes acked at ${c.achievedPerS}/s (target ${c.targetPerS}/s) ${JSON.stringify(c.byKind)}, failed calls ${c.failedCalls}`,
    `propagation: ${c.delivered}/${c.expectedDeliveries} deliveries, missed ${c.missed}, p50 ${c.latencyMs?.p50} ms, p90 ${c.latencyMs?.p90} ms, p99 ${c.latencyMs?.p99} ms, max ${c.latencyMs?.max} ms (${c.deliveredBeforeAck} read before the call's reply); from the call's send: p50 ${c.latencyFromSendMs?.p50} ms, p99 ${c.latencyFromSendMs?.p99} ms`,
    `bytes: ${c.traffic?.bytes} B in ${c.traffic?.responses} responses => ${c.bytesPerChange} B per change, ${c.bytesPerResponse} B per response (largest ${c.traffic?.maxBytes} B)`,
    `CPU during churn: control plane ${c.cpCpuPct}% of one core, load generator ${c.loadCpuPct}% (its event-loop delay p99 ${c.loadEventLoopDelayMs?.p99} ms, max ${c.loadEventLoopDelayMs?.max} ms)`,
    `propagation p99 per churn second (ms): ${(c.p99ByChurnSecondMs ?? []).join(' ')}`,
    `registrations: ${f.registrations?.ok}/${f.registrations?.calls}${f.registrations?.warmup ? ` after ${f.registrations.warmup.ok} warm-up calls (${f.registrations.warmup.perS}/s, not counted)` : ''} at concurrency ${f.registrations?.concurrency} (${f.registrations?.client ?? 'grpc-js'} client) in ${f.registrations?.ms} ms => ${f.registrations?.perS}/s (p50 ${f.registrations?.latencyMs?.p50} ms, p99 ${f.registrations?.latencyMs?.p99} ms; CP CPU ${f.registrations?.cpCpuPct}%, load generator ${f.registrations?.loadCpuPct ?? '?'}%)`,
    f.resync?.mode === 'failover'
      ? `failover: last replica killed with SIGKILL; ${f.resync?.synced}/${f.resync?.agents} of its agents resynced on the other replicas ${f.resync?.resyncFromStopMs} ms after the kill (per agent p50 ${f.resync?.agentSyncAfterReadyMs?.p50} ms), resent unchanged ${f.resync?.resentUnchanged}, changed ${f.resync?.resentChanged}, removed ${f.resync?.removed}, ${f.resync?.reconnectAttempts} reconnect attempts`
      : `resync: ${f.resync?.synced}/${f.resync?.agents} agents in ${f.resync?.resyncMs} ms after ready (${f.resync?.resyncFromStopMs} ms after SIGTERM; per agent p50 ${f.resync?.agentSyncAfterReadyMs?.p50} ms), resent unchanged ${f.resync?.resentUnchanged}, changed ${f.resync?.resentChanged}, removed ${f.resync?.removed}, ${f.resync?.reconnectAttempts} reconnect attempts`,
  ];
  return lines;
}

export function targetLines(rows) {
  return rows.map((r) => `${r.pass ? 'PASS' : 'MISS'}  ${r.name.padEnd(22)} ${String(r.value).padEnd(48)} target ${r.target}`);
}

export function appendMarkdown(path, f, lines, rows, profiles) {
  if (!existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path))
    writeFileSync(
      path,
      '# Control-plane scale benchmark results\n\nAppended by `bench/control-plane/run.mjs`; see bench/control-plane/README.md.\n',
    );
  const md = [
    '',
    `## ${f.date}`,
    '',
    `Command: \`${f.command}\`${f.atTargetScale ? '' : ' (below the target scale: verdicts are indicative only)'}`,
    '',
    `Host: ${f.host.cpus} CPUs, Node ${f.host.node}`,
    '',
    '| verdict | figure | value | target |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.pass ? 'PASS' : 'MISS'} | ${r.name} | ${r.value} | ${r.target} |`),
    '',
    ...lines.map((l) => `- ${l}`),
  ];
  if (profiles) {
    for (const [phase, p] of Object.entries(profiles)) {
      md.push('', `Control-plane CPU profile, ${phase} (${p.sampledMs} ms sampled), top self time:`, '');
      for (const s of p.self.slice(0, 8)) md.push(`- ${s.pct}% ${s.fn}`);
    }
  }
  md.push('', '```json', JSON.stringify(f), '```', '');
  appendFileSync(path, md.join('\n'));
}
