/**
 * One Http1Pool (agent/src/http1/client-pool.ts) per destination origin (a
 * local instance or a peer agent's inbound listener), created on first use
 * and reused, so requests ride warm keep-alive connections. The keep-alive
 * timeout (4 s) is shorter than the usual server default (5 s for node:http,
 * the agent's own inbound listener included): we close an idle socket before
 * the server does, which avoids sending a request on a socket the server is
 * just closing. Servers with a shorter idle timeout still race us; the client
 * recognises that race (stale-connection.ts) so the request is sent again.
 * Pools nobody used for a while are closed by an unref'd sweep, so endpoint
 * churn does not grow the map forever.
 *
 * With mesh TLS (`tls`), the pools to peer agents (get() with the peer's
 * agent id) speak mTLS and check that the peer is that agent (mesh-tls.ts);
 * pools to local instances stay plaintext on loopback. Pools to hosts outside
 * the mesh (egress) may originate TLS instead (`tls`, checked against node's
 * CA store).
 */
import { isIPv6 } from 'node:net';
import { ERROR_HEADER } from '@weft/shared';
import type { TlsOrigination } from '../http1/client-connection.js';
import { Http1Pool } from '../http1/client-pool.js';
import type { MeshRoute, MeshTls } from './mesh-tls.js';

export interface UpstreamPoolOptions {
  keepAliveTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Close a pool after this long without a request and with nothing running. */
  idleCloseMs?: number;
  /** mTLS for pools to peer agents; absent: plaintext (--insecure). */
  tls?: MeshTls;
}

interface Entry {
  pool: Http1Pool;
  /** Used since the last sweep (a flag, not a timestamp: get() runs per try and must not read the clock). */
  used: boolean;
  /** The sweep that last found it used (or its creation). */
  idleSince: number;
  /** The peer agent of an mTLS pool, and its route (to forget its session ticket). */
  peer: string | undefined;
  route: MeshRoute;
}

export function originOf(address: string, port: number): string {
  return isIPv6(address) ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}

/** The pool key of peer agent `agentId` at `origin` (another agent later at the same address gets its own pool). */
export function peerKeyOf(origin: string, agentId: string): string {
  return `${origin} ${agentId}`;
}

/** The pool key of peer agent pools for calls to `service` (its SNI), optionally for local source service `source`. */
export function meshPoolKey(peerKey: string, service: string, source?: string): string {
  return source === undefined ? `${peerKey} ${service}` : `${peerKey} ${service} ${source}`;
}

/** What a pool connects to, beyond its address (get()'s last argument); absent: plaintext to a local instance or host. */
export interface UpstreamKind {
  /** A peer agent's inbound listener: the agent id it must prove to be (mTLS when the pools have TLS). */
  peer?: string;
  /** With `peer`: the destination service (sent as SNI; the peer may present its certificate). */
  service?: string;
  /** With `peer`: the local service the calls are made for (its certificate is presented when held). */
  source?: string;
  /** An external host: originate TLS to it (the pool's key must be its own, e.g. "https://host:port"). */
  tls?: TlsOrigination;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Entry>();
  private readonly sweep: NodeJS.Timeout;
  private closed = false;
  private readonly keepAliveTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly idleCloseMs: number;
  private readonly tls: MeshTls | undefined;

  constructor(options: UpstreamPoolOptions = {}) {
    this.tls = options.tls;
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 4_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.idleCloseMs = options.idleCloseMs ?? 60_000;
    this.sweep = setInterval(() => this.closeIdle(), Math.max(1_000, this.idleCloseMs / 2));
    this.sweep.unref();
  }

  /**
   * The pool for `key` (originOf(address, port); plus the peer's agent id for
   * a peer: peerKeyOf; a key of its own such as "https://host:port" with
   * `kind.tls`). Throws after close().
   */
  get(key: string, address: string, port: number, kind?: UpstreamKind): Http1Pool {
    if (this.closed) throw new Error('upstream pools are closed');
    let entry = this.pools.get(key);
    if (!entry) {
      const peer = kind?.peer;
      const route: MeshRoute = { service: kind?.service, source: kind?.source };
      const meshTls = peer !== undefined && this.tls !== undefined ? this.tls.clientFor(key, peer, route) : undefined;
      entry = {
        pool: new Http1Pool(address, port, {
          keepAliveTimeoutMs: this.keepAliveTimeoutMs,
          connectTimeoutMs: this.connectTimeoutMs,
          noteField: ERROR_HEADER,
          tls: kind?.tls,
          meshTls,
        }),
        used: true,
        idleSince: Date.now(),
        peer: meshTls === undefined ? undefined : peer,
        route,
      };
      this.pools.set(key, entry);
    }
    entry.used = true;
    return entry.pool;
  }

  get size(): number {
    return this.pools.size;
  }

  private closeIdle(): void {
    const now = Date.now();
    const cutoff = now - this.idleCloseMs;
    for (const [origin, entry] of this.pools) {
      if (entry.used) {
        entry.used = false;
        entry.idleSince = now;
        continue;
      }
      const { running, pending } = entry.pool.stats;
      if (entry.idleSince <= cutoff && running === 0 && pending === 0) {
        this.pools.delete(origin);
        if (entry.peer !== undefined) this.tls?.forget(origin, entry.peer, entry.route);
        void entry.pool.close();
      }
    }
  }

  /** Closes every pool: graceful waits for running requests, otherwise they are aborted. */
  async close(graceful = true): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    const pools = [...this.pools.values()].map((e) => e.pool);
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close(graceful)));
  }
}
