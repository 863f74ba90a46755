/**
 * Access policy: who may call a service. A service's AccessPolicy compiles
 * once per received version (with the rest of its bundle, policy-compile.ts)
 * into rules whose sources are sets and whose path and method conditions are
 * the Routes ones (MatchConditions, matched by policy-match.ts on the
 * normalised path). decideAccess() is the whole decision:
 *
 *   1. An unauthenticated source is denied by the mesh default, whatever the
 *      document says and in shadow mode too: nothing unauthenticated gets in.
 *   2. Rules in order, first match wins: a rule matches when the source is
 *      one of its `from` and every condition of its `match` holds.
 *   3. No rule matches (or the service has no AccessPolicy): the mesh default
 *      from "mesh/settings" — all-authenticated allows, deny denies.
 *   4. In shadow mode a deny of steps 2–3 is reported as shadow_deny: the
 *      request goes through, and the decision is logged and counted.
 *
 * explainAccess() runs the same checks and says why each earlier rule did not
 * match. Nothing here does I/O or counts: the proxy's access gate does.
 */
import { type AccessPolicyDocument, type AccessRule, type DefaultAccess, describeSource, type SourceIdentity } from '@weft/shared';
import type { AccessDecision } from '../proxy/access-policy.js';
import { compileConditions, type MatchConditions } from './policy-conditions.js';
import { type MatchRequest, QueryCache, ruleMatches, ruleMismatch } from './policy-match.js';

export interface CompiledSources {
  /** "*": any authenticated identity. */
  readonly any: boolean;
  readonly services: ReadonlySet<string>;
  readonly spiffeIds: ReadonlySet<string>;
  /** "spiffe://td/svc/" for a "spiffe://td/svc/*" source. */
  readonly spiffePrefixes: readonly string[];
}

export interface CompiledAccessRule extends MatchConditions {
  /** "<service>/<index>", as in x-weft-error: forbidden; policy=orders/1. */
  readonly id: string;
  readonly index: number;
  readonly source: AccessRule;
  readonly action: 'allow' | 'deny';
  readonly from: CompiledSources;
}

export interface CompiledAccess {
  readonly service: string;
  readonly mode: 'enforce' | 'shadow';
  readonly rules: readonly CompiledAccessRule[];
}

function compileSources(from: readonly string[]): CompiledSources {
  const services = new Set<string>();
  const spiffeIds = new Set<string>();
  const spiffePrefixes: string[] = [];
  let any = false;
  for (const s of from) {
    if (s === '*') any = true;
    else if (s.startsWith('spiffe://')) {
      if (s.endsWith('/*')) spiffePrefixes.push(s.slice(0, -1));
      else spiffeIds.add(s);
    } else services.add(s);
  }
  return { any, services, spiffeIds, spiffePrefixes };
}

export function compileAccess(doc: AccessPolicyDocument): CompiledAccess {
  const service = doc.metadata.service;
  const rules = doc.rules.map(
    (r, index): CompiledAccessRule => ({
      id: `${service}/${index}`,
      index,
      source: r,
      action: r.action,
      from: compileSources(r.from),
      ...compileConditions(r.match?.path, r.match?.methods),
    }),
  );
  return Object.freeze({ service, mode: doc.mode ?? 'enforce', rules: Object.freeze(rules) });
}

/** True when `source` is one of `from`; an unauthenticated source never is. */
export function sourceMatches(from: CompiledSources, source: SourceIdentity | undefined): boolean {
  if (source === undefined || !source.authenticated) return false;
  if (from.any) return true;
  if (source.service !== undefined && from.services.has(source.service)) return true;
  const id = source.spiffeId;
  if (id === '') return false;
  if (from.spiffeIds.has(id)) return true;
  for (const p of from.spiffePrefixes) if (id.startsWith(p)) return true;
  return false;
}

/** Rule ids of the default, one string per service (the same string each request: metrics look it up by value). */
const defaultRuleIds = new Map<string, string>();
const MAX_DEFAULT_RULE_IDS = 10_000;

/** The rule id of a decision no rule made. */
export function defaultRuleId(service: string): string {
  let id = defaultRuleIds.get(service);
  if (id === undefined) {
    id = `${service}/default`;
    if (defaultRuleIds.size >= MAX_DEFAULT_RULE_IDS) defaultRuleIds.clear();
    defaultRuleIds.set(service, id);
  }
  return id;
}

/**
 * A decision whose sentence is written only when read (a denial's answer, a
 * shadow deny's log line, explain): an allowed request, the usual case,
 * builds no string.
 */
class Decision implements AccessDecision {
  constructor(
    readonly decision: AccessDecision['decision'],
    readonly ruleId: string,
    private readonly service: string,
    private readonly source: SourceIdentity | undefined,
    /** The rule that decided; null: the mesh default. */
    private readonly rule: CompiledAccessRule | null,
    private readonly defaultAccess: DefaultAccess,
  ) {}

  get reason(): string {
    const allowed = this.decision === 'allow';
    const head = `${describeSource(this.source)} ${allowed ? 'may' : 'may not'} call service ${this.service}`;
    const rule = this.rule;
    if (rule !== null)
      return `${head}: rule ${rule.id}${rule.source.name ? ` (${rule.source.name})` : ''} ${allowed ? 'allows' : 'denies'} it`;
    if (this.source?.authenticated !== true) return `${head}: the mesh never lets an unauthenticated source in`;
    return `${head}: no rule matched; mesh default ${this.defaultAccess === 'all-authenticated' && allowed ? 'all-authenticated' : 'deny'}`;
  }
}

/** The request as access rules see it: method and normalised path (no headers, no query: a caller chooses those). */
export type AccessRequest = Pick<MatchRequest, 'method' | 'path'>;

const NO_HEADERS = {};

function asMatchRequest(req: AccessRequest): MatchRequest {
  return { method: req.method, path: req.path, query: '', headers: NO_HEADERS };
}

function byDefault(service: string, defaultAccess: DefaultAccess, source: SourceIdentity | undefined, mode: string): AccessDecision {
  const authenticated = source?.authenticated === true;
  const allowed = defaultAccess === 'all-authenticated' && authenticated;
  const decision = allowed ? 'allow' : mode === 'shadow' && authenticated ? 'shadow_deny' : 'deny';
  return new Decision(decision, defaultRuleId(service), service, source, null, defaultAccess);
}

function byRule(
  service: string,
  rule: CompiledAccessRule,
  source: SourceIdentity | undefined,
  mode: string,
  defaultAccess: DefaultAccess,
): AccessDecision {
  const decision = rule.action === 'allow' ? 'allow' : mode === 'shadow' ? 'shadow_deny' : 'deny';
  return new Decision(decision, rule.id, service, source, rule, defaultAccess);
}

/** The access decision for one request to `service` (the hot path: no strings built until the decision). */
export function decideAccess(
  access: CompiledAccess | undefined,
  service: string,
  defaultAccess: DefaultAccess,
  source: SourceIdentity | undefined,
  req: AccessRequest,
): AccessDecision {
  const mode = access?.mode ?? 'enforce';
  if (access === undefined || source === undefined || !source.authenticated) return byDefault(service, defaultAccess, source, mode);
  const m = asMatchRequest(req);
  const qc = {};
  for (const rule of access.rules) {
    if (sourceMatches(rule.from, source) && ruleMatches(rule, m, qc)) return byRule(service, rule, source, mode, defaultAccess);
  }
  return byDefault(service, defaultAccess, source, mode);
}

export interface AccessExplanation extends AccessDecision {
  mode: 'enforce' | 'shadow';
  defaultAccess: DefaultAccess;
  matched: { id: string; name: string | null; rule: AccessRule } | null;
  skipped: { id: string; name?: string; reason: string }[];
}

/** decideAccess with the reason each earlier rule did not match (same checks). */
export function explainAccess(
  access: CompiledAccess | undefined,
  service: string,
  defaultAccess: DefaultAccess,
  source: SourceIdentity | undefined,
  req: AccessRequest,
): AccessExplanation {
  const decision = decideAccess(access, service, defaultAccess, source, req);
  const skipped: AccessExplanation['skipped'] = [];
  let matched: AccessExplanation['matched'] = null;
  if (access !== undefined && source?.authenticated) {
    const q = new QueryCache('');
    for (const rule of access.rules) {
      const why = sourceMatches(rule.from, source)
        ? ruleMismatch(rule, asMatchRequest(req), q)
        : `source ${describeSource(source)} is not one of ${rule.source.from.join(', ')}`;
      if (why === null) {
        matched = { id: rule.id, name: rule.source.name ?? null, rule: rule.source };
        break;
      }
      skipped.push({ id: rule.id, name: rule.source.name, reason: why });
    }
  }
  // Spelled out: the reason is a getter (Decision), which a spread would not copy.
  return {
    decision: decision.decision,
    ruleId: decision.ruleId,
    reason: decision.reason,
    mode: access?.mode ?? 'enforce',
    defaultAccess,
    matched,
    skipped,
  };
}
