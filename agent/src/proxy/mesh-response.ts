/**
 * Responses the mesh generates itself. Every one carries `x-weft-error:
 * <code>` (stable codes from @weft/shared), `content-type: text/plain` and a
 * one-line body that names the service or endpoint involved, so a caller
 * never sees a bare 502/503 and can tell a mesh failure from an app failure.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ERROR_HEADER, MeshErrorCode, meshHttpStatus, messageOf, REQUEST_ID_HEADER } from '@weft/shared';
import { isTlsConnectFailure } from '../http1/errors.js';
import type { Http1Request, Http1Response } from '../http1/server-message.js';
import { errorCode, type FailureKind } from './forward.js';

export function meshStatus(code: MeshErrorCode): number {
  return meshHttpStatus(code);
}

/**
 * Answers `res` with a mesh error. If the response has already started (an
 * upstream failed mid-body), the only honest signal left is to cut the
 * connection, so the client sees a truncated response instead of a valid one.
 */
export function sendMeshError(
  res: Http1Response,
  code: MeshErrorCode,
  message: string,
  requestId?: string,
  status?: number,
  extra?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.writableEnded || res.destroyed) return;
  const body = `${message}\n`;
  const headers: Record<string, string | number> = {
    [ERROR_HEADER]: code,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  };
  if (requestId) headers[REQUEST_ID_HEADER] = requestId;
  if (extra !== undefined) Object.assign(headers, extra);
  res.writeHead(status ?? meshStatus(code), headers);
  res.end(body);
}

/**
 * The same answer written raw on a socket, for requests that never become an
 * exchange (CONNECT, heads refused by the parser, slow clients). `status` may differ from the code's usual
 * status (CONNECT is a 405 with code bad_request); the connection is closed. `detail` follows the code in
 * x-weft-error as on HTTP answers (respond.ts): "forbidden; policy=orders/1".
 */
export function writeRawMeshError(
  socket: Socket,
  status: number,
  code: MeshErrorCode,
  message: string,
  extraLines = '',
  detail?: string,
): void {
  const body = `${message}\n`;
  const reason = STATUS_CODES[status] ?? 'Error';
  const noted = detail === undefined ? code : `${code}; ${detail}`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n${ERROR_HEADER}: ${noted}\r\n${extraLines}content-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Splits an x-weft-error value into its code and the detail after "; "
 * ("forbidden; policy=orders/1" -> forbidden, policy=orders/1).
 */
export function splitErrorField(value: string): { code: string; detail?: string } {
  const semi = value.indexOf(';');
  if (semi < 0) return { code: value.trim() };
  const detail = value.slice(semi + 1).trim();
  return detail === '' ? { code: value.slice(0, semi).trim() } : { code: value.slice(0, semi).trim(), detail };
}

/** The mesh code for a try that produced no response (`aborted` has none: nobody is left to answer). */
export function failureCode(kind: Exclude<FailureKind, 'aborted'>): MeshErrorCode {
  switch (kind) {
    case 'connect':
      return MeshErrorCode.upstreamConnectFailed;
    case 'timeout':
      return MeshErrorCode.upstreamTimeout;
    case 'invalid':
      return MeshErrorCode.badRequest;
    case 'refused':
      return MeshErrorCode.forbidden;
    case 'reset':
    case 'stale':
    case 'unsent':
      return MeshErrorCode.upstreamReset;
    case 'protocol':
      return MeshErrorCode.upstreamProtocolError;
    case 'upgrade':
      return MeshErrorCode.upgradeNotSupported;
  }
}

/** One readable line for a failed try; `target` names the endpoint ("instance orders-1 at 10.0.0.5:8080"). */
export function failureMessage(kind: Exclude<FailureKind, 'aborted'>, target: string, budgetMs: number, error: unknown): string {
  // The codec's own failures (a peer that is not the agent we meant, a failed TLS handshake) say more than their code.
  const why = isTlsConnectFailure(error) ? error.message : (errorCode(error) ?? messageOf(error));
  switch (kind) {
    case 'connect':
      return `${target}: connection failed (${why})`;
    case 'timeout':
      return `${target}: no response within the ${budgetMs} ms deadline`;
    case 'invalid':
      return `${target}: request cannot be forwarded (${messageOf(error)})`;
    case 'refused':
      return `${target}: refused by access policy (${messageOf(error)})`;
    case 'reset':
      return `${target}: connection closed before a response (${why})`;
    case 'stale':
      return `${target}: reused connection closed by the server as the request was sent (${why}); not re-sent: the request is not idempotent`;
    case 'unsent':
      return `${target}: connection closed before the request was sent (${why})`;
    case 'protocol':
      return `${target}: invalid HTTP/1.1 response (${messageOf(error)}); the connection was closed`;
    case 'upgrade':
      return `${target}: switched protocols (101) although the request did not ask to upgrade`;
  }
}

/**
 * Before answering early (no upstream read the body), make sure the rest of
 * the request body cannot wedge the connection: close it after the answer
 * and drop whatever the client still sends.
 */
export function releaseRequestBody(req: Http1Request, res: Http1Response): void {
  if (req.complete) return;
  if (!res.headersSent) res.setHeader('connection', 'close');
  req.discardBody();
}
