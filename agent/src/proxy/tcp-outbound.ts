/**
 * TCP services on the outbound side. A local app reaches a `protocol: tcp`
 * service (a database, a cache) either way:
 *   - `CONNECT <service>:<port>` on the outbound listener: answered
 *     `200 Connection Established` once a connection to an endpoint is up,
 *     then the socket is a tunnel (`port` is informational: the endpoint's
 *     registered port is used);
 *   - a local port the agent listens on for one service (`weft upstream
 *     add <service> --local-port N`, tcp-local-upstreams.ts): every
 *     connection to it is a tunnel to the service.
 * `meshConnect` is consulted first for CONNECT: a target whose host is not a
 * service name, or a service the control plane does not know, goes to the
 * listener's next handler (`fallback`: the egress CONNECT, or the refusal),
 * and so does a mesh service that is not `protocol: tcp`.
 */

import type { Socket } from 'node:net';
import { MeshError, MeshErrorCode, meshHttpStatus, validateServiceName } from '@weft/shared';
import type { ConnectRequest } from '../http1/server-connection.js';
import { writeRawMeshError } from './mesh-response.js';
import { type LocalCallers, PROXY_AUTHENTICATE_LINE, PROXY_AUTHORIZATION, ProxyAuthError } from './proxy-auth.js';
import type { RequestLog } from './request-log.js';
import { connectService, type TcpConnectDeps } from './tcp-connect.js';
import { detailFields } from './tcp-mesh-hop.js';
import type { Tunnels } from './tunnel-registry.js';

export interface MeshConnectDeps extends TcpConnectDeps {
  tunnels: Tunnels;
  requestLog: RequestLog;
  /** The caller's proxy credential (Proxy-Authorization on the CONNECT); absent: not read. */
  callers?: LocalCallers;
}

/** The service a CONNECT target names (`orders:5432` -> orders), or undefined when its host is no service name. */
export function connectTargetService(target: string): string | undefined {
  const colon = target.lastIndexOf(':');
  if (colon <= 0 || !/^\d{1,5}$/.test(target.slice(colon + 1))) return undefined;
  const host = target.slice(0, colon);
  try {
    return validateServiceName(host, 'target');
  } catch {
    return undefined;
  }
}

export type ConnectHandler = (socket: Socket, target: string, connect: ConnectRequest) => void;

/** The outbound listener's CONNECT handler for mesh services; anything else goes to `fallback`. */
export function meshConnect(d: MeshConnectDeps, fallback: ConnectHandler): ConnectHandler {
  return (socket, target, connect) => {
    // The caller: its proxy credential picks the certificate presented on the mesh hop; a wrong one is refused here.
    const who = d.callers?.identify(connect.header(PROXY_AUTHORIZATION));
    if (who instanceof ProxyAuthError) {
      d.requestLog.log('request refused', who.code, { detail: who.message });
      writeRawMeshError(socket, 407, who.code, `CONNECT ${target}: ${who.message}`, PROXY_AUTHENTICATE_LINE);
      return;
    }
    const service = connectTargetService(target);
    if (service === undefined) {
      fallback(socket, target, connect);
      return;
    }
    void (async () => {
      // Known services answer synchronously; the first CONNECT to a name waits for the control plane's answer.
      try {
        const r = d.router.route(service);
        if (r instanceof Promise) await r;
      } catch (err) {
        if (err instanceof MeshError && err.code === MeshErrorCode.unknownService) {
          fallback(socket, target, connect);
          return;
        }
      }
      const c = await connectService(d, service, who);
      if (!c.ok && c.notTcp) {
        // An HTTP (or gRPC) service: CONNECT stays refused, as before TCP services existed.
        fallback(socket, target, connect);
        return;
      }
      if (!c.ok) {
        d.requestLog.log('connect failed', c.code, { service, ...detailFields(c.detail), detail: c.message });
        writeRawMeshError(socket, meshHttpStatus(c.code), c.code, c.message, '', c.detail);
        return;
      }
      if (socket.destroyed) {
        c.tunnel.destroy();
        return;
      }
      const client = connect.accept('HTTP/1.1 200 Connection Established\r\n\r\n');
      void d.tunnels.splice(client, c.tunnel, {
        kind: 'tcp',
        service: c.endpoint.service,
        instanceId: c.endpoint.instanceId,
        localInstance: c.localInstance,
      });
    })();
  };
}
