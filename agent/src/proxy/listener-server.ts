/**
 * The HTTP/1.1 server both listeners run on (agent/src/http1/server.ts), with
 * the lifecycle the agent needs: bounded header/request timeouts, a
 * keep-alive timeout longer than our upstream pools' (4 s) so peers close
 * idle sockets first, in-flight request tracking, and a close() that stops
 * accepting, lets running requests finish (bounded), then cuts what is left
 * and runs `onClosed` (pool cleanup). The handler never throws: anything it
 * rejects with is logged and answered.
 *
 * Protection (ListenerLimits, defaults in resilience-options.ts): the parser
 * enforces the head size and field count, the framing rules against request
 * smuggling, and the server the slow-client timeouts; request-guard.ts adds
 * the Host checks. Every such refusal carries x-weft-error (bad_request) and
 * a body, including those made before a request exists.
 */
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { getSystemErrorName } from 'node:util';
import { type Logger, MeshErrorCode, messageOf, type SourceIdentity } from '@weft/shared';
import type { Listener } from '../contracts.js';
import { Http1Server } from '../http1/server.js';
import type { ConnectRequest } from '../http1/server-connection.js';
import type { Http1Request, Http1Response, TlsSessionInfo } from '../http1/server-message.js';
import type { H2cServer } from '../http2/h2c-server.js';
import type { SourceIdentifier } from './access-policy.js';
import { ClientLink, type GoneSignal } from './client-link.js';
import { releaseRequestBody, sendMeshError, writeRawMeshError } from './mesh-response.js';
import { checkRequestHead } from './request-guard.js';
import { DEFAULT_LISTENER_LIMITS, type ListenerLimits } from './resilience-options.js';

export interface RequestContext {
  /** Aborted when the client disconnects before the response is complete. */
  clientGone: GoneSignal;
  /** Who sent the request (ListenerServerOptions.identify); undefined = not authenticated. */
  source: SourceIdentity | undefined;
}

export type RequestHandler = (req: Http1Request, res: Http1Response, ctx: RequestContext) => Promise<void>;

export interface ListenerServerOptions {
  name: string;
  host: string;
  port: number;
  logger: Logger;
  handler: RequestHandler;
  /** Called after in-flight requests drained (or the drain timed out). `graceful` is false after a timeout. */
  onClosed: (graceful: boolean) => Promise<void>;
  drainTimeoutMs?: number;
  /** Answers a CONNECT request on its socket (default: 405, the connection is closed); `connect.accept` makes it a tunnel. */
  onConnect?: (socket: Socket, target: string, connect: ConnectRequest) => void;
  limits?: Partial<ListenerLimits>;
  /** Establishes the source identity of each request from its connection; without it no source is authenticated. */
  identify?: SourceIdentifier;
  /** HTTP/2 (h2c, prior knowledge) on the same port: connections that open with the preface are handed to it. */
  h2?: H2cServer;
  /** Serve TLS (the inbound listener's mTLS); absent: plaintext. */
  tls?: ListenerTls;
}

/** TLS of a listener: its server options, and how it learns of a new certificate. */
export interface ListenerTls {
  options: TlsOptions;
  /** Calls `apply` with new context options (renewal, CA rotation); returns the unsubscribe function. */
  watch(apply: (options: SecureContextOptions) => void): () => void;
  /** An accepted TLS connection (after its handshake). */
  onConnection?(tls: TlsSessionInfo): void;
  /** A refused or failed handshake. */
  onHandshakeError?(err: Error, remoteAddress: string | undefined): void;
  /** Refuses a client certificate at the handshake (e.g. the deny list); the error is reported as a handshake failure. */
  verifyPeer?(cert: X509Certificate | undefined): Error | undefined;
}

/** Idle keep-alive connections from clients close after this long (longer than the upstream pools' 4 s). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export const DRAIN_TIMEOUT_MS = 10_000;

export async function startListenerServer(opts: ListenerServerOptions): Promise<Listener> {
  const { logger } = opts;
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const limits: ListenerLimits = { ...DEFAULT_LISTENER_LIMITS, ...opts.limits };
  const identify = opts.identify;
  const onRequest = (req: Http1Request, res: Http1Response): void => {
    inFlight++;
    // A plain flag object, not an AbortController (see client-link.ts): this runs for every request.
    const gone = new ClientLink();
    res.onClose = (finished) => {
      if (!finished) gone.abort();
      inFlight--;
      if (inFlight === 0) drained?.();
    };
    // While draining, every response closes its connection so keep-alive clients move on.
    if (draining) res.setHeader('connection', 'close');
    const refused = checkRequestHead(req);
    if (refused !== undefined) {
      logger.debug('request refused', { listener: opts.name, code: MeshErrorCode.badRequest, detail: refused.message });
      res.setHeader('connection', 'close');
      releaseRequestBody(req, res);
      sendMeshError(res, MeshErrorCode.badRequest, refused.message, undefined, refused.status);
      return;
    }
    opts.handler(req, res, { clientGone: gone, source: identify === undefined ? undefined : identify(req) }).catch((err: unknown) => {
      logger.error('request handler failed', { listener: opts.name, err: messageOf(err), code: 'internal' });
      sendMeshError(res, MeshErrorCode.internal, `${opts.name}: internal error handling the request: ${messageOf(err)}`);
    });
  };
  const server = new Http1Server({
    maxHeaderBytes: limits.maxHeaderBytes,
    maxHeaderCount: limits.maxHeaderCount,
    maxBodyBytes: limits.maxRequestBodyBytes,
    headersTimeoutMs: limits.headersTimeoutMs,
    requestTimeoutMs: Math.max(limits.requestReadTimeoutMs, limits.headersTimeoutMs),
    keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
    checkIntervalMs: limits.timeoutCheckIntervalMs,
    onRequest,
    refuse(socket, err) {
      logger.debug('client error', { listener: opts.name, status: err.status, detail: err.message });
      const code = err.status === 413 ? MeshErrorCode.bodyTooLarge : MeshErrorCode.badRequest;
      writeRawMeshError(socket, err.status, code, err.message);
    },
    onConnect(socket, target, connect) {
      if (opts.onConnect !== undefined) opts.onConnect(socket, target, connect);
      else writeRawMeshError(socket, 405, MeshErrorCode.badRequest, `CONNECT ${target}: not supported on this port`);
    },
    onHttp2: opts.h2 === undefined ? undefined : (socket, received, sharedReads) => opts.h2?.accept(socket, received, sharedReads),
    onAcceptError(errno) {
      logger.warn('cannot accept a connection', { listener: opts.name, errno, err: getSystemErrorName(errno) });
    },
    tls: opts.tls?.options,
    onTlsError: opts.tls?.onHandshakeError,
    onTlsConnection: opts.tls?.onConnection,
    verifyTlsPeer: opts.tls?.verifyPeer,
  });
  const bound = await server.listen(opts.port, opts.host);
  const unwatch = opts.tls?.watch((options) => server.setSecureContext(options));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      unwatch?.();
      draining = true;
      const serverClosed = new Promise<void>((resolve) => server.close(resolve));
      server.closeIdleConnections();
      const drainTimeoutMs = opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
      // HTTP/2 sessions get GOAWAY now and drain alongside; their sockets count for serverClosed too.
      const h2Closed = opts.h2?.close(drainTimeoutMs);
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
      await h2Closed;
      server.closeAllConnections();
      await serverClosed;
      await opts.onClosed(graceful);
    })();
    return closing;
  };

  return { port: bound.port, address: bound.address, close };
}
