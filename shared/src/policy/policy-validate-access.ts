/**
 * Validation of an `AccessPolicy` document: who may call a service. Every
 * field is checked even after an earlier one failed, so one pass reports
 * all that is wrong, each problem naming its field path
 * (`rules[1].from[0]: invalid SPIFFE ID ...`). Path and method conditions
 * are the Routes ones (policy-validate-routes.ts): the agent matches them
 * with the same code, on the normalised path.
 */
import { ValidationError } from '../errors.js';
import { parseSpiffePattern } from '../identity/source-identity.js';
import { validateServiceName } from '../validate.js';
import type { AccessAction, AccessMatch, AccessMode, AccessRule } from './policy-types.js';
import { at, defined, list, obj, PolicyLimits, type Problems, str } from './policy-validate-fields.js';
import { METHODS, method, pathMatch, RULE_NAME, uniqueRuleNames } from './policy-validate-routes.js';

export const ACCESS_ACTIONS: readonly AccessAction[] = ['allow', 'deny'];
export const ACCESS_MODES: readonly AccessMode[] = ['enforce', 'shadow'];
/** Sources per rule. */
const MAX_SOURCES = 256;

/** One source: "*", a service name or a Weft SPIFFE ID (whose last segment may be "*"). */
export function accessSource(v: unknown, path: string): string {
  const s = str(v, path, 512);
  if (s === '*') return s;
  if (s.startsWith('spiffe://')) {
    parseSpiffePattern(s, path, true);
    return s;
  }
  if (s.includes('*'))
    throw new ValidationError(path, `"*" stands alone ("*") or ends a SPIFFE ID (spiffe://<td>/svc/*), got ${JSON.stringify(s)}`);
  return validateServiceName(s, path);
}

function accessMatch(c: Problems, v: unknown, path: string): AccessMatch | undefined {
  const o = obj(c, v, path, ['path', 'methods']);
  if (!o) return undefined;
  return defined({
    path: o.path === undefined ? undefined : pathMatch(c, o.path, at(path, 'path')),
    methods:
      o.methods === undefined ? undefined : list(c, o.methods, at(path, 'methods'), METHODS.length, (m, p) => c.take(() => method(m, p))),
  });
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (v: unknown, path: string): T => {
    const s = str(v, path, 64);
    if (!(allowed as readonly string[]).includes(s))
      throw new ValidationError(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(s)}`);
    return s as T;
  };
}

export const accessMode = oneOf(ACCESS_MODES);

function accessRule(c: Problems, v: unknown, path: string): AccessRule | undefined {
  const o = obj(c, v, path, ['name', 'action', 'from', 'match']);
  if (!o) return undefined;
  const name =
    o.name === undefined
      ? undefined
      : c.take(() => {
          const s = str(o.name, at(path, 'name'), 63);
          if (!RULE_NAME.test(s)) throw new ValidationError(at(path, 'name'), 'use lowercase letters, digits and "-"');
          return s;
        });
  let action: AccessAction | undefined;
  if (o.action === undefined) c.add(at(path, 'action'), 'is required (allow or deny)');
  else action = c.take(() => oneOf(ACCESS_ACTIONS)(o.action, at(path, 'action')));
  let from: string[] | undefined;
  if (o.from === undefined) c.add(at(path, 'from'), 'is required: the sources the rule applies to ("*" = any mesh identity)');
  else {
    from = list(c, o.from, at(path, 'from'), MAX_SOURCES, (s, p) => c.take(() => accessSource(s, p)));
    if (from !== undefined && from.length === 0) c.add(at(path, 'from'), 'needs at least one source ("*" = any mesh identity)');
  }
  const match = o.match === undefined ? undefined : accessMatch(c, o.match, at(path, 'match'));
  if (action === undefined || from === undefined) return undefined;
  return defined({ name, action, from, match });
}

/** The rules of an AccessPolicy document, including the check that rule names are unique. */
export function accessRules(c: Problems, v: unknown): AccessRule[] {
  const out = list(c, v, 'rules', PolicyLimits.rules, (r, p) => accessRule(c, r, p)) ?? [];
  uniqueRuleNames(c, v);
  return out;
}
