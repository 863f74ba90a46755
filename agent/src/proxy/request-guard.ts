/**
 * Checks on a request head that the parser does not make, run by both
 * listeners before any routing (protection of the proxy and of the apps
 * behind it). What the parser already rejects on its own, before a request
 * exists (agent/src/http1/head-parser.ts, answered by listener-server.ts):
 * a head over maxHeaderBytes or with more than maxHeaderCount fields (431),
 * Content-Length together with Transfer-Encoding, duplicate or invalid
 * Content-Length, a Transfer-Encoding that does not end in chunked, control
 * characters in header values, obs-fold (400); the server answers heads or
 * whole requests that arrive too slowly (408).
 * What is checked here:
 *   - more than one Host header, or a Host that is not a valid authority
 *     (RFC 9112 §3.2: a server MUST answer 400) -> 400;
 *   - HTTP/1.1 without Host -> 400.
 */
import type { Http1Request } from '../http1/server-message.js';

export interface GuardFailure {
  status: number;
  message: string;
}

/** host [":" port] where host is a reg-name, an IPv4 address or a bracketed IPv6 literal. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::\d{0,5})?$/;

/** A request head problem, or undefined when the head is acceptable. */
export function checkRequestHead(req: Http1Request): GuardFailure | undefined {
  const hosts = req.hostCount;
  if (hosts > 1) return { status: 400, message: `host: sent ${hosts} times; a request has exactly one Host header` };
  const host = req.host;
  if (host === undefined) {
    if (req.httpVersion === '1.1') return { status: 400, message: 'host: missing (required in HTTP/1.1)' };
    return undefined;
  }
  if (host.length > 255 || (host !== '' && !AUTHORITY.test(host))) {
    return { status: 400, message: `host: ${JSON.stringify(host.slice(0, 80))} is not a valid host[:port]` };
  }
  return undefined;
}
