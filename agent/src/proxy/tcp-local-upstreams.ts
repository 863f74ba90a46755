/**
 * Local upstream ports: for each configured upstream (`weft upstream add
 * postgres --local-port 5433`, as Consul's upstreams) the agent listens on
 * 127.0.0.1:<localPort>, and every connection accepted there is spliced to
 * a connection to the service (tcp-connect.ts: endpoint choice, retries of
 * connect failures, outlier ejection). Plain TCP has no way to say why a
 * connection failed: when no endpoint can be reached, or access policy
 * denies the connection, the accepted connection is closed (logged with the
 * rule, counted in weft_proxy_tunnel_connect_failures_total).
 *
 * A local port carries no credential, so its caller is this host's agent,
 * as an HTTP call without a proxy credential (proxy-auth.ts): that identity
 * is presented on the mesh hop and decides access to a local instance.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger, SourceIdentity } from '@weft/shared';
import { SocketTunnel } from '../http1/socket-tunnel.js';
import type { RequestLog } from './request-log.js';
import { connectService, type TcpConnectDeps } from './tcp-connect.js';
import { detailFields } from './tcp-mesh-hop.js';
import type { Tunnels } from './tunnel-registry.js';

export interface LocalUpstream {
  service: string;
  localPort: number;
}

export interface LocalUpstreamDeps extends TcpConnectDeps {
  tunnels: Tunnels;
  requestLog: RequestLog;
  logger: Logger;
  /** Where local upstream ports listen (loopback). */
  host: string;
  /** This host's agent as a caller (LocalCallers.agent); undefined without proxy credentials (--insecure). */
  caller?: SourceIdentity;
}

interface Bound {
  upstream: LocalUpstream;
  server: Server;
  port: number;
}

export class LocalUpstreamPorts {
  private readonly bound = new Map<string, Bound>();
  private closed = false;

  constructor(private readonly d: LocalUpstreamDeps) {}

  list(): (LocalUpstream & { listening: number })[] {
    return [...this.bound.values()].map((b) => ({ ...b.upstream, listening: b.port }));
  }

  /** Opens the local port for `u` (replacing the service's earlier port); rejects when the port cannot be bound. */
  async open(u: LocalUpstream): Promise<number> {
    if (this.closed) throw new Error('local upstream ports are closed');
    const existing = this.bound.get(u.service);
    if (existing !== undefined && existing.upstream.localPort === u.localPort && u.localPort !== 0) return existing.port;
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => this.accept(u.service, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(u.localPort, this.d.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as { port: number }).port;
    if (existing !== undefined) await this.close(u.service);
    this.bound.set(u.service, { upstream: u, server, port });
    this.d.logger.info('local upstream port open', { service: u.service, port });
    return port;
  }

  /** Stops listening for `service` (open connections stay until they end); false when it had no port. */
  async close(service: string): Promise<boolean> {
    const b = this.bound.get(service);
    if (b === undefined) return false;
    this.bound.delete(service);
    await new Promise<void>((resolve) => b.server.close(() => resolve()));
    return true;
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.bound.keys()].map((s) => this.close(s)));
  }

  private accept(service: string, socket: Socket): void {
    socket.on('error', () => {});
    const client = SocketTunnel.attach(socket);
    void connectService(this.d, service, this.d.caller).then((c) => {
      if (!c.ok) {
        this.d.requestLog.log('connect failed', c.code, { service, ...detailFields(c.detail), detail: c.message });
        socket.destroy();
        return;
      }
      if (socket.destroyed) {
        c.tunnel.destroy();
        return;
      }
      void this.d.tunnels.splice(client, c.tunnel, {
        kind: 'tcp',
        service: c.endpoint.service,
        instanceId: c.endpoint.instanceId,
        localInstance: c.localInstance,
      });
    });
  }
}
