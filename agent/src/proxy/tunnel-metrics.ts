/**
 * Metrics of tunnels (upgraded HTTP connections and TCP connections), next
 * to the request metrics of proxy-metrics.ts in the same registry:
 *
 *   weft_proxy_tunnels_total{direction,service,kind}              tunnels opened
 *   weft_proxy_tunnels_open{direction,service,kind}               open right now (gauge)
 *   weft_proxy_tunnel_bytes_total{direction,service,kind,way}     bytes carried: way="in" from the
 *                                                                 caller towards the service, "out" back
 *   weft_proxy_tunnel_closes_total{direction,service,kind,reason} why tunnels ended (closed, reset,
 *                                                                 idle_timeout, max_duration, drained, shutdown)
 *   weft_proxy_tunnel_connect_failures_total{direction,service}   TCP connects that failed (each try)
 *
 * `kind` is `upgrade` (an HTTP/1.1 Upgrade, e.g. WebSocket) or `tcp`.
 * One TunnelMetrics per metrics registry (the agent's listeners share it).
 */
import type { Counter, CounterChild, Gauge, GaugeChild, MetricsRegistry } from '@weft/shared';
import type { Direction, ProxyMetrics } from './proxy-metrics.js';

export type TunnelKind = 'upgrade' | 'tcp';
export type TunnelCloseReason = 'closed' | 'reset' | 'idle_timeout' | 'max_duration' | 'drained' | 'shutdown';

export interface TunnelCounters {
  readonly bytesIn: CounterChild;
  readonly bytesOut: CounterChild;
  readonly open: GaugeChild;
  closed(reason: TunnelCloseReason): void;
}

const byRegistry = new WeakMap<MetricsRegistry, TunnelMetrics>();

export class TunnelMetrics {
  private readonly opened: Counter;
  private readonly open: Gauge;
  private readonly bytes: Counter;
  private readonly closes: Counter;
  private readonly connectFailures: Counter;
  private readonly children = new Map<string, TunnelCounters>();

  /** The tunnel metrics of `proxy`'s registry (registered once). */
  static of(proxy: ProxyMetrics): TunnelMetrics {
    let m = byRegistry.get(proxy.registry);
    if (m === undefined) {
      m = new TunnelMetrics(proxy.registry);
      byRegistry.set(proxy.registry, m);
    }
    return m;
  }

  private constructor(registry: MetricsRegistry) {
    const labels = ['direction', 'service', 'kind'];
    this.opened = registry.counter('weft_proxy_tunnels_total', 'Tunnels opened (upgraded HTTP connections, TCP connections).', labels);
    this.open = registry.gauge('weft_proxy_tunnels_open', 'Tunnels open right now.', labels);
    this.bytes = registry.counter('weft_proxy_tunnel_bytes_total', 'Bytes carried by tunnels: in = from the caller, out = to the caller.', [
      ...labels,
      'way',
    ]);
    this.closes = registry.counter('weft_proxy_tunnel_closes_total', 'Tunnels closed, by reason.', [...labels, 'reason']);
    this.connectFailures = registry.counter('weft_proxy_tunnel_connect_failures_total', 'TCP connects to endpoints that failed.', [
      'direction',
      'service',
    ]);
  }

  /** Counts a new tunnel and returns its counters (cached per label set). */
  opening(direction: Direction, service: string, kind: TunnelKind): TunnelCounters {
    const key = `${direction} ${service} ${kind}`;
    let c = this.children.get(key);
    if (c === undefined) {
      const closes = this.closes;
      c = {
        bytesIn: this.bytes.labels(direction, service, kind, 'in'),
        bytesOut: this.bytes.labels(direction, service, kind, 'out'),
        open: this.open.labels(direction, service, kind),
        closed: (reason) => closes.labels(direction, service, kind, reason).inc(),
      };
      this.children.set(key, c);
    }
    this.opened.labels(direction, service, kind).inc();
    c.open.inc();
    return c;
  }

  connectFailed(direction: Direction, service: string): void {
    this.connectFailures.labels(direction, service).inc();
  }
}
