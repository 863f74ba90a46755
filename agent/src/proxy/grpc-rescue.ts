/**
 * The mesh's own answers on an HTTP/2 stream, next to respond.ts (the
 * HTTP/1.1 rescue): one function per direction writes every answer the mesh
 * makes itself. On a gRPC request the answer is a gRPC answer, so a gRPC
 * client sees a status it understands: trailers-only (one HEADERS frame
 * that ends the stream, :status 200) with `grpc-status` from the one table
 * in grpc-status.ts, `grpc-message` with the readable text, and
 * `x-weft-error` with the stable code. Other HTTP/2 requests get the
 * HTTP/1.1 answer's shape: the code's status, x-weft-error, a text body.
 * Inbound marks its own answers with x-weft-answered-by (respond.ts says why).
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { ANSWERED_BY_HEADER, ERROR_HEADER, type MeshErrorCode, meshHttpStatus, REQUEST_ID_HEADER } from '@weft/shared';
import { H2Error } from '@weft/shared/http2-codec/frames';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import { encodeGrpcMessage, GRPC_MESSAGE_HEADER, GRPC_STATUS_HEADER, grpcStatusOf } from './grpc-status.js';
import type { PolicyAnswer } from './route-policy.js';

/** Writes the mesh's own answer for `code` on `stream`, or resets the stream when the answer has started. */
export type H2Rescue = (stream: H2ServerStream, grpc: boolean, code: MeshErrorCode, message: string, requestId: string) => void;

/** The trailers that end a gRPC call with a mesh failure (trailers-only when nothing was sent yet, else real trailers). */
export function grpcFailureFields(code: string, message: string, httpStatus?: number): OutgoingHttpHeaders {
  return {
    [GRPC_STATUS_HEADER]: String(grpcStatusOf(code, httpStatus)),
    [GRPC_MESSAGE_HEADER]: encodeGrpcMessage(message),
    [ERROR_HEADER]: code,
  };
}

function writeAnswer(
  stream: H2ServerStream,
  grpc: boolean,
  code: string,
  message: string,
  requestId: string,
  status: number,
  extra: OutgoingHttpHeaders | undefined,
): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(H2Error.INTERNAL_ERROR);
    return;
  }
  if (grpc) {
    const headers: OutgoingHttpHeaders = {
      ':status': 200,
      'content-type': 'application/grpc',
      ...extra,
      ...grpcFailureFields(code, message, status),
    };
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    stream.respond(headers, { endStream: true });
    return;
  }
  const body = `${message}\n`;
  const headers: OutgoingHttpHeaders = {
    ':status': status,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extra,
    [ERROR_HEADER]: code,
  };
  if (requestId) headers[REQUEST_ID_HEADER] = requestId;
  stream.respond(headers);
  stream.end(body);
}

export const h2OutboundRescue: H2Rescue = (stream, grpc, code, message, requestId) => {
  writeAnswer(stream, grpc, code, message, requestId, meshHttpStatus(code), undefined);
};

export function h2InboundRescue(agentId: string): H2Rescue {
  const mark = { [ANSWERED_BY_HEADER]: `agent/${agentId}` };
  return (stream, grpc, code, message, requestId) => {
    writeAnswer(stream, grpc, code, message, requestId, meshHttpStatus(code), mark);
  };
}

const NOT_FORWARDED = new Set(['content-length', 'connection', 'transfer-encoding', 'keep-alive', ERROR_HEADER]);

/** The traffic policy's own answer (rate limit, fault, redirect, direct response); on gRPC, its status mapped (429 -> RESOURCE_EXHAUSTED by its code). */
export function sendH2PolicyAnswer(stream: H2ServerStream, grpc: boolean, answer: PolicyAnswer, requestId: string): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const extra: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(answer.headers)) if (!NOT_FORWARDED.has(k.toLowerCase())) extra[k.toLowerCase()] = v;
  const errorField = answer.headers[ERROR_HEADER];
  if (grpc) {
    const fields = grpcFailureFields(answer.code, answer.body || answer.code, answer.status);
    const headers: OutgoingHttpHeaders = { ':status': 200, 'content-type': 'application/grpc', ...extra, ...fields };
    // The policy's x-weft-error names its rule or limit (`rate_limited; limit=orders`): kept as it is.
    if (errorField !== undefined) headers[ERROR_HEADER] = errorField;
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    stream.respond(headers, { endStream: true });
    return;
  }
  const headers: OutgoingHttpHeaders = { ':status': answer.status, ...extra, 'content-length': Buffer.byteLength(answer.body) };
  if (errorField !== undefined) headers[ERROR_HEADER] = errorField;
  if (requestId) headers[REQUEST_ID_HEADER] = requestId;
  stream.respond(headers);
  stream.end(answer.body);
}
