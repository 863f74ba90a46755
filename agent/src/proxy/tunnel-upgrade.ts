/**
 * HTTP/1.1 Upgrade (RFC 9110 §7.8) through the mesh: which requests ask to
 * upgrade, and the Connection/Upgrade lines each hop writes again (both are
 * hop-by-hop, so headers.ts drops them like any other; an upgrade carries
 * them on explicitly, hop by hop).
 *
 * A request asks to upgrade when it is HTTP/1.1, carries Upgrade and names
 * `upgrade` in Connection, and has no body (a WebSocket handshake is a GET
 * without one; an upgrade with a body would need the body forwarded before
 * the switch, which the tunnel does not do: such a request is forwarded as a
 * plain request, without its Upgrade).
 */
import { hasToken } from '../http1/head-parser.js';
import { headerLines } from '../http1/head-writer.js';
import type { Http1Request } from '../http1/server-message.js';
import { responseHeader, type UpstreamResponse } from './forward.js';
import { downstreamResponseHeaders, downstreamResponseLines, type HeadLines } from './headers.js';

/** The Upgrade value the client asked for, or undefined when the request does not ask to upgrade. */
export function upgradeOf(req: Http1Request): string | undefined {
  if (req.httpVersion !== '1.1' || req.hasBody) return undefined;
  const upgrade = req.header('upgrade');
  if (upgrade === undefined || upgrade.trim() === '') return undefined;
  return hasToken(connectionOf(req.rawHeaders), 'upgrade') ? upgrade.trim() : undefined;
}

/** Every Connection value joined (a request may send the field more than once). */
function connectionOf(raw: readonly string[]): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') out = out === undefined ? raw[i + 1] : `${out}, ${raw[i + 1]}`;
  }
  return out;
}

/** The request's header lines with the upgrade asked for again on the next hop. */
export function withUpgrade(head: HeadLines, upgrade: string | undefined): HeadLines {
  if (upgrade === undefined) return head;
  return { lines: `${head.lines}connection: upgrade\r\nupgrade: ${upgrade}\r\n`, hasLength: head.hasLength };
}

/** The 101's lines for the client: the upstream's fields (hop-by-hop dropped, request id set) and the switch itself. */
export function switchingLines(response: UpstreamResponse, requestId: string, asked: string): HeadLines {
  const raw = response.rawHeaders;
  const base =
    raw !== undefined ? downstreamResponseLines(raw, requestId).lines : headerLines(downstreamResponseHeaders(response.headers, requestId));
  const upgrade = responseHeader(response, 'upgrade')?.trim() || asked;
  return { lines: `${base}connection: upgrade\r\nupgrade: ${upgrade}\r\n`, hasLength: false };
}
