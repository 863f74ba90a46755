/**
 * The request conditions a rule may hold, compiled once per policy version:
 * Routes rules use all of them, AccessPolicy rules path and methods only.
 * policy-match.ts matches them (one function per condition, shared by the
 * hot path and explain).
 */
import { compilePolicyRegex, type PathMatch, type PolicyRegex } from '@weft/shared';

export interface CompiledValueMatch {
  name: string;
  exact?: string;
  regex?: PolicyRegex;
  /** true: must be present; false: must be absent. */
  present?: boolean;
}

/** The request conditions of a rule (Routes and AccessPolicy rules alike), matched by policy-match.ts. */
export interface MatchConditions {
  readonly pathExact?: string;
  readonly pathPrefix?: string;
  readonly pathRegex?: PolicyRegex;
  readonly methods?: ReadonlySet<string>;
  readonly headers: readonly CompiledValueMatch[];
  readonly query: readonly CompiledValueMatch[];
}

/** Path and method conditions compiled once (RE2 for a regex). */
export function compileConditions(path: PathMatch | undefined, methods: readonly string[] | undefined): MatchConditions {
  return {
    pathExact: path?.exact,
    pathPrefix: path?.prefix,
    pathRegex: path?.regex === undefined ? undefined : compilePolicyRegex(path.regex),
    methods: methods ? new Set(methods) : undefined,
    headers: [],
    query: [],
  };
}
