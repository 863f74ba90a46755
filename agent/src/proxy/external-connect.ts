/**
 * `CONNECT host:port` on the outbound listener for hosts outside the mesh
 * (an app that sets HTTPS_PROXY and does its own TLS): a host declared by an
 * ExternalService, on its declared port, is tunnelled (the agent connects
 * and splices bytes both ways, half-closes included, and never sees inside);
 * a host nobody declared is answered `unknown_service` with how to declare
 * it. Anything else (a malformed target, a mesh service) falls through to
 * the listener's other CONNECT handling.
 */
import { connect, type Socket } from 'node:net';
import { type Logger, MeshError, MeshErrorCode, messageOf, undeclaredHostHint } from '@weft/shared';
import type { EndpointSource, ExternalSource, ExternalTarget } from '../contracts.js';
import type { ConnectTakeover } from '../http1/server-connection.js';
import { writeRawMeshError } from './mesh-response.js';
import { describeExternal, lookupExternal, portMismatch } from './outbound-external.js';
import type { RequestLog } from './request-log.js';
import { hostFromAuthority } from './request-target.js';
import type { ServiceResilienceMap } from './service-resilience.js';

export interface ExternalConnectDeps {
  externals: ExternalSource | undefined;
  /** To tell a mesh service (falls through) from an undeclared host. */
  endpoints: EndpointSource;
  services: ServiceResilienceMap;
  requestLog: RequestLog;
  logger: Logger;
  connectTimeoutMs: number;
  /** True for host:port of this listener itself. */
  isSelf?: (host: string, port: number) => boolean;
}

export type ConnectHandler = (socket: Socket, target: string, takeover: ConnectTakeover) => void;

/** Bytes the client sends before the tunnel is decided, bounded (a ClientHello is a few KiB). */
const MAX_EARLY_BYTES = 64 * 1024;

/**
 * The client's bytes after its CONNECT head: held (bounded) while the host
 * is looked up and the upstream connects, then delivered in order.
 */
class ClientBytes {
  private readonly early: Buffer[] = [];
  private bytes = 0;
  private sink: ((chunk: Buffer) => void) | undefined;
  private onEnd: (() => void) | undefined;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    takeover: ConnectTakeover,
  ) {
    if (takeover.early !== null) this.hold(takeover.early);
    // Taken at once, so nothing the client sends while the host is looked up is lost.
    takeover.take(
      (chunk) => (this.sink === undefined ? this.hold(chunk) : this.sink(chunk)),
      () => {
        this.ended = true;
        this.onEnd?.();
      },
    );
  }

  /** Delivers what was held, then every later chunk, to `onData`; the client's end of stream to `onEnd`. */
  deliver(onData: (chunk: Buffer) => void, onEnd: () => void): void {
    for (const chunk of this.early.splice(0)) onData(chunk);
    this.sink = onData;
    this.onEnd = onEnd;
    if (this.ended) onEnd();
  }

  /** A takeover for another handler, delivering the same bytes. */
  asTakeover(): ConnectTakeover {
    return { early: null, take: (onData, onEnd) => this.deliver(onData, onEnd) };
  }

  private hold(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > MAX_EARLY_BYTES) this.socket.destroy();
    else this.early.push(chunk);
  }
}

export function externalConnect(d: ExternalConnectDeps, fallThrough: ConnectHandler): ConnectHandler {
  const refuse = (socket: Socket, code: MeshErrorCode, message: string, service?: string): void => {
    d.requestLog.log('request failed', code, { service, detail: `CONNECT: ${message.split('\n')[0]}` });
    writeRawMeshError(socket, new MeshError(code, '').httpStatus, code, message);
  };

  /** Splices the client and t's host:port; counted in t's metrics once it ends. */
  const tunnel = (client: Socket, t: ExternalTarget, bytes: ClientBytes): void => {
    const startedAt = performance.now();
    const metrics = d.services.get(t.service).metrics;
    let established = false;
    let counted = false;
    const count = (status: number, code: string): void => {
      if (counted) return;
      counted = true;
      metrics.request(status, code, startedAt);
    };
    const upstream = connect({ host: t.host, port: t.port, noDelay: true });
    const timer = setTimeout(() => upstream.destroy(new Error(`timeout after ${d.connectTimeoutMs} ms`)), d.connectTimeoutMs);
    upstream.once('connect', () => {
      clearTimeout(timer);
      if (client.destroyed) return void upstream.destroy();
      established = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      bytes.deliver(
        (chunk) => {
          if (upstream.write(chunk)) return;
          client.pause();
          upstream.once('drain', () => client.resume());
        },
        () => upstream.end(),
      );
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (established || client.destroyed) return void client.destroy();
      const message = `CONNECT ${t.host}:${t.port}: ${describeExternal(t)}: connection failed (${err.code ?? messageOf(err)})`;
      d.requestLog.log('request failed', MeshErrorCode.upstreamConnectFailed, { service: t.service, detail: message });
      writeRawMeshError(client, 502, MeshErrorCode.upstreamConnectFailed, message);
      count(502, MeshErrorCode.upstreamConnectFailed);
    });
    upstream.on('close', () => {
      if (established) count(200, '');
      if (!client.writableEnded) client.destroy();
    });
    client.on('close', () => upstream.destroy());
  };

  const decide = async (socket: Socket, target: string, takeover: ConnectTakeover): Promise<void> => {
    const parsed = hostFromAuthority(target, 'CONNECT target');
    if (parsed instanceof MeshError || parsed.port === undefined) return fallThrough(socket, target, takeover);
    const bytes = new ClientBytes(socket, takeover);
    const found = await lookupExternal(d.externals, parsed.host);
    if (socket.destroyed) return;
    if (found instanceof MeshError) return refuse(socket, found.code, `CONNECT ${target}: ${found.message}`);
    if (found === undefined) {
      // A mesh service is the other CONNECT handling's business (tunnels to mesh tcp services).
      if (parsed.service !== null && (await isMeshService(d.endpoints, parsed.service)))
        return fallThrough(socket, target, bytes.asTakeover());
      return refuse(socket, MeshErrorCode.unknownService, `CONNECT ${target}: ${undeclaredHostHint(parsed.host, parsed.port, true)}`);
    }
    const mismatch = portMismatch(found, parsed.port, true);
    if (mismatch !== undefined) return refuse(socket, MeshErrorCode.unknownService, `CONNECT ${target}: ${mismatch}`, found.service);
    if (d.isSelf?.(found.host, found.port))
      return refuse(socket, MeshErrorCode.badRequest, `CONNECT ${target}: this is the agent's own outbound listener`, found.service);
    tunnel(socket, found, bytes);
  };

  return (socket, target, takeover) => {
    decide(socket, target, takeover).catch((err: unknown) => {
      d.logger.error('CONNECT handling failed', { target, err: messageOf(err) });
      if (!socket.destroyed) writeRawMeshError(socket, 500, MeshErrorCode.internal, `CONNECT ${target}: internal error`);
    });
  };
}

async function isMeshService(endpoints: EndpointSource, service: string): Promise<boolean> {
  try {
    const r = endpoints.resolve(service);
    if (r instanceof Promise) await r;
    return true;
  } catch {
    return false;
  }
}
