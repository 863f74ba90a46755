/**
 * Header lines for the heads we write (responses to clients, requests to
 * upstreams). Heads are written as latin1, as node:http does, so bytes
 * received as obs-text go out unchanged. A value or name with CR, LF or NUL
 * would split the head (response splitting / request smuggling): it throws
 * ERR_INVALID_CHAR before anything is written.
 */
export type OutgoingHeaders = Record<string, string | number | readonly string[] | undefined>;

const LINE_BREAK = /[\r\n\0]/;

export function invalidHeader(name: string): Error {
  return Object.assign(new TypeError(`invalid character in header "${name}"`), { code: 'ERR_INVALID_CHAR' });
}

/** `name: value\r\n` for one value. */
export function headerLine(name: string, value: string | number): string {
  const v = typeof value === 'number' ? String(value) : value;
  if (LINE_BREAK.test(v) || LINE_BREAK.test(name)) throw invalidHeader(name);
  return `${name}: ${v}\r\n`;
}

/** The lines of every header in `headers` (one line per value of an array). */
export function headerLines(headers: OutgoingHeaders): string {
  let out = '';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'object') for (const v of value) out += headerLine(name, v);
    else out += headerLine(name, value);
  }
  return out;
}
