/**
 * The path a policy's path conditions (exact, prefix, regex) are matched
 * against. Without it, `/x/../admin`, `/%61dmin`, `//admin` and `/./admin`
 * all reach what an upstream serves as `/admin` while skipping a
 * `prefix: /admin` rule. Steps, in this order:
 *
 * 1. Percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded
 *    (RFC 3986 §6.2.2.2); every other percent-encoding stays encoded, with its
 *    hex digits uppercased (§6.2.2.1), so `%2F` is never a segment separator
 *    and `%2f` equals `%2F`. A `%` not followed by two hex digits is kept as
 *    it is (it matches literally).
 * 2. Runs of slashes are merged into one (`//admin` -> `/admin`).
 * 3. Dot segments are removed (RFC 3986 §5.2.4); `..` never climbs above `/`.
 *
 * The input is a path without query string; it starts with "/" (the proxy
 * accepts only origin-form and http:// absolute-form targets, and passes the
 * path of either). The function allocates nothing for a path that needs no
 * change, which is the common case.
 */

const HEX = /^[0-9A-Fa-f]{2}$/;

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e // ~
  );
}

/** Step 1: decodes %XX of unreserved characters, uppercases the others, keeps invalid sequences. */
export function decodeUnreserved(path: string): string {
  if (path.indexOf('%') < 0) return path;
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i >= 0; i = path.indexOf('%', i + 1)) {
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) continue;
    const code = Number.parseInt(hex, 16);
    out += path.slice(from, i) + (isUnreserved(code) ? String.fromCharCode(code) : `%${hex.toUpperCase()}`);
    from = i + 3;
    i += 2;
  }
  return out + path.slice(from);
}

/** Step 3: RFC 3986 §5.2.4 remove_dot_segments for an absolute path (one slash between segments). */
export function removeDotSegments(path: string): string {
  const segments = path.split('/');
  // segments[0] is "" (the path starts with "/").
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(s);
  }
  return `/${out.join('/')}`;
}

/** The normalised form of `path` (no query string); see the file comment for the steps. */
export function normalizePath(path: string): string {
  if (path.indexOf('%') < 0 && path.indexOf('//') < 0 && path.indexOf('/.') < 0) return path;
  let p = decodeUnreserved(path);
  if (!p.startsWith('/')) p = `/${p}`;
  p = p.replace(/\/{2,}/g, '/');
  return p.indexOf('/.') < 0 ? p : removeDotSegments(p);
}
