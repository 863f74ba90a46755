/**
 * Header lines for the heads we write (responses to clients, requests to
 * upstreams). Heads are written as latin1, as node:http does, so bytes
 * received as obs-text go out unchanged.
 *
 * Values are not scanned here (this runs for every header of every message
 * on both hops): a CR, LF or NUL would split the head, so every value is
 * checked where it enters the agent instead. Received heads are checked by
 * head-parser.ts; policy values (header sets, direct responses, redirects,
 * rewrites) by the policy validator (shared/src/policy/policy-validate.ts);
 * what the agent adds itself is built from those or from checked ids
 * (headers.ts: request id, traceparent).
 */
export type OutgoingHeaders = Record<string, string | number | readonly string[] | undefined>;

/** `name: value\r\n` for one value. */
export function headerLine(name: string, value: string | number): string {
  return `${name}: ${value}\r\n`;
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

/** Buffer's own latin1 decoder (undocumented, but what toString('latin1') ends in, without its argument checks). */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** buf[0, end) as latin1 text (a message head). */
export function latin1(buf: Buffer, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(0, end);
}
