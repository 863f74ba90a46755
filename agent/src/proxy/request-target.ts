/**
 * Which service a local app is calling, parsed once at the edge of the
 * outbound listener. Two forms are accepted:
 *   - absolute-form (the app uses us as an HTTP forward proxy):
 *       GET http://orders/path?q HTTP/1.1
 *   - origin-form with the service in Host:
 *       GET /path?q HTTP/1.1  +  Host: orders
 * The host is lowercased and split from its port. A host that is a valid
 * service name is a mesh service (or, if the mesh has none by that name, a
 * declared ExternalService); any other DNS name or IPv4 address can only be
 * an ExternalService (`service` null); anything else is a bad request naming
 * what was wrong. The port of a mesh service is ignored; an ExternalService
 * checks it (outbound-external.ts).
 */

import { Limits, MeshError, MeshErrorCode, validateExternalHost } from '@weft/shared';
import type { Http1Request } from '../http1/server-message.js';

export interface RequestTarget {
  /** The host when it is a valid service name, else null (it can only be an ExternalService). */
  service: string | null;
  /** Lowercase, without port. */
  host: string;
  /** The port written in the authority, if any. */
  port: number | undefined;
  /** Path and query to send upstream (origin-form). */
  path: string;
  /** The authority the app asked for (host[:port]); sent upstream as Host. */
  authority: string;
}

const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function bad(message: string): MeshError {
  return new MeshError(MeshErrorCode.badRequest, message);
}

/** The host part of an authority (`orders:8080` -> `orders`, `[::1]:80` -> `[::1]`). */
export function hostOf(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end < 0 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.indexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

/** The parts of an authority: a service name, or an outside host (service null). */
export interface TargetHost {
  readonly service: string | null;
  readonly host: string;
  readonly port: number | undefined;
}

/** Hosts by the authority they were called with: apps call the same few names all day (bounded, cleared when full). */
const hostCache = new Map<string, TargetHost>();
const HOST_CACHE_MAX = 1024;

export function hostFromAuthority(authority: string, field: string): TargetHost | MeshError {
  const cached = hostCache.get(authority);
  if (cached !== undefined) return cached;
  const parsed = parseHost(authority, field);
  if (!(parsed instanceof MeshError)) {
    if (hostCache.size >= HOST_CACHE_MAX) hostCache.clear();
    hostCache.set(authority, parsed);
  }
  return parsed;
}

function parseHost(authority: string, field: string): TargetHost | MeshError {
  const trimmed = authority.trim();
  const host = hostOf(trimmed).toLowerCase();
  if (host === '') return bad(`${field}: missing host; call a service as http://<service>/... or with Host: <service>`);
  const portText = trimmed.slice(hostOf(trimmed).length);
  let port: number | undefined;
  if (portText !== '' && portText !== ':') {
    port = /^:[0-9]{1,5}$/.test(portText) ? Number(portText.slice(1)) : 0;
    if (port < 1 || port > 65535) return bad(`${field}: invalid port in ${JSON.stringify(trimmed.slice(0, 80))}`);
  }
  if (host.length <= Limits.serviceName && SERVICE_NAME.test(host)) return Object.freeze({ service: host, host, port });
  try {
    validateExternalHost(host, field);
  } catch {
    return bad(
      `${field}: ${JSON.stringify(host.slice(0, 80))} is neither a service name (lowercase letters, digits and '-') nor a host name an ExternalService can declare`,
    );
  }
  return Object.freeze({ service: null, host, port });
}

/**
 * An absolute-form target split without normalising it (RFC 9112 §3.2.2):
 * the authority, and the path and query exactly as the client wrote them
 * ("/" when it has none), so both target forms forward the same bytes.
 */
function splitAbsolute(raw: string): { authority: string; path: string } | MeshError {
  if (!/^http:\/\//i.test(raw)) return bad(`request target ${JSON.stringify(raw.slice(0, 80))}: only http:// URLs are supported`);
  const rest = raw.slice(7);
  let end = 0;
  while (end < rest.length && rest.charCodeAt(end) !== 47 && rest.charCodeAt(end) !== 63 && rest.charCodeAt(end) !== 35) end++;
  if (rest.charCodeAt(end) === 35) return bad(`request target ${JSON.stringify(raw.slice(0, 80))}: a fragment is not allowed`);
  // The host is case-insensitive (RFC 3986 §3.2.2): the authority goes upstream lowercased.
  const authority = rest.slice(0, end).toLowerCase();
  const tail = rest.slice(end);
  return { authority, path: tail === '' ? '/' : tail.charCodeAt(0) === 63 ? `/${tail}` : tail };
}

/** True for an absolute-form target (scheme "://"), as opposed to origin-form "/path". */
function isAbsoluteForm(raw: string): boolean {
  return raw.charCodeAt(0) !== 47 && /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
}

/**
 * The origin-form path an inbound request is handed to the app with: an
 * origin-form target as it came, an absolute-form one reduced to its path
 * and query; anything else (`OPTIONS *`, authority-form) is refused, never
 * passed to the app verbatim.
 */
export function inboundPath(req: Http1Request): string | MeshError {
  const raw = req.url ?? '';
  if (raw.charCodeAt(0) === 47) return raw;
  if (isAbsoluteForm(raw)) {
    const split = splitAbsolute(raw);
    return split instanceof MeshError ? split : split.path;
  }
  return bad(`request target ${JSON.stringify(raw.slice(0, 80))}: the mesh carries origin-form (/path) and http:// targets only`);
}

/** Parses the service and upstream path of an outbound request, or returns a bad_request MeshError. */
export function parseRequestTarget(req: Http1Request): RequestTarget | MeshError {
  const raw = req.url ?? '';
  // origin-form (the usual "/path") needs no scheme check.
  if (isAbsoluteForm(raw)) {
    const split = splitAbsolute(raw);
    if (split instanceof MeshError) return split;
    const t = hostFromAuthority(split.authority, 'request target host');
    if (t instanceof MeshError) return t;
    return { service: t.service, host: t.host, port: t.port, path: split.path, authority: split.authority };
  }
  if (!raw.startsWith('/')) return bad(`request target ${JSON.stringify(raw.slice(0, 80))}: expected a path or an http:// URL`);
  const authority = req.host;
  if (authority === undefined || authority.trim() === '') {
    return bad('host: missing; call a service as http://<service>/... or with Host: <service>');
  }
  const t = hostFromAuthority(authority, 'host');
  if (t instanceof MeshError) return t;
  return { service: t.service, host: t.host, port: t.port, path: raw, authority: authority.trim() };
}
