/**
 * Header hygiene for both hops. Hop-by-hop headers (RFC 9110 §7.6.1) belong to
 * one connection and are removed in both directions, together with any header
 * named in `Connection`. Forwarding headers are appended, never replaced, so
 * the chain of proxies stays visible; a request id and a W3C traceparent are
 * carried unchanged, or created when the caller sent none.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { INSTANCE_HEADER, REQUEST_ID_HEADER } from '@weft/shared';

export const TIMEOUT_HEADER = 'x-weft-timeout-ms';
export const TRACEPARENT_HEADER = 'traceparent';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export type HeaderMap = Record<string, string | string[]>;

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const tokens = new Set<string>();
  if (value === undefined) return tokens;
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const t of part.split(',')) {
      const name = t.trim().toLowerCase();
      if (name) tokens.add(name);
    }
  }
  return tokens;
}

/** A copy of `headers` without hop-by-hop headers (and those named in Connection) and without `drop`. */
export function stripHopByHop(headers: IncomingHttpHeaders | HeaderMap, drop: readonly string[] = []): HeaderMap {
  const named = connectionTokens(headers.connection);
  const out: HeaderMap = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const k = key.toLowerCase();
    if (HOP_BY_HOP.has(k) || named.has(k) || drop.includes(k)) continue;
    out[k] = value;
  }
  return out;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** True for a traceparent we may carry: well-formed, version not ff, ids not all zero. */
export function isValidTraceparent(value: string): boolean {
  const m = TRACEPARENT.exec(value);
  if (!m) return false;
  const [, version, traceId, parentId] = m;
  if (version === 'ff') return false;
  if (version === '00' && m[5] !== undefined) return false;
  return !/^0+$/.test(traceId!) && !/^0+$/.test(parentId!);
}

export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

export function newRequestId(): string {
  return randomUUID();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The caller's request id, or a new one when absent or unreasonable (too long, control characters). */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const v = single(headers[REQUEST_ID_HEADER])?.trim();
  return v && v.length <= 200 && /^[\x21-\x7e]+$/.test(v) ? v : newRequestId();
}

export interface ForwardingContext {
  /** Address of the peer that sent us the request. */
  clientAddress: string | undefined;
  /** Host header to send upstream (the service name the app asked for). */
  authority: string;
  requestId: string;
  /** Only the first hop (the outbound listener) sets proto/host; later hops keep what they got. */
  firstHop: boolean;
  /** Extra headers to set (e.g. x-weft-instance); they replace any value the caller sent. */
  set?: Record<string, string>;
  /** Headers the caller may not pass upstream (mesh control headers). */
  drop?: readonly string[];
}

/** The headers of the request we send upstream. */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, ctx: ForwardingContext): HeaderMap {
  // `expect: 100-continue` was answered by our own server already; it does not travel further.
  const out = stripHopByHop(incoming, ['host', 'expect', ...(ctx.drop ?? [])]);
  out.host = ctx.authority;
  const xff = single(incoming['x-forwarded-for']);
  if (ctx.clientAddress) out['x-forwarded-for'] = xff ? `${xff}, ${ctx.clientAddress}` : ctx.clientAddress;
  if (ctx.firstHop || out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = 'http';
  if (ctx.firstHop || out['x-forwarded-host'] === undefined) out['x-forwarded-host'] = ctx.authority;
  out[REQUEST_ID_HEADER] = ctx.requestId;
  const tp = single(incoming[TRACEPARENT_HEADER])?.trim();
  if (tp !== undefined && isValidTraceparent(tp)) {
    out[TRACEPARENT_HEADER] = tp;
  } else {
    // A new trace: any tracestate belonged to a trace we cannot continue.
    out[TRACEPARENT_HEADER] = newTraceparent();
    delete out.tracestate;
  }
  for (const [k, v] of Object.entries(ctx.set ?? {})) out[k] = v;
  return out;
}

/** The headers of the response we send back to the caller. */
export function downstreamResponseHeaders(upstream: IncomingHttpHeaders | HeaderMap, requestId: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = stripHopByHop(upstream);
  out[REQUEST_ID_HEADER] = requestId;
  return out;
}

/** Mesh control headers a caller must not smuggle to the app. */
export const MESH_REQUEST_HEADERS = [INSTANCE_HEADER, TIMEOUT_HEADER] as const;
