/**
 * Header hygiene for both hops. Hop-by-hop headers (RFC 9110 §7.6.1) belong to
 * one connection and are removed in both directions, together with any header
 * named in `Connection`. Forwarding headers from outside the mesh are
 * replaced, not trusted: at the first hop (a local app calling out)
 * x-forwarded-for/-proto/-host and Forwarded are dropped and the agent's own
 * set; between agents they are carried. A request id and a W3C traceparent
 * are carried unchanged, or created when the caller sent none. The mesh's
 * own marker on answers (x-weft-answered-by) never passes on from an upstream.
 */
import { randomUUID } from 'node:crypto';
import { ANSWERED_BY_HEADER, INSTANCE_HEADER, REQUEST_ID_HEADER } from '@weft/shared';
import { type HeaderMap, isField } from '../http1/head-parser.js';
import type { OutgoingHeaders } from '../http1/head-writer.js';

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

export type { HeaderMap };
/** Request headers as received (node:http's IncomingHttpHeaders fits too). */
export type IncomingHeaders = Record<string, string | string[] | undefined>;

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

const PLAIN_CONNECTION: ReadonlySet<unknown> = new Set(['keep-alive', 'close', 'Keep-Alive', 'Close']);

/**
 * Copies `headers` into `out` without hop-by-hop headers and those named in
 * Connection (one pass, one Set lookup per header, no parsing when there is
 * no Connection header, which is the usual case).
 */
function copyHeaders(headers: IncomingHeaders, out: HeaderMap | OutgoingHeaders): void {
  const connection = headers.connection;
  // `keep-alive` / `close` (what node and most servers send) name no header beyond the hop-by-hop ones.
  const named = connection === undefined || PLAIN_CONNECTION.has(connection as string) ? undefined : connectionTokens(connection);
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined) continue;
    const k = key.toLowerCase();
    if (HOP_BY_HOP.has(k) || named?.has(k) || k === ANSWERED_BY_HEADER) continue;
    out[k] = value;
  }
}

/** A copy of `headers` without hop-by-hop headers (and those named in Connection). */
export function stripHopByHop(headers: IncomingHeaders): HeaderMap {
  const out: HeaderMap = {};
  copyHeaders(headers, out);
  return out;
}

/** 0 when s[from, to) is lowercase hex and all zeros, 1 when hex and not all zeros, -1 when not hex. */
function hexRun(s: string, from: number, to: number): number {
  let nonZero = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 48) continue;
    if ((c > 48 && c <= 57) || (c >= 97 && c <= 102)) nonZero = 1;
    else return -1;
  }
  return nonZero;
}

/**
 * True for a traceparent we may carry: well-formed
 * (`vv-<32 hex>-<16 hex>-ff`, lowercase, an optional `-...` suffix), version
 * not ff, no suffix for version 00, ids not all zero. Checked by hand (runs
 * for every request on both hops): no regex match arrays.
 */
export function isValidTraceparent(value: string): boolean {
  const n = value.length;
  if (n < 55 || value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return false;
  const version = hexRun(value, 0, 2);
  if (version < 0 || value.startsWith('ff') || hexRun(value, 53, 55) < 0) return false;
  if (n > 55) {
    if (value.charCodeAt(55) !== 45 || value.startsWith('00')) return false;
    // The regex this replaces allowed any suffix without line terminators.
    for (let i = 56; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return false;
    }
  }
  return hexRun(value, 3, 35) === 1 && hexRun(value, 36, 52) === 1;
}

/**
 * Random bytes for trace ids, refilled 4 KiB at a time (every 170 traces).
 * Trace and span ids must be unique and unpredictable enough not to collide,
 * not secret (W3C Trace Context; OpenTelemetry SDKs use non-cryptographic
 * generators too): the buffer is filled from V8's xorshift128+ (Math.random,
 * seeded by the OS), which costs a fraction of randomFillSync's CSPRNG.
 */
const entropy = Buffer.allocUnsafe(4096);
let entropyAt = entropy.length;

function refillEntropy(): void {
  for (let i = 0; i < entropy.length; i += 4) entropy.writeUInt32LE((Math.random() * 0x1_0000_0000) >>> 0, i);
  entropyAt = 0;
}

export function newTraceparent(): string {
  if (entropyAt + 24 > entropy.length) refillEntropy();
  const at = entropyAt;
  entropyAt += 24;
  return `00-${entropy.toString('hex', at, at + 16)}-${entropy.toString('hex', at + 16, at + 24)}-01`;
}

export function newRequestId(): string {
  return randomUUID();
}

/** The caller's request id (its x-request-id value), or a new one when absent or unreasonable (too long, control characters). */
export function requestIdOf(value: string | undefined): string {
  const v = value?.trim();
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
  /** Headers to set (a policy rule's request edits, lowercase names); they replace any value the caller sent or the agent added. */
  set?: Readonly<Record<string, string>>;
  /** Headers to remove (lowercase names), whoever sent or added them. */
  remove?: readonly string[];
  /** The traceparent to start when the caller sent no valid one (the access log fixed it: Exchange.traceparent); default: a new one. */
  traceparent?: string;
}

/** Dropped from every upstream request besides hop-by-hop ones: `expect: 100-continue` was answered by our own server already. */
const REPLACED = ['host', 'expect'];
const REPLACED_ONLY: ReadonlySet<string> = new Set(REPLACED);

/** The headers of the response we send back to the caller. */
export function downstreamResponseHeaders(upstream: IncomingHeaders, requestId: string): OutgoingHeaders {
  const out: OutgoingHeaders = {};
  copyHeaders(upstream, out);
  out[REQUEST_ID_HEADER] = requestId;
  return out;
}

/** Mesh control headers a caller must not smuggle to the app. */
export const MESH_REQUEST_HEADERS = [INSTANCE_HEADER, TIMEOUT_HEADER] as const;

/** Header lines ready for a head (`name: value\r\n` each) and whether they carry a content-length. */
export interface HeadLines {
  lines: string;
  hasLength: boolean;
  /** The Content-Length value when known while the lines were built (so the writer need not search the lines for it). */
  length?: number;
}

/** Lengths of the hop-by-hop names and of x-request-id: any other name needs no string work below. */
const SKIP_LENGTHS = new Set([...HOP_BY_HOP, REQUEST_ID_HEADER, ANSWERED_BY_HEADER].map((n) => n.length));

/**
 * downstreamResponseHeaders for a received response's raw fields, written
 * straight out as lines (names keep their case): the usual response needs
 * no map and no second pass. `connection` is the Connection field when the
 * caller knows it (undefined: none), '' to look it up here.
 */
export function downstreamResponseLines(raw: readonly string[], requestId: string, connection: string | undefined = ''): HeadLines {
  // The Connection field as the parser found it (joined when repeated); '' = not known: look it up.
  let conn: string | undefined = connection;
  if (conn === '') {
    conn = undefined;
    for (let i = 0; i < raw.length; i += 2)
      if (isField(raw[i]!, 'connection')) conn = conn === undefined ? raw[i + 1] : `${conn}, ${raw[i + 1]}`;
  }
  const named = conn === undefined || PLAIN_CONNECTION.has(conn) ? undefined : connectionTokens(conn);
  let lines = '';
  let hasLength = false;
  let length: number | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (named !== undefined || SKIP_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || named?.has(lower) || lower === REQUEST_ID_HEADER || lower === ANSWERED_BY_HEADER) continue;
    }
    if (!hasLength && isField(name, 'content-length')) {
      hasLength = true;
      // The parser accepted it, so it is a plain decimal (one value: differing ones are a protocol error).
      length = Number(raw[i + 1]);
    }
    lines += `${name}: ${raw[i + 1]}\r\n`;
  }
  lines += `${REQUEST_ID_HEADER}: ${requestId}\r\n`;
  return { lines, hasLength, length };
}

/** Lengths of the names upstreamRequestLines looks at: any other name is copied without string work. */
const REQUEST_LOOK_LENGTHS = new Set(
  [
    ...HOP_BY_HOP,
    ...REPLACED,
    ...MESH_REQUEST_HEADERS,
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-forwarded-host',
    'forwarded',
    REQUEST_ID_HEADER,
    TRACEPARENT_HEADER,
    'tracestate',
  ].map((n) => n.length),
);

/**
 * The head of the request we send upstream, written straight from the
 * received raw fields (names keep their case): one pass, no map. Hop-by-hop
 * headers and those named in Connection go, and so do the mesh control
 * headers (MESH_REQUEST_HEADERS: the try adds its own); forwarding headers
 * from a local app are replaced (first hop), a peer agent's are appended to; a
 * valid traceparent is carried, else a new trace starts. Host comes first
 * (RFC 9112 §3.2).
 */
export function upstreamRequestLines(raw: readonly string[], ctx: ForwardingContext): HeadLines {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (!isField(raw[i]!, 'connection')) continue;
    const value = raw[i + 1]!;
    if (PLAIN_CONNECTION.has(value)) continue;
    named ??= new Set();
    for (const t of connectionTokens(value)) named.add(t);
  }
  let lines = `host: ${ctx.authority}\r\n`;
  let hasLength = false;
  let xff: string | undefined;
  let proto = false;
  let forwardedHost = false;
  let traceparent: string | undefined;
  let tracestate = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (named !== undefined || REQUEST_LOOK_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || named?.has(lower) || REPLACED_ONLY.has(lower) || lower === REQUEST_ID_HEADER) continue;
      if (lower === INSTANCE_HEADER || lower === TIMEOUT_HEADER) continue;
      if (lower === 'x-forwarded-for') {
        if (!ctx.firstHop) xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      }
      if (lower === 'forwarded' && ctx.firstHop) continue;
      if (lower === TRACEPARENT_HEADER) {
        traceparent ??= value;
        continue;
      }
      if (lower === 'tracestate') {
        tracestate += `${name}: ${value}\r\n`;
        continue;
      }
      if (lower === 'x-forwarded-proto') {
        if (ctx.firstHop) continue;
        proto = true;
      } else if (lower === 'x-forwarded-host') {
        if (ctx.firstHop) continue;
        forwardedHost = true;
      } else if (lower === 'content-length') hasLength = true;
    } else if (!hasLength && isField(name, 'content-length')) hasLength = true;
    lines += `${name}: ${value}\r\n`;
  }
  if (ctx.clientAddress) lines += `x-forwarded-for: ${xff ? `${xff}, ${ctx.clientAddress}` : ctx.clientAddress}\r\n`;
  else if (xff !== undefined) lines += `x-forwarded-for: ${xff}\r\n`;
  if (!proto) lines += 'x-forwarded-proto: http\r\n';
  if (!forwardedHost) lines += `x-forwarded-host: ${ctx.authority}\r\n`;
  lines += `${REQUEST_ID_HEADER}: ${ctx.requestId}\r\n`;
  const tp = traceparent?.trim();
  // A new trace drops any tracestate: it belonged to a trace we cannot continue.
  if (tp !== undefined && isValidTraceparent(tp)) lines += `${TRACEPARENT_HEADER}: ${tp}\r\n${tracestate}`;
  else lines += `${TRACEPARENT_HEADER}: ${ctx.traceparent ?? newTraceparent()}\r\n`;
  if (ctx.set !== undefined || ctx.remove !== undefined) return editLines(lines, hasLength, ctx.set, ctx.remove);
  return { lines, hasLength };
}

/**
 * A policy rule's request header edits on finished lines (only for rules that
 * have them): lines named in `remove` or `set` go, then `set`'s lines are added.
 */
function editLines(
  lines: string,
  hadLength: boolean,
  set: Readonly<Record<string, string>> | undefined,
  remove: readonly string[] | undefined,
): HeadLines {
  const gone = new Set([...(remove ?? []), ...Object.keys(set ?? {})]);
  let out = '';
  let hasLength = hadLength;
  for (const line of lines.split('\r\n')) {
    if (line === '') continue;
    const name = line.slice(0, line.indexOf(':')).toLowerCase();
    if (gone.has(name)) {
      if (name === 'content-length') hasLength = false;
      continue;
    }
    out += `${line}\r\n`;
  }
  for (const name in set) {
    out += `${name}: ${set[name]}\r\n`;
    if (name === 'content-length') hasLength = true;
  }
  return { lines: out, hasLength };
}
