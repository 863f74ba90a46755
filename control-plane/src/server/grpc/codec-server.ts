/**
 * The control plane's gRPC server, on Weft's own HTTP/2 codec
 * (shared/src/http2-codec/) instead of grpc-js's server on node:http2.
 *
 * Why: every agent holds one connection with a discovery stream open for
 * as long as it runs, and registrations arrive as unary calls. With
 * node:http2 each connection costs ~25 KiB of nghttp2 state plus grpc-js's
 * objects, and each call's stream objects survive V8's young-generation
 * collections (docs/protocols.md, "The HTTP/2 codec"); the codec's
 * connection and stream are plain objects, which is what the control plane
 * needs at thousands of agents (bench/results/control-plane-replicas.md).
 *
 * What it offers is what the control plane's services use: unary and
 * bidirectional-streaming methods described by grpc-js service definitions
 * (generated from proto/weft/v1 by proto-loader, so serialisation is
 * unchanged), handlers with grpc-js's calling convention (calls.ts states the
 * subset), plaintext or TLS with optional client certificates, keep-alive
 * PINGs that find dead peers, and a graceful close (GOAWAY, then cut what is
 * left after the grace time). Not offered, because no client of the control
 * plane uses them: compression (a compressed message is refused with
 * UNIMPLEMENTED), client- or server-only streaming methods.
 */
import type { IncomingHttpHeaders } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@weft/shared';
import { GRPC_TIMEOUT_HEADER, isGrpcContentType } from '@weft/shared/grpc-wire';
import { closeConnections } from '@weft/shared/http2-codec/close-connections';
import { H2Connection, type H2ConnectionSettings } from '@weft/shared/http2-codec/connection';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import type { ServerTlsMaterial } from '../../ca/server-identity.js';
import { DuplexCall, type MethodCodec, UnaryCall } from './calls.js';
import { type CallStatus, GRPC_CONTENT_TYPE, type GrpcWireError, grpcDeadlineMs, statusFields } from './wire.js';

/** Windows sized for small control messages; a stream may still carry a 4 MiB request without stalling on credit. */
const SETTINGS: H2ConnectionSettings = {
  initialWindowSize: 1024 * 1024,
  connectionWindowSize: 4 * 1024 * 1024,
  maxConcurrentStreams: 1000,
  maxFrameSize: 64 * 1024,
  maxHeaderListSize: 64 * 1024,
  streamWriteBuffer: 256 * 1024,
};

export interface GrpcCodecServerOptions {
  logger: Logger;
  /** TLS on the port (`ca`: what client certificates are verified against; one is requested, not required); plaintext when omitted. */
  tls?: ServerTlsMaterial;
  /** Keep-alive: every connection is PINGed this often (default 20 s)... */
  keepaliveMs?: number;
  /** ...and closed when the PING is not answered within this (default 10 s). */
  keepaliveTimeoutMs?: number;
}

/** A grpc-js style handler: (call) for a streaming method, (call, callback) for a unary one. */
type Handler = (call: UnaryCall | DuplexCall, callback?: (err: CallStatus | null, value?: unknown) => void) => void;

interface Route {
  method: MethodCodec;
  handler: Handler;
}

export class GrpcCodecServer {
  private readonly routes = new Map<string, Route>();
  private readonly connections = new Set<H2Connection>();
  private server: Server | undefined;
  private closing = false;
  private readonly log: Logger;

  constructor(private readonly opts: GrpcCodecServerOptions) {
    this.log = opts.logger.child({ component: 'grpc' });
  }

  /** Serves the methods of a grpc-js service definition with `handlers` (keyed by method name, as grpc-js's addService). */
  addService(definition: grpc.ServiceDefinition, handlers: object): void {
    for (const [name, method] of Object.entries(definition)) {
      const handler = (handlers as Record<string, unknown>)[name];
      if (!handler) continue; // a path with no handler answers UNIMPLEMENTED
      if (method.requestStream !== method.responseStream)
        throw new Error(`${method.path}: only unary and bidirectional-streaming methods are served`);
      this.routes.set(method.path, { method: method as unknown as MethodCodec, handler: handler as Handler });
    }
  }

  /** Listens on host:port (0 = chosen by the OS); resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    // A client certificate is requested, not required: Trust.Enrol is the one call allowed without one (authz.ts),
    // and only a certificate the handshake verified counts (calls.ts getAuthContext). TLS 1.3 only, as the mesh hop.
    const server = this.opts.tls
      ? createTlsServer(
          { ...this.opts.tls, ALPNProtocols: ['h2'], requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' },
          (socket) => this.accept(socket),
        )
      : createNetServer((socket) => this.accept(socket));
    if (this.opts.tls) server.on('tlsClientError', (err: Error) => this.log.debug('TLS handshake failed', { err: err.message }));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error('gRPC listener error', { err }));
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  /** New certificate or CA bundle for connections made from now on (renewal, CA rotation). */
  setTls(tls: ServerTlsMaterial): void {
    (this.server as ReturnType<typeof createTlsServer> | undefined)?.setSecureContext?.({ ...tls });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: Socket | TLSSocket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn = new H2Connection({
      role: 'server',
      socket,
      settings: SETTINGS,
      onStream: (stream, headers) => this.onStream(stream, headers),
    });
    this.connections.add(conn);
    conn.on('error', (err: Error) => this.log.debug('gRPC connection error', { err: err.message }));
    conn.once('close', () => this.connections.delete(conn));
    this.keepAlive(conn);
  }

  /**
   * PINGs each connection every keepaliveMs whether or not it is busy (a server that keeps writing to a
   * vanished peer sees no socket error until the kernel gives up); no answer in time ends the connection,
   * and its calls see 'cancelled'. One timer per connection spreads the PINGs over time.
   */
  private keepAlive(conn: H2Connection): void {
    const answerMs = this.opts.keepaliveTimeoutMs ?? 10_000;
    const timer = setInterval(() => {
      void conn.ping(answerMs).then((answered) => {
        if (answered || conn.destroyed) return;
        this.log.info('peer did not answer a keep-alive PING; closing its connection', { peer: conn.socket.remoteAddress });
        conn.destroy();
      });
    }, this.opts.keepaliveMs ?? 20_000);
    timer.unref();
    conn.once('close', () => clearInterval(timer));
  }

  private onStream(stream: H2ServerStream, headers: IncomingHttpHeaders): void {
    const refuse = (status: CallStatus) =>
      stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, ...statusFields(status) }, { endStream: true });
    if (headers[':method'] !== 'POST' || !isGrpcContentType(headers['content-type'])) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: false });
      stream.end(`this port speaks gRPC only (POST with content-type ${GRPC_CONTENT_TYPE})\n`);
      return;
    }
    const path = headers[':path'] ?? '';
    const route = this.routes.get(path);
    if (!route) {
      refuse({ code: grpc.status.UNIMPLEMENTED, details: `unknown method ${path}` });
      return;
    }
    let timeoutMs: number | undefined;
    try {
      timeoutMs = grpcDeadlineMs(headers[GRPC_TIMEOUT_HEADER]);
    } catch (err) {
      refuse({ code: (err as GrpcWireError).code, details: (err as Error).message });
      return;
    }
    if (route.method.requestStream) {
      const call = new DuplexCall(stream, headers, route.method, timeoutMs);
      // No callback: a streaming handler ends the call through the call itself (calls.ts), and wrappers tell the kinds apart by it.
      this.run(() => route.handler(call), call);
    } else {
      // The handler runs once the request message arrived (calls.ts).
      new UnaryCall(stream, headers, route.method, timeoutMs, (call, callback) => this.run(() => route.handler(call, callback), call));
    }
  }

  /** A handler that throws is a bug; the call ends with INTERNAL and the server goes on. */
  private run(fn: () => void, call: { sendStatus(s: CallStatus): void }): void {
    try {
      fn();
    } catch (err) {
      this.log.error('gRPC handler threw', { err });
      call.sendStatus({ code: grpc.status.INTERNAL, details: 'internal error' });
    }
  }

  /**
   * Graceful close: no new connections, GOAWAY on each (open calls finish; the owner ends long-lived
   * streams itself), then connections still open after `graceMs` are cut.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const listener = this.server;
    const stopped = new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
    await closeConnections(this.connections, graceMs);
    await stopped;
  }
}
