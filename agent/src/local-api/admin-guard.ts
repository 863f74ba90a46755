/**
 * Who may talk to the admin API, decided before any route runs. Any process
 * on the host can reach 127.0.0.1 and is trusted (it could as well run its own
 * proxy); what must be kept out is a web page in a local browser, which can
 * make that browser send requests to 127.0.0.1 too:
 *
 * - by DNS rebinding (a name the page controls first resolves to its server,
 *   then to 127.0.0.1; the browser then reads our answers as same-origin, but
 *   the Host header still carries the page's name): refused unless Host is a
 *   loopback name or address;
 * - by cross-site request forgery (a form or `fetch(..., {mode: 'no-cors'})`
 *   POSTing text/plain, form-urlencoded or multipart without a preflight):
 *   refused when the request carries a non-loopback Origin, and any write
 *   whose Content-Type is not application/json is refused, so a request that
 *   a browser sends without a CORS preflight can never change anything.
 *   The admin API never answers a preflight with Access-Control-Allow-*.
 *
 * Only a DELETE without a body may omit Content-Type: no browser sends a
 * cross-origin DELETE without a preflight, and requiring a type on an empty
 * body would only break `curl -X DELETE`.
 */
import type { IncomingMessage } from 'node:http';
import { isLoopbackIp, isLoopbackName } from '@weft/shared';

/** The admin API's refusal codes (also in `x-weft-error`), with their one HTTP status. */
export const AdminRefusalCode = {
  /** The TCP peer is not on 127.0.0.0/8 or ::1. */
  nonLoopbackClient: 'non_loopback_client',
  /** The Host header is not `localhost`, `127.x.x.x` or `[::1]` (with any port): DNS rebinding. */
  nonLoopbackHost: 'non_loopback_host',
  /** The Origin header names a page that is not served from a loopback host: CSRF. */
  crossOrigin: 'cross_origin',
  /** A write whose body is not declared application/json. */
  unsupportedMediaType: 'unsupported_media_type',
} as const;
export type AdminRefusalCode = (typeof AdminRefusalCode)[keyof typeof AdminRefusalCode];

const REFUSAL_STATUS: Record<AdminRefusalCode, number> = {
  non_loopback_client: 403,
  non_loopback_host: 403,
  cross_origin: 403,
  unsupported_media_type: 415,
};

export interface AdminRefusal {
  status: number;
  code: AdminRefusalCode;
  /** The header (or "remoteAddress") that decided it. */
  header: string;
  message: string;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Undefined when the request may proceed; otherwise why not. */
export function refuseAdminRequest(req: Pick<IncomingMessage, 'method' | 'headers' | 'socket'>): AdminRefusal | undefined {
  const peer = req.socket.remoteAddress ?? '';
  if (!isLoopbackIp(peer)) {
    return refusal(
      'non_loopback_client',
      'remoteAddress',
      `the admin API answers only clients on this host (127.0.0.0/8, ::1), not ${peer || 'an unknown peer'}`,
    );
  }
  const host = req.headers.host;
  if (host === undefined || !isLoopbackAuthority(host)) {
    return refusal(
      'non_loopback_host',
      'host',
      `Host: ${host === undefined ? 'missing' : JSON.stringify(host)}; the admin API answers only requests addressed to localhost, 127.x.x.x or [::1] (DNS rebinding protection)`,
    );
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !isLoopbackOrigin(origin)) {
    return refusal(
      'cross_origin',
      'origin',
      `Origin: ${JSON.stringify(origin)}; the admin API refuses requests made by web pages that are not served from this host (CSRF protection)`,
    );
  }
  const method = req.method ?? '';
  if (WRITE_METHODS.has(method)) {
    const type = req.headers['content-type'];
    const bodyless = method === 'DELETE' && !hasBody(req.headers);
    if (type === undefined ? !bodyless : !isJson(type)) {
      return refusal(
        'unsupported_media_type',
        'content-type',
        `Content-Type: ${type === undefined ? 'missing' : JSON.stringify(type)}; ${method} needs application/json${method === 'DELETE' ? ' (or no body and no Content-Type)' : ''}`,
      );
    }
  }
  return undefined;
}

function refusal(code: AdminRefusalCode, header: string, message: string): AdminRefusal {
  return { status: REFUSAL_STATUS[code], code, header, message };
}

/** `host[:port]` where host is `localhost`, an IPv4 in 127.0.0.0/8, or a bracketed ::1. */
export function isLoopbackAuthority(authority: string): boolean {
  let host: string;
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return false;
    host = authority.slice(0, end + 1);
    const rest = authority.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return false;
    port = rest === '' ? undefined : rest.slice(1);
    if (!isLoopbackIp(host)) return false;
  } else {
    const parts = authority.split(':');
    if (parts.length > 2) return false;
    [host, port] = parts;
    if (!isLoopbackName(host) && !(/^\d+\.\d+\.\d+\.\d+$/.test(host) && isLoopbackIp(host))) return false;
  }
  return port === undefined || /^\d{1,5}$/.test(port);
}

/** `http(s)://` plus a loopback authority and nothing else (`null`, file: and the like are foreign). */
export function isLoopbackOrigin(origin: string): boolean {
  const m = /^https?:\/\/([^/?#@]+)$/i.exec(origin);
  return m !== null && isLoopbackAuthority(m[1]);
}

function isJson(contentType: string): boolean {
  return contentType.split(';')[0].trim().toLowerCase() === 'application/json';
}

function hasBody(headers: IncomingMessage['headers']): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && Number(length) !== 0;
}
