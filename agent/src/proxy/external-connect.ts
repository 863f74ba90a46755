/**
 * `CONNECT host:port` on the outbound listener for hosts outside the mesh
 * (an app that sets HTTPS_PROXY and does its own TLS): a host declared by an
 * ExternalService, on its declared port, is tunnelled (the agent connects
 * and splices bytes both ways, half-closes included, and never sees inside);
 * a host nobody declared is answered `unknown_service` with how to declare
 * it. Anything else (a malformed target, a mesh service) falls through to
 * the listener's other CONNECT handling.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { type Logger, MeshError, MeshErrorCode, messageOf, undeclaredHostHint } from '@weft/shared';
import type { EndpointSource, ExternalSource, ExternalTarget } from '../contracts.js';
import type { ConnectRequest } from '../http1/server-connection.js';
import { SocketTunnel } from '../http1/socket-tunnel.js';
import { writeRawMeshError } from './mesh-response.js';
import { describeExternal, lookupExternal, portMismatch } from './outbound-external.js';
import type { RequestLog } from './request-log.js';
import { hostFromAuthority } from './request-target.js';
import type { ServiceResilienceMap } from './service-resilience.js';
import type { Tunnels } from './tunnel-registry.js';

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
  /** Where the spliced connections live (timeouts, metrics, shutdown). */
  tunnels: Tunnels;
}

export type ConnectHandler = (socket: Socket, target: string, connect: ConnectRequest) => void;

export function externalConnect(d: ExternalConnectDeps, fallThrough: ConnectHandler): ConnectHandler {
  const refuse = (socket: Socket, code: MeshErrorCode, message: string, service?: string): void => {
    d.requestLog.log('request failed', code, { service, detail: `CONNECT: ${message.split('\n')[0]}` });
    writeRawMeshError(socket, new MeshError(code, '').httpStatus, code, message);
  };

  /**
   * Connects to t's host:port, then answers 200 and splices the two
   * (tunnel-registry.ts: backpressure, half-close, timeouts); counted in t's
   * metrics once it ends. What the client sent meanwhile is held by the
   * codec (its CONNECT state) and delivered first.
   */
  const tunnel = (client: Socket, t: ExternalTarget, connect: ConnectRequest): void => {
    const startedAt = performance.now();
    const metrics = d.services.get(t.service).metrics;
    const upstream = netConnect({ host: t.host, port: t.port, noDelay: true });
    const timer = setTimeout(() => upstream.destroy(new Error(`timeout after ${d.connectTimeoutMs} ms`)), d.connectTimeoutMs);
    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.removeAllListeners('error');
      if (client.destroyed) return void upstream.destroy();
      const clientSide = connect.accept('HTTP/1.1 200 Connection Established\r\n\r\n');
      const upstreamSide = SocketTunnel.attach(upstream);
      void d.tunnels
        .splice(clientSide, upstreamSide, { kind: 'tcp', service: t.service, instanceId: t.host, localInstance: false })
        .then(() => metrics.request(undefined, 200, '', startedAt));
    });
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (client.destroyed) return;
      const message = `CONNECT ${t.host}:${t.port}: ${describeExternal(t)}: connection failed (${err.code ?? messageOf(err)})`;
      d.requestLog.log('request failed', MeshErrorCode.upstreamConnectFailed, { service: t.service, detail: message });
      writeRawMeshError(client, 502, MeshErrorCode.upstreamConnectFailed, message);
      metrics.request(undefined, 502, MeshErrorCode.upstreamConnectFailed, startedAt);
    });
  };

  const decide = async (socket: Socket, target: string, connect: ConnectRequest): Promise<void> => {
    const parsed = hostFromAuthority(target, 'CONNECT target');
    if (parsed instanceof MeshError || parsed.port === undefined) return fallThrough(socket, target, connect);
    const found = await lookupExternal(d.externals, parsed.host);
    if (socket.destroyed) return;
    if (found instanceof MeshError) return refuse(socket, found.code, `CONNECT ${target}: ${found.message}`);
    if (found === undefined) {
      // A mesh service is the other CONNECT handling's business (tunnels to mesh tcp services).
      if (parsed.service !== null && (await isMeshService(d.endpoints, parsed.service))) return fallThrough(socket, target, connect);
      return refuse(socket, MeshErrorCode.unknownService, `CONNECT ${target}: ${undeclaredHostHint(parsed.host, parsed.port, true)}`);
    }
    const mismatch = portMismatch(found, parsed.port, true);
    if (mismatch !== undefined) return refuse(socket, MeshErrorCode.unknownService, `CONNECT ${target}: ${mismatch}`, found.service);
    if (d.isSelf?.(found.host, found.port))
      return refuse(socket, MeshErrorCode.badRequest, `CONNECT ${target}: this is the agent's own outbound listener`, found.service);
    tunnel(socket, found, connect);
  };

  return (socket, target, connect) => {
    decide(socket, target, connect).catch((err: unknown) => {
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
