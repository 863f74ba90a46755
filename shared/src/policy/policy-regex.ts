/**
 * The one regular-expression engine of traffic policies: RE2 (the re2js
 * port), whose matching time is linear in the input. A policy's regexes are
 * matched against request paths and header/query values that a client chooses,
 * so a backtracking engine (`RegExp`) would let one request with a crafted
 * value hold the agent's event loop for seconds (`^(a+)+$`). RE2 has no
 * backreferences and no lookaround; a pattern that needs them is refused at
 * validation, naming the field.
 *
 * Inputs longer than MAX_REGEX_INPUT never match a regex condition (they are
 * not truncated: a truncated value could satisfy a `$`-anchored pattern that
 * the whole value does not). Linear time is still time; the cap bounds the
 * work per condition to a few milliseconds at worst.
 */
import { RE2JS } from 're2js';

/** Characters (UTF-16 code units) of input a regex condition looks at; longer inputs do not match. */
export const MAX_REGEX_INPUT = 8192;

/** A compiled policy regex: `test` is an unanchored search, as RegExp.prototype.test. */
export interface PolicyRegex {
  readonly source: string;
  test(input: string): boolean;
}

class Re2Regex implements PolicyRegex {
  constructor(
    readonly source: string,
    private readonly re: RE2JS,
  ) {}

  test(input: string): boolean {
    if (input.length > MAX_REGEX_INPUT) return false;
    return this.re.test(input);
  }
}

/**
 * Compiles `pattern` with RE2 syntax. Throws an Error whose message says why
 * RE2 cannot compile it (e.g. "invalid or unsupported Perl syntax: `(?=`" for
 * lookahead, "invalid escape sequence: `\1`" for a backreference).
 */
export function compilePolicyRegex(pattern: string): PolicyRegex {
  try {
    return new Re2Regex(pattern, RE2JS.compile(pattern));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(unsupportedHint(pattern, message));
  }
}

/** RE2's message, plus why when the pattern uses a feature RE2 leaves out on purpose. */
function unsupportedHint(pattern: string, message: string): string {
  const reason = message.replace(/^error parsing regexp: /, '');
  if (/\(\?<?[=!]/.test(pattern)) return `${reason} (lookahead and lookbehind are not supported: RE2 matches in linear time)`;
  if (/\\[1-9]/.test(pattern)) return `${reason} (backreferences are not supported: RE2 matches in linear time)`;
  return reason;
}
