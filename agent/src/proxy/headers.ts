/**
 * Header hygiene for both hops. Hop-by-hop headers (RFC 9110 §7.6.1) belong to
 * one connection and are removed in both directions, together with any header
 * named in `Connection`. Forwarding headers are appended, never replaced, so
 * the chain of proxies stays visible; a request id and a W3C traceparent are
 * carried unchanged, or created when the caller sent none.
 */
import { randomFillSync, randomUUID } from 'node:crypto';
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

function connectionTokens(value: string | string[]): Set<string> {
  const tokens = new Set<string>();
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const t of part.split(',')) {
      const name = t.trim().toLowerCase();
      if (name) tokens.add(name);
    }
  }
  return tokens;
}

const NOTHING: ReadonlySet<string> = new Set();
const PLAIN_CONNECTION: ReadonlySet<unknown> = new Set(['keep-alive', 'close', 'Keep-Alive', 'Close']);

/**
 * Copies `headers` into `out` without hop-by-hop headers, those named in
 * Connection and those in `drop` (per request: one pass, no parsing when
 * there is no Connection header, which is the usual case).
 */
function copyHeaders(
  headers: IncomingHttpHeaders | HeaderMap,
  drop: ReadonlySet<string> | readonly string[],
  out: HeaderMap | OutgoingHttpHeaders,
): void {
  const connection = headers.connection;
  // `keep-alive` / `close` (what node and most servers send) name no header beyond the hop-by-hop ones.
  const named = connection === undefined || PLAIN_CONNECTION.has(connection as string) ? NOTHING : connectionTokens(connection);
  const dropSet = Array.isArray(drop) ? undefined : (drop as ReadonlySet<string>);
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined) continue;
    const k = key.toLowerCase();
    if (HOP_BY_HOP.has(k) || named.has(k) || (dropSet !== undefined ? dropSet.has(k) : (drop as readonly string[]).includes(k))) continue;
    out[k] = value;
  }
}

/** A copy of `headers` without hop-by-hop headers (and those named in Connection) and without `drop`. */
export function stripHopByHop(
  headers: IncomingHttpHeaders | HeaderMap,
  drop: ReadonlySet<string> | readonly string[] = NOTHING,
): HeaderMap {
  const out: HeaderMap = {};
  copyHeaders(headers, drop, out);
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

/** Random bytes for trace ids, filled 4 KiB at a time (one randomFillSync per 170 traces, not two randomBytes per request). */
const entropy = Buffer.allocUnsafe(4096);
let entropyAt = entropy.length;

export function newTraceparent(): string {
  if (entropyAt + 24 > entropy.length) {
    randomFillSync(entropy);
    entropyAt = 0;
  }
  const at = entropyAt;
  entropyAt += 24;
  return `00-${entropy.toString('hex', at, at + 16)}-${entropy.toString('hex', at + 16, at + 24)}-01`;
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

/** Dropped from every upstream request besides hop-by-hop ones: `expect: 100-continue` was answered by our own server already. */
const REPLACED = ['host', 'expect'];
/** REPLACED plus a caller's `drop` list, built once per list. */
const dropSets = new WeakMap<readonly string[], ReadonlySet<string>>();
const REPLACED_ONLY: ReadonlySet<string> = new Set(REPLACED);

function dropSetOf(drop: readonly string[] | undefined): ReadonlySet<string> {
  if (drop === undefined) return REPLACED_ONLY;
  let set = dropSets.get(drop);
  if (set === undefined) {
    set = new Set([...REPLACED, ...drop]);
    dropSets.set(drop, set);
  }
  return set;
}

/** The headers of the request we send upstream. */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, ctx: ForwardingContext): HeaderMap {
  const out: HeaderMap = { host: ctx.authority };
  copyHeaders(incoming, dropSetOf(ctx.drop), out);
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
    if (out.tracestate !== undefined) delete out.tracestate;
  }
  if (ctx.set !== undefined) for (const k in ctx.set) out[k] = ctx.set[k]!;
  return out;
}

/** The headers of the response we send back to the caller. */
export function downstreamResponseHeaders(upstream: IncomingHttpHeaders | HeaderMap, requestId: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  copyHeaders(upstream, NOTHING, out);
  out[REQUEST_ID_HEADER] = requestId;
  return out;
}

/** Mesh control headers a caller must not smuggle to the app. */
export const MESH_REQUEST_HEADERS = [INSTANCE_HEADER, TIMEOUT_HEADER] as const;
