/**
 * Validation of a `Routes` document's rules. Every field is checked even
 * after an earlier one failed, so one pass reports all that is wrong; a
 * cross-field check (rewritePrefix needs a prefix match, weights not all 0)
 * runs only when the fields it reads are valid, so one mistake is reported
 * once.
 */
import { ValidationError } from '../errors.js';
import { validateServiceName, validateTags } from '../validate.js';
import type {
  Destination,
  DirectResponse,
  FaultPolicy,
  HeaderEdits,
  PathMatch,
  Redirect,
  RetryPolicy,
  Rule,
  RuleMatch,
  ValueMatch,
} from './policy-types.js';
import {
  at,
  defined,
  duration,
  editableHeaderName,
  headerMap,
  headerName,
  int,
  list,
  obj,
  onlyOne,
  opt,
  PolicyLimits,
  type Problems,
  pathString,
  percent,
  regex,
  str,
} from './policy-validate-fields.js';

export const RETRY_CONDITIONS = [
  'connect-failure',
  'reset',
  '5xx',
  'gateway-error',
  'retriable-4xx',
  // gRPC statuses of a trailers-only answer (Envoy's retry_on names).
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'];
const REDIRECT_STATUS = [301, 302, 303, 307, 308];
export const RULE_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function pathMatch(c: Problems, v: unknown, path: string): PathMatch | undefined {
  const o = obj(c, v, path, ['exact', 'prefix', 'regex']);
  if (!o) return undefined;
  const which = c.take(() => onlyOne(o, ['exact', 'prefix', 'regex'], path, true)) as keyof PathMatch | undefined;
  if (which === undefined) return undefined;
  const value = c.take(() => {
    if (which === 'regex') return regex(o.regex, at(path, 'regex'));
    const s = str(o[which], at(path, which));
    if (!s.startsWith('/')) throw new ValidationError(at(path, which), 'must start with "/"');
    return s;
  });
  return value === undefined ? undefined : { [which]: value };
}

function valueMatch(c: Problems, v: unknown, path: string, isHeader: boolean): ValueMatch | undefined {
  const o = obj(c, v, path, ['name', 'exact', 'regex', 'present']);
  if (!o) return undefined;
  const name = c.take(() => {
    const n = isHeader ? headerName(o.name, at(path, 'name')) : str(o.name, at(path, 'name'), 256);
    if (n === '') throw new ValidationError(at(path, 'name'), 'is required');
    return n;
  });
  const which = c.take(() => onlyOne(o, ['exact', 'regex', 'present'], path, true));
  const m = c.take((): Omit<ValueMatch, 'name'> | undefined => {
    if (which === 'present') {
      if (typeof o.present !== 'boolean') throw new ValidationError(at(path, 'present'), 'must be true or false');
      return { present: o.present };
    }
    if (which === 'regex') return { regex: regex(o.regex, at(path, 'regex')) };
    if (which === 'exact') return { exact: str(o.exact, at(path, 'exact')) };
    return undefined;
  });
  return name === undefined || m === undefined ? undefined : { name, ...m };
}

export function method(v: unknown, path: string): string {
  const s = str(v, path).toUpperCase();
  if (!METHODS.includes(s)) throw new ValidationError(path, `unknown method ${JSON.stringify(v)}`);
  return s;
}

function ruleMatch(c: Problems, v: unknown, path: string): RuleMatch | undefined {
  const o = obj(c, v, path, ['path', 'methods', 'headers', 'query']);
  if (!o) return undefined;
  const each = <T>(key: string, max: number, f: (v: unknown, p: string) => T | undefined) =>
    o[key] === undefined ? undefined : list(c, o[key], at(path, key), max, f);
  return defined({
    path: o.path === undefined ? undefined : pathMatch(c, o.path, at(path, 'path')),
    methods: each('methods', METHODS.length, (m, p) => c.take(() => method(m, p))),
    headers: each('headers', 64, (h, p) => valueMatch(c, h, p, true)),
    query: each('query', 64, (q, p) => valueMatch(c, q, p, false)),
  });
}

function destination(c: Problems, v: unknown, path: string): Destination | undefined {
  const o = obj(c, v, path, ['service', 'tags', 'weight']);
  if (!o) return undefined;
  return defined({
    service: opt(c, o.service, at(path, 'service'), validateServiceName),
    tags: opt(c, o.tags, at(path, 'tags'), validateTags),
    weight: opt(c, o.weight, at(path, 'weight'), (w, p) => int(w, p, 0, 10_000)),
  });
}

function headerEdits(c: Problems, v: unknown, path: string): HeaderEdits | undefined {
  const o = obj(c, v, path, ['set', 'remove']);
  if (!o) return undefined;
  return defined({
    set: o.set === undefined ? undefined : headerMap(c, o.set, at(path, 'set')),
    remove:
      o.remove === undefined ? undefined : list(c, o.remove, at(path, 'remove'), 64, (h, p) => c.take(() => editableHeaderName(h, p))),
  });
}

function redirect(c: Problems, v: unknown, path: string): Redirect | undefined {
  const o = obj(c, v, path, ['host', 'path', 'status']);
  if (!o) return undefined;
  return defined({
    host: opt(c, o.host, at(path, 'host'), (h, p) => pathString(h, p, 255)),
    path: opt(c, o.path, at(path, 'path'), (s, p) => {
      const value = pathString(s, p);
      if (!value.startsWith('/')) throw new ValidationError(p, 'must start with "/"');
      return value;
    }),
    status: opt(c, o.status, at(path, 'status'), (s, p) => {
      const n = int(s, p, 300, 399);
      if (!REDIRECT_STATUS.includes(n)) throw new ValidationError(p, `must be one of ${REDIRECT_STATUS.join(', ')}`);
      return n;
    }),
  });
}

function directResponse(c: Problems, v: unknown, path: string): DirectResponse | undefined {
  const o = obj(c, v, path, ['status', 'body', 'headers']);
  if (!o) return undefined;
  const status = c.take(() => int(o.status, at(path, 'status'), 200, 599));
  const r = defined({
    status: status ?? 0,
    body: opt(c, o.body, at(path, 'body'), (b, p) => str(b, p, PolicyLimits.body)),
    headers: o.headers === undefined ? undefined : headerMap(c, o.headers, at(path, 'headers')),
  });
  return status === undefined ? undefined : r;
}

function retry(c: Problems, v: unknown, path: string): RetryPolicy | undefined {
  const o = obj(c, v, path, ['attempts', 'on', 'backoff']);
  if (!o) return undefined;
  const conditions = RETRY_CONDITIONS as readonly string[];
  const attempts = c.take(() => int(o.attempts, at(path, 'attempts'), 0, 10));
  const on =
    o.on === undefined
      ? undefined
      : list(c, o.on, at(path, 'on'), conditions.length, (x, p) =>
          c.take(() => {
            const s = str(x, p);
            if (!conditions.includes(s))
              throw new ValidationError(p, `unknown condition ${JSON.stringify(s)} (expected one of: ${conditions.join(', ')})`);
            return s;
          }),
        );
  let backoff: RetryPolicy['backoff'];
  if (o.backoff !== undefined) {
    const b = obj(c, o.backoff, at(path, 'backoff'), ['base', 'max']);
    if (b)
      backoff = defined({
        base: opt(c, b.base, at(at(path, 'backoff'), 'base'), duration),
        max: opt(c, b.max, at(at(path, 'backoff'), 'max'), duration),
      });
  }
  return attempts === undefined ? undefined : defined({ attempts, on, backoff });
}

function fault(c: Problems, v: unknown, path: string): FaultPolicy | undefined {
  const o = obj(c, v, path, ['delay', 'abort']);
  if (!o) return undefined;
  const f: FaultPolicy = {};
  if (o.delay !== undefined) {
    const d = obj(c, o.delay, at(path, 'delay'), ['percent', 'duration']);
    const pct = d && c.take(() => percent(d.percent, at(at(path, 'delay'), 'percent')));
    const dur = d && c.take(() => duration(d.duration, at(at(path, 'delay'), 'duration')));
    if (pct !== undefined && dur !== undefined) f.delay = { percent: pct, duration: dur };
  }
  if (o.abort !== undefined) {
    const a = obj(c, o.abort, at(path, 'abort'), ['percent', 'status']);
    const pct = a && c.take(() => percent(a.percent, at(at(path, 'abort'), 'percent')));
    const status = a && c.take(() => int(a.status, at(at(path, 'abort'), 'status'), 200, 599));
    if (pct !== undefined && status !== undefined) f.abort = { percent: pct, status };
  }
  return f;
}

const RULE_KEYS = [
  'name',
  'match',
  'route',
  'redirect',
  'directResponse',
  'rewritePrefix',
  'requestHeaders',
  'responseHeaders',
  'timeout',
  'perTryTimeout',
  'retry',
  'fault',
] as const;

/** One rule; every problem is recorded in `c` (the returned rule is only meaningful when `c` stayed empty). */
export function rule(c: Problems, v: unknown, path: string): Rule | undefined {
  const o = obj(c, v, path, RULE_KEYS);
  if (!o) return undefined;
  c.take(() => onlyOne(o, ['route', 'redirect', 'directResponse'], path, true));
  const sub = <T>(key: string, f: (c: Problems, v: unknown, p: string) => T | undefined) =>
    o[key] === undefined ? undefined : f(c, o[key], at(path, key));
  const r: Rule = defined({
    name: opt(c, o.name, at(path, 'name'), (n, p) => {
      const s = str(n, p, 63);
      if (!RULE_NAME.test(s)) throw new ValidationError(p, 'use lowercase letters, digits and "-"');
      return s;
    }),
    match: sub('match', ruleMatch),
    route: sub('route', routeList),
    redirect: sub('redirect', redirect),
    directResponse: sub('directResponse', directResponse),
    rewritePrefix: opt(c, o.rewritePrefix, at(path, 'rewritePrefix'), (s, p) => {
      const value = pathString(s, p);
      if (!value.startsWith('/')) throw new ValidationError(p, 'must start with "/"');
      return value;
    }),
    requestHeaders: sub('requestHeaders', headerEdits),
    responseHeaders: sub('responseHeaders', headerEdits),
    timeout: opt(c, o.timeout, at(path, 'timeout'), duration),
    perTryTimeout: opt(c, o.perTryTimeout, at(path, 'perTryTimeout'), duration),
    retry: sub('retry', retry),
    fault: sub('fault', fault),
  });
  if (o.rewritePrefix !== undefined) {
    const match = o.match as { path?: { prefix?: unknown } } | undefined;
    if (o.route === undefined) c.add(at(path, 'rewritePrefix'), 'only applies to a rule with route');
    else if (match?.path?.prefix === undefined) c.add(at(path, 'rewritePrefix'), 'needs match.path.prefix (the part it replaces)');
  }
  return r;
}

function routeList(c: Problems, v: unknown, path: string): Destination[] | undefined {
  const dests = list(c, v, path, PolicyLimits.destinations, (d, p) => destination(c, d, p));
  if (dests === undefined) return undefined;
  if (dests.length === 0) c.add(path, 'needs at least one destination');
  else if (dests.every((d) => (d.weight ?? 1) === 0)) c.add(path, 'weights must not all be 0');
  return dests;
}

/** The rules of a Routes document, including the check that rule names are unique. */
export function rules(c: Problems, v: unknown): Rule[] {
  const out = list(c, v, 'rules', PolicyLimits.rules, (r, p) => rule(c, r, p)) ?? [];
  uniqueRuleNames(c, v);
  return out;
}

/** Reports every rule whose `name` repeats an earlier rule's (Routes and AccessPolicy rules alike). */
export function uniqueRuleNames(c: Problems, v: unknown): void {
  const names = new Map<string, number>();
  (Array.isArray(v) ? v : []).forEach((r: unknown, i) => {
    const name = (r as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    const first = names.get(name);
    if (first !== undefined) c.add(`rules[${i}].name`, `duplicate of rules[${first}].name`);
    else names.set(name, i);
  });
}
