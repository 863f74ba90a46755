/**
 * `weft explain --from web http://orders/path -H 'x-user: 1'`: asks the local
 * agent (its admin API, /v1/explain) what it would do with that request. The
 * agent runs its own routing and access code against the config it holds;
 * the access decision is the destination's AccessPolicy for the --from source.
 */
import { DefaultPorts, messageOf, parseHostPort } from '@weft/shared';
import type { Command } from 'commander';
import { CliError, parseFlag } from '../cli-error.js';

interface Explained {
  request?: { method: string; service: string; path: string };
  policyVersion?: string | null;
  policyRejected?: { version: string; message: string } | null;
  matched?: { id: string; name: string | null } | null;
  skipped?: { id: string; name?: string; reason: string }[];
  note?: string;
  action?: string;
  destinations?: {
    service: string;
    tags: string[];
    percent: number;
    error?: string;
    endpoints?: { instanceId: string; address: string; health: string; ejected: boolean; active: number }[];
  }[];
  timeouts?: { deadline: string; perTry: string };
  retry?: unknown;
  fault?: unknown;
  rateLimit?: unknown;
  access?: {
    decision: string;
    ruleId: string;
    reason: string;
    mode: string;
    defaultAccess: string;
    enforced: boolean;
    matched: { id: string; name: string | null } | null;
    skipped: { id: string; name?: string; reason: string }[];
    note?: string;
  } | null;
  message?: string;
  /** Set when the service asked about does not exist in the mesh. */
  unknownService?: string;
}

/** `retry: 2 attempts on …, budget …, (agent default)` instead of the raw JSON. */
export function formatRetry(retry: unknown): string {
  if (retry === null || typeof retry !== 'object') return `retry: ${retry === null ? 'none' : String(retry)}`;
  const r = retry as Record<string, unknown>;
  const attempts = typeof r.attempts === 'number' ? r.attempts : undefined;
  if (attempts === 0) return `retry: none${r.source ? ` (${String(r.source)})` : ''}`;
  const lines = [
    `retry: ${attempts ?? '?'} retr${attempts === 1 ? 'y' : 'ies'} after the first try${r.source ? ` (${String(r.source)})` : ''}`,
  ];
  const known = new Set(['attempts', 'source']);
  for (const [key, value] of Object.entries(r)) {
    if (known.has(key) || value === undefined || value === null) continue;
    const text =
      typeof value === 'object'
        ? Object.entries(value as Record<string, unknown>)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(', ')
        : String(value);
    lines.push(`  ${key}: ${Array.isArray(value) ? (value as unknown[]).join(', ') : text}`);
  }
  return lines.join('\n');
}

/** The access lines: the decision, the rule (or the mesh default) that made it, and why earlier rules did not match. */
function printAccess(a: NonNullable<Explained['access']>): void {
  const decision = a.decision === 'shadow_deny' ? 'SHADOW-DENY (shadow mode: logged and counted, let through)' : a.decision.toUpperCase();
  console.log(
    `access: ${decision} by ${a.matched ? `rule ${a.ruleId}${a.matched.name ? ` (${a.matched.name})` : ''}` : `${a.ruleId} (mesh default ${a.defaultAccess})`}, mode ${a.mode}`,
  );
  for (const s of a.skipped) console.log(`  access rule ${s.id}${s.name ? ` (${s.name})` : ''}: no match: ${s.reason}`);
  console.log(`  ${a.reason}`);
  if (a.note) console.log(`  note: ${a.note}`);
}

export function explainCommand(program: Command): void {
  program
    .command('explain')
    .description('which rule a request matches on this agent, why earlier ones did not, and where it would go')
    .argument('<url>', 'e.g. http://orders/path')
    .option(
      '--from <source>',
      'the calling service (web) or SPIFFE ID (spiffe://td/svc/web): whose access is decided (routing does not depend on it)',
    )
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .option(
      '-H, --header <header>',
      "request header 'name: value' (repeatable, like curl)",
      (h: string, all: string[]) => [...all, h],
      [] as string[],
    )
    .option('--agent <host:port>', 'the agent admin API', `127.0.0.1:${DefaultPorts.agentAdmin}`)
    .option('--json', 'print JSON')
    .action(async (url: string, o: { from?: string; method: string; header?: string[]; agent: string; json?: boolean }) => {
      const { host, port } = parseFlag(() => parseHostPort(o.agent, '--agent'));
      const q = new URLSearchParams({ url, method: o.method });
      if (o.from) q.set('from', o.from);
      for (const h of o.header ?? []) q.append('header', h);
      let body: Explained;
      let status: number;
      try {
        const res = await fetch(`http://${host}:${port}/v1/explain?${q}`);
        status = res.status;
        body = (await res.json()) as Explained;
      } catch (err) {
        throw new CliError(`cannot reach the agent at ${o.agent} (${messageOf(err)}); set --agent HOST:PORT`);
      }
      if (status !== 200) throw new CliError(body.message ?? `agent answered ${status}`, status === 400 ? 2 : 1);
      if (o.json) {
        console.log(JSON.stringify(body, null, 2));
        if (body.unknownService !== undefined) process.exitCode = 1;
        return;
      }
      const r = body.request;
      console.log(`${r?.method} http://${r?.service}${r?.path}${o.from ? ` from ${o.from}` : ''}`);
      console.log(`policy version: ${body.policyVersion ?? 'none'}`);
      if (body.policyRejected)
        console.log(`  last update REJECTED (version ${body.policyRejected.version}): ${body.policyRejected.message}`);
      for (const s of body.skipped ?? []) console.log(`  rule ${s.id}${s.name ? ` (${s.name})` : ''}: no match: ${s.reason}`);
      if (body.matched)
        console.log(`  rule ${body.matched.id}${body.matched.name ? ` (${body.matched.name})` : ''}: MATCH -> ${body.action}`);
      if (body.note) console.log(`  ${body.note}`);
      for (const d of body.destinations ?? []) {
        console.log(
          `destination ${d.service}${d.tags.length ? ` [${d.tags.join(', ')}]` : ''}: ${d.percent}%${d.error ? ` — ${d.error}` : ''}`,
        );
        for (const e of d.endpoints ?? []) {
          console.log(`    ${e.instanceId} ${e.address} health=${e.health}${e.ejected ? ' EJECTED' : ''} active=${e.active}`);
        }
      }
      if (body.timeouts) console.log(`timeouts: deadline ${body.timeouts.deadline}, per try ${body.timeouts.perTry}`);
      if (body.retry !== undefined) console.log(formatRetry(body.retry));
      if (body.fault) console.log(`fault: ${JSON.stringify(body.fault)}`);
      if (body.rateLimit) console.log(`rate limit: ${JSON.stringify(body.rateLimit)}`);
      if (body.access) printAccess(body.access);
      if (body.unknownService !== undefined)
        throw new CliError(`service "${body.unknownService}" does not exist in the mesh (see weft services)`, 1);
    });
}
