/**
 * Which headers a policy may edit, and what a value it writes may contain.
 * The agent writes `requestHeaders` / `responseHeaders` edits and direct
 * response headers into message heads as they are, after it has decided the
 * message's framing and connection handling. An edit of a framing or
 * hop-by-hop header would contradict that decision (a `content-length` that
 * does not match the body desynchronises the connection; a `connection:
 * close` or `upgrade` changes what happens to the socket), and the
 * `x-weft-*` headers are the mesh's own answers, so none of them may be set
 * or removed by a policy.
 */

/** Exact names (lowercase) a policy may not set or remove. */
export const PROTECTED_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'host',
]);

/** Prefixes (lowercase) of names a policy may not set or remove. */
export const PROTECTED_HEADER_PREFIXES: readonly string[] = ['proxy-', 'x-weft-'];

/** An RFC 9110 token: the only characters a header name may have. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function isHeaderToken(name: string): boolean {
  return TOKEN.test(name);
}

/** Why a policy may not edit `name` (lowercase), or null when it may. */
export function protectedHeaderReason(name: string): string | null {
  if (PROTECTED_HEADERS.has(name)) {
    return name === 'host'
      ? 'host is set by the mesh from the request target and may not be edited'
      : `${name} is a framing or hop-by-hop header and may not be edited by a policy`;
  }
  for (const prefix of PROTECTED_HEADER_PREFIXES) {
    if (name.startsWith(prefix)) {
      return prefix === 'x-weft-'
        ? `${prefix}* headers belong to the mesh and may not be edited by a policy`
        : `${prefix}* headers are hop-by-hop and may not be edited by a policy`;
    }
  }
  return null;
}

/**
 * Why `value` may not be written into a header, or null. CR and LF would end
 * the header line (header injection, response splitting); NUL and other
 * control characters are refused by conforming parsers downstream.
 */
export function headerValueProblem(value: string): string | null {
  if (/[\r\n]/.test(value)) return 'must not contain CR or LF (a line break would split the message head)';
  if (value.includes('\0')) return 'must not contain NUL';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(value)) return 'must not contain control characters other than tab';
  if (/[^\t\x20-\xff]/.test(value)) return 'must contain only visible ASCII or Latin-1 characters, spaces and tabs';
  return null;
}
