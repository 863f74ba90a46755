/**
 * Header fields across an HTTP/2 hop. Requests keep every field of the
 * client's except the connection-specific ones (RFC 9113 §8.2.2: node
 * refuses to send them) and the mesh's own control fields, which only the
 * agents set: which instance (x-weft-instance), how long the caller waits
 * (x-weft-timeout-ms) and, for gRPC, the caller's deadline (grpc-timeout),
 * passed on reduced by the time already spent. Responses keep every field
 * except connection-specific ones; the inbound side also drops
 * x-weft-answered-by from an app's answer (only the agent's own answers
 * carry it, peer-answer.ts).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { ANSWERED_BY_HEADER, INSTANCE_HEADER, REQUEST_ID_HEADER } from '@weft/shared';
import { GRPC_TIMEOUT_HEADER } from './grpc-status.js';
import { TIMEOUT_HEADER } from './headers.js';
import type { HeaderEdits } from './route-policy.js';

const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  // The local app's proxy credential (proxy-auth.ts): read by its agent, never passed on.
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);
const MESH_CONTROL = new Set([INSTANCE_HEADER, TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER, REQUEST_ID_HEADER, ANSWERED_BY_HEADER]);

export interface H2RequestShape {
  method: string;
  path: string;
  authority: string;
  requestId: string;
  clientAddress: string | undefined;
  /** First hop (outbound): x-forwarded-for starts here. */
  edits?: HeaderEdits | undefined;
  /** The traceparent to send (the access log sampled the request: pipeline-h2.ts); absent: the caller's goes on as it is. */
  traceparent?: string | undefined;
}

/** The request fields for the upstream (without this try's mesh control fields, which the try adds). */
export function h2UpstreamRequestHeaders(incoming: IncomingHttpHeaders, shape: H2RequestShape): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': shape.method,
    ':path': shape.path,
    ':scheme': 'http',
    ':authority': shape.authority,
  };
  for (const name of Object.keys(incoming)) {
    if (name.charCodeAt(0) === 58 /* ':' */ || CONNECTION_SPECIFIC.has(name) || MESH_CONTROL.has(name)) continue;
    if (name === 'te') {
      // The one TE value HTTP/2 allows, and gRPC requires.
      if (incoming.te === 'trailers') out.te = 'trailers';
      continue;
    }
    out[name] = incoming[name];
  }
  out[REQUEST_ID_HEADER] = shape.requestId;
  if (shape.traceparent !== undefined && shape.traceparent !== incoming.traceparent) {
    // A new trace: the caller's tracestate belonged to a trace we do not continue.
    out.traceparent = shape.traceparent;
    delete out.tracestate;
  }
  if (shape.clientAddress !== undefined) {
    const prior = incoming['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${prior}, ${shape.clientAddress}` : shape.clientAddress;
  }
  const edits = shape.edits;
  if (edits !== undefined) {
    for (const name of edits.remove ?? []) delete out[name];
    if (edits.set !== undefined) for (const [k, v] of Object.entries(edits.set)) out[k] = v;
  }
  return out;
}

/** The response fields for the client: `:status` and every field but connection-specific ones (and, when `dropMark`, x-weft-answered-by). */
export function h2DownstreamResponseHeaders(incoming: IncomingHttpHeaders, requestId: string, dropMark: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': incoming[':status'] ?? 200 };
  for (const name of Object.keys(incoming)) {
    if (name.charCodeAt(0) === 58 || CONNECTION_SPECIFIC.has(name)) continue;
    if (dropMark && name === ANSWERED_BY_HEADER) continue;
    out[name] = incoming[name];
  }
  if (out[REQUEST_ID_HEADER] === undefined && requestId) out[REQUEST_ID_HEADER] = requestId;
  return out;
}

/** Trailer fields for the client (connection-specific ones dropped, and x-weft-answered-by from apps). */
export function h2Trailers(incoming: IncomingHttpHeaders | undefined, dropMark: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (incoming === undefined) return out;
  for (const name of Object.keys(incoming)) {
    if (name.charCodeAt(0) === 58 || CONNECTION_SPECIFIC.has(name)) continue;
    if (dropMark && name === ANSWERED_BY_HEADER) continue;
    out[name] = incoming[name];
  }
  return out;
}
