/**
 * The node:http server both listeners run on, with the lifecycle the agent
 * needs: bounded header/request timeouts, a keep-alive timeout longer than
 * our upstream pools' (4 s) so peers close idle sockets first, in-flight
 * request tracking, and a close() that stops accepting, lets running requests
 * finish (bounded), then cuts what is left and runs `onClosed` (pool cleanup).
 * The handler never throws: anything it rejects with is logged and answered.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, MeshErrorCode, messageOf } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { sendMeshError } from './mesh-response.js';

export interface RequestContext {
  /** Aborted when the client disconnects before the response is complete. */
  clientGone: AbortSignal;
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
}

export const DRAIN_TIMEOUT_MS = 10_000;

export async function startListenerServer(opts: ListenerServerOptions): Promise<Listener> {
  const { logger } = opts;
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const server = createServer((req, res) => {
    inFlight++;
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    // While draining, every response closes its connection so keep-alive clients move on.
    if (draining) res.setHeader('connection', 'close');
    opts.handler(req, res, { clientGone: gone.signal }).catch((err: unknown) => {
      logger.error('request handler failed', { listener: opts.name, err: messageOf(err), code: 'internal' });
      sendMeshError(res, MeshErrorCode.internal, `${opts.name}: internal error handling the request: ${messageOf(err)}`);
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 300_000;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (err, socket) => {
    if (!socket.writable) return socket.destroy();
    logger.debug('client error', { listener: opts.name, err: messageOf(err) });
    socket.end(
      'HTTP/1.1 400 Bad Request\r\nx-weft-error: bad_request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nmalformed HTTP request\n',
    );
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
