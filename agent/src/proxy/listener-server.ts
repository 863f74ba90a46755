/**
 * The node:http server both listeners run on, with the lifecycle the agent
 * needs: bounded header/request timeouts, a keep-alive timeout longer than
 * our upstream pools' (4 s) so peers close idle sockets first, in-flight
 * request tracking, and a close() that stops accepting, lets running requests
 * finish (bounded), then cuts what is left and runs `onClosed` (pool cleanup).
 * The handler never throws: anything it rejects with is logged and answered.
 *
 * Protection (ListenerLimits, defaults in resilience-options.ts): node's
 * parser enforces the head size, the framing rules against request smuggling
 * and the slow-client timeouts; request-guard.ts adds header count and Host
 * checks. Every such refusal carries x-weft-error (bad_request) and a body,
 * including those node makes before a request exists (clientError).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Logger, MeshErrorCode, messageOf } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { ClientLink, type GoneSignal } from './client-link.js';
import { releaseRequestBody, sendMeshError, writeRawMeshError } from './mesh-response.js';
import { checkRequestHead } from './request-guard.js';
import { DEFAULT_LISTENER_LIMITS, type ListenerLimits } from './resilience-options.js';

export interface RequestContext {
  /** Aborted when the client disconnects before the response is complete. */
  clientGone: GoneSignal;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

export interface ListenerServerOptions {
  name: string;
  host: string;
  port: number;
  logger: Logger;
  handler: RequestHandler;
  /** Called after in-flight requests drained (or the drain timed out). `graceful` is false after a timeout. */
  onClosed: (graceful: boolean) => Promise<void>;
  drainTimeoutMs?: number;
  /** Extra setup on the server (e.g. a CONNECT handler). */
  configure?: (server: Server) => void;
  limits?: Partial<ListenerLimits>;
}

/** The answer to a request node's parser refused (no ServerResponse exists for it). */
function clientErrorAnswer(err: Error & { code?: string }, limits: ListenerLimits): { status: number; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: `request head larger than ${limits.maxHeaderBytes} bytes` };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        message: `request not received in time (head within ${limits.headersTimeoutMs} ms, whole request within ${limits.requestReadTimeoutMs} ms)`,
      };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { status: 400, message: `ambiguous request framing (${err.message}); refused to prevent request smuggling` };
    default:
      return { status: 400, message: `malformed HTTP request (${err.code ?? err.message})` };
  }
}

export const DRAIN_TIMEOUT_MS = 10_000;

export async function startListenerServer(opts: ListenerServerOptions): Promise<Listener> {
  const { logger } = opts;
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const limits: ListenerLimits = { ...DEFAULT_LISTENER_LIMITS, ...opts.limits };
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestReadTimeoutMs, limits.headersTimeoutMs),
      connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
      // Checked by request-guard.ts, so the answer carries x-weft-error.
      requireHostHeader: false,
    },
    (req, res) => {
      inFlight++;
      // A plain flag object, not an AbortController (see client-link.ts): this runs for every request.
      const gone = new ClientLink();
      // 'close' is emitted once; on() spares once()'s wrapper.
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
        inFlight--;
        if (inFlight === 0) drained?.();
      });
      // While draining, every response closes its connection so keep-alive clients move on.
      if (draining) res.setHeader('connection', 'close');
      const refused = checkRequestHead(req, limits.maxHeaderCount);
      if (refused !== undefined) {
        logger.debug('request refused', { listener: opts.name, code: MeshErrorCode.badRequest, detail: refused.message });
        res.setHeader('connection', 'close');
        releaseRequestBody(req, res);
        sendMeshError(res, MeshErrorCode.badRequest, refused.message, undefined, refused.status);
        return;
      }
      opts.handler(req, res, { clientGone: gone }).catch((err: unknown) => {
        logger.error('request handler failed', { listener: opts.name, err: messageOf(err), code: 'internal' });
        sendMeshError(res, MeshErrorCode.internal, `${opts.name}: internal error handling the request: ${messageOf(err)}`);
      });
    },
  );
  // node stops storing header fields past maxHeadersCount; one more than the limit is enough to see it was exceeded.
  server.maxHeadersCount = limits.maxHeaderCount + 1;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    // A response already on its way on this connection cannot be followed by another head.
    const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (!socket.writable || err.code === 'ECONNRESET' || inProgress) return socket.destroy();
    const answer = clientErrorAnswer(err, limits);
    logger.debug('client error', { listener: opts.name, err: messageOf(err), status: answer.status });
    socket.on('error', () => {});
    writeRawMeshError(socket, answer.status, MeshErrorCode.badRequest, answer.message);
  });
  opts.configure?.(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drainTimeoutMs = opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
      let graceful = true;
      if (inFlight > 0) {
        let timer: NodeJS.Timeout | undefined;
        graceful = await new Promise<boolean>((resolve) => {
          drained = () => resolve(true);
          timer = setTimeout(() => resolve(false), drainTimeoutMs);
        });
        clearTimeout(timer);
        if (!graceful) logger.warn('drain timed out, closing remaining requests', { listener: opts.name, inFlight });
      }
      server.closeAllConnections();
      await serverClosed;
      await opts.onClosed(graceful);
    })();
    return closing;
  };

  return { port: bound.port, address: bound.address, close };
}
