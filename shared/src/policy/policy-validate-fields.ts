/**
 * Field checks the policy validator is built from, and the collector that
 * lets it report every problem of a document at once instead of the first.
 *
 * Contract: a primitive check `(v, path) => T` throws a ValidationError
 * naming `path`; a composite check takes a Problems collector, records what
 * is wrong with each of its fields through `take`, and goes on with the next
 * field, returning undefined for a field that failed. The caller of the
 * document-level check turns a non-empty collector into one
 * PolicyValidationError listing every problem.
 */
import { parseDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import { isObject } from '../validate.js';
import { headerValueProblem, isHeaderToken, protectedHeaderReason } from './policy-header-rules.js';
import { compilePolicyRegex } from './policy-regex.js';

export const PolicyLimits = { rules: 1000, destinations: 64, headerValue: 4096, regex: 1024, body: 65_536 } as const;

export interface FieldProblem {
  /** Path within the document, e.g. `rules[2].requestHeaders.set.content-length` ("" = the document). */
  field: string;
  problem: string;
}

/** Every problem found in one document (or bundle); `field` and the message's first line are the first problem's. */
export class PolicyValidationError extends ValidationError {
  readonly problems: readonly FieldProblem[];
  constructor(problems: readonly FieldProblem[]) {
    super(problems[0]?.field ?? '', problems[0]?.problem ?? 'invalid');
    this.problems = problems;
    this.message = problems.map((p) => (p.field ? `${p.field}: ${p.problem}` : p.problem)).join('\n');
  }
}

/** The problems of a thrown error: every one of a PolicyValidationError, else the one. */
export function problemsOf(err: ValidationError): readonly FieldProblem[] {
  if (err instanceof PolicyValidationError) return err.problems;
  const problem = err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
  return [{ field: err.field, problem }];
}

export class Problems {
  readonly list: FieldProblem[] = [];

  add(field: string, problem: string): void {
    this.list.push({ field, problem });
  }

  /** Runs one check; a ValidationError it throws is recorded (all of a PolicyValidationError's) and undefined returned. */
  take<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      this.list.push(...problemsOf(err));
      return undefined;
    }
  }

  /** Throws a PolicyValidationError when anything was recorded. */
  throwIfAny(): void {
    if (this.list.length > 0) throw new PolicyValidationError(this.list);
  }
}

export const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/** An object whose keys are all in `allowed` (each unknown key is recorded); undefined when `v` is not an object. */
export function obj(c: Problems, v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> | undefined {
  if (!isObject(v)) {
    c.add(path, 'must be an object');
    return undefined;
  }
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) c.add(at(path, key), `unknown field (expected one of: ${allowed.join(', ')})`);
  }
  return v;
}

/** `check(v, path)` for a present field, recording its problem; undefined when absent or invalid. */
export function opt<T>(c: Problems, v: unknown, path: string, check: (v: unknown, path: string) => T): T | undefined {
  return v === undefined ? undefined : c.take(() => check(v, path));
}

/** Each element through `each` (problems recorded per element); undefined when `v` is not a list within `max`. */
export function list<T>(
  c: Problems,
  v: unknown,
  path: string,
  max: number,
  each: (v: unknown, path: string) => T | undefined,
): T[] | undefined {
  if (!Array.isArray(v)) {
    c.add(path, 'must be a list');
    return undefined;
  }
  if (v.length > max) {
    c.add(path, `must have at most ${max} entries`);
    return undefined;
  }
  const out: T[] = [];
  v.forEach((item, i) => {
    const r = each(item, at(path, i));
    if (r !== undefined) out.push(r);
  });
  return out.length === v.length ? out : undefined;
}

export function str(v: unknown, path: string, max: number = PolicyLimits.headerValue): string {
  if (typeof v !== 'string') throw new ValidationError(path, 'must be a string');
  if (v.length > max) throw new ValidationError(path, `must be at most ${max} characters`);
  return v;
}

export function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ValidationError(path, 'must be an integer');
  if (v < min || v > max) throw new ValidationError(path, `must be ${min}..${max}`);
  return v;
}

export function percent(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw new ValidationError(path, 'must be a number 0..100');
  return v;
}

export function duration(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ValidationError(path, 'must be a duration such as "2s" or "250ms"');
  const ms = parseDuration(v, path);
  if (ms <= 0) throw new ValidationError(path, 'must be greater than 0');
  return v;
}

/** A pattern RE2 compiles (see policy-regex.ts for why RE2). */
export function regex(v: unknown, path: string): string {
  const s = str(v, path, PolicyLimits.regex);
  try {
    compilePolicyRegex(s);
  } catch (err) {
    throw new ValidationError(path, `invalid regular expression (RE2 syntax): ${(err as Error).message}`);
  }
  return s;
}

/** A header name that is a token; returned lowercase. */
export function headerName(v: unknown, path: string): string {
  const s = str(v, path, 256);
  if (!isHeaderToken(s)) throw new ValidationError(path, `invalid header name ${JSON.stringify(s)} (must be a token)`);
  return s.toLowerCase();
}

/** A header name a policy may set or remove (not framing, hop-by-hop or the mesh's own). */
export function editableHeaderName(v: unknown, path: string): string {
  const name = headerName(v, path);
  const why = protectedHeaderReason(name);
  if (why) throw new ValidationError(path, why);
  return name;
}

export function headerValue(v: unknown, path: string): string {
  const s = str(v, path);
  const why = headerValueProblem(s);
  if (why) throw new ValidationError(path, why);
  return s;
}

/** A map of editable header names to values, every entry checked (the agent writes them into message heads as they are). */
export function headerMap(c: Problems, v: unknown, path: string): Record<string, string> | undefined {
  if (!isObject(v)) {
    c.add(path, 'must be a map of header names to strings');
    return undefined;
  }
  const out: Record<string, string> = {};
  let ok = true;
  for (const [k, val] of Object.entries(v)) {
    const name = c.take(() => editableHeaderName(k, at(path, k)));
    const value = c.take(() => headerValue(val, at(path, k)));
    if (name === undefined || value === undefined) ok = false;
    else out[name] = value;
  }
  return ok ? out : undefined;
}

/** A request path or authority: no spaces or control characters (it goes into the request line). */
export function pathString(v: unknown, path: string, max: number = PolicyLimits.headerValue): string {
  const s = str(v, path, max);
  if (!/^[\x21-\x7e\x80-\xff]*$/.test(s))
    throw new ValidationError(path, 'must not contain spaces or control characters (percent-encode them)');
  return s;
}

/** Drops the keys whose value is undefined, so the stored form prints back unchanged. */
export function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export function onlyOne(o: Record<string, unknown>, keys: readonly string[], path: string, required: boolean): string | undefined {
  const present = keys.filter((k) => o[k] !== undefined);
  if (present.length > 1) throw new ValidationError(path, `set only one of ${keys.join(', ')} (got ${present.join(', ')})`);
  if (required && present.length === 0) throw new ValidationError(path, `needs one of ${keys.join(', ')}`);
  return present[0];
}
