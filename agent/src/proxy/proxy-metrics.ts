/**
 * The proxy's Prometheus metrics (served by the admin API at /metrics):
 *
 *   weft_proxy_requests_total{direction,service,code,error}   every answered request
 *   weft_proxy_request_duration_seconds{direction,service}    until the response ended
 *   weft_proxy_retries_total{service,reason}                  retries by RetryReason
 *   weft_proxy_retry_budget_exhausted_total{service}          retries refused by the budget
 *   weft_proxy_ejections_total{service}                       outlier ejections
 *   weft_proxy_ejected_endpoints{service}                     currently ejected (gauge)
 *   weft_proxy_circuit_open_total{service,limit}              requests refused by circuit breaking
 *   weft_access_decisions_total{service,decision,rule}        access decisions (allow, deny, shadow_deny) by the rule
 *                                                             that made them ("orders/default": the mesh default)
 *   weft_inbound_tls_connections_total{protocol,resumed}      mTLS connections the inbound listener accepted
 *   weft_inbound_tls_handshake_failures_total{reason}         handshakes it refused (no / unknown certificate, old TLS...)
 *   weft_inbound_tls_refused_total{reason}                    requests refused on an accepted connection (revoked peer)
 *
 * `direction` is outbound (a local app calling) or inbound (another agent
 * calling a local instance); `error` is the x-weft-error code, empty for an
 * app's own answer. Hot path: one ServiceMetrics per (direction, service) is
 * created once and keeps its label children, so counting a request is an
 * array or map lookup and an increment, with no string building for the
 * common case of an app answer.
 */
import type { Counter, CounterChild, Gauge, Histogram, HistogramChild, MetricsRegistry } from '@weft/shared';
import type { CircuitLimit } from './circuit-breaker.js';
import type { RetryReason } from './retry-policy.js';

export type Direction = 'inbound' | 'outbound';

export class ProxyMetrics {
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly retries: Counter;
  readonly budgetExhausted: Counter;
  readonly ejections: Counter;
  readonly ejected: Gauge;
  readonly circuitOpen: Counter;
  readonly accessDecisions: Counter;
  readonly tlsConnections: Counter;
  readonly tlsHandshakeFailures: Counter;
  readonly tlsRefused: Counter;
  private readonly byService = { inbound: new Map<string, ServiceMetrics>(), outbound: new Map<string, ServiceMetrics>() };

  constructor(readonly registry: MetricsRegistry) {
    this.requests = registry.counter('weft_proxy_requests_total', 'Requests answered by the proxy.', [
      'direction',
      'service',
      'code',
      'error',
    ]);
    this.duration = registry.histogram('weft_proxy_request_duration_seconds', 'Time from request to end of response.', [
      'direction',
      'service',
    ]);
    this.retries = registry.counter('weft_proxy_retries_total', 'Retries of outbound requests, by reason.', ['service', 'reason']);
    this.budgetExhausted = registry.counter(
      'weft_proxy_retry_budget_exhausted_total',
      'Retries not made because the retry budget was exhausted.',
      ['service'],
    );
    this.ejections = registry.counter('weft_proxy_ejections_total', 'Endpoints ejected by outlier detection.', ['service']);
    this.ejected = registry.gauge('weft_proxy_ejected_endpoints', 'Endpoints ejected right now.', ['service']);
    this.circuitOpen = registry.counter('weft_proxy_circuit_open_total', 'Requests refused by circuit breaking.', ['service', 'limit']);
    this.tlsConnections = registry.counter('weft_inbound_tls_connections_total', 'mTLS connections accepted by the inbound listener.', [
      'protocol',
      'resumed',
    ]);
    this.tlsHandshakeFailures = registry.counter(
      'weft_inbound_tls_handshake_failures_total',
      'TLS handshakes refused by the inbound listener, by OpenSSL reason code.',
      ['reason'],
    );
    this.tlsRefused = registry.counter('weft_inbound_tls_refused_total', 'Requests refused on an accepted mTLS connection.', ['reason']);
    this.accessDecisions = registry.counter(
      'weft_access_decisions_total',
      'Access decisions for requests to local instances, by destination service, decision (allow, deny, shadow_deny) and rule.',
      ['service', 'decision', 'rule'],
    );
  }

  /** One access decision (labels are bounded by the services' rules). */
  access(service: string, decision: string, rule: string): void {
    this.accessDecisions.labels(service, decision, rule).inc();
  }

  /** The metrics of one destination service in one direction (created once, then cached). */
  service(direction: Direction, service: string): ServiceMetrics {
    const map = this.byService[direction];
    let m = map.get(service);
    if (m === undefined) {
      m = new ServiceMetrics(this, direction, service);
      map.set(service, m);
    }
    return m;
  }

  /** Refreshes the ejected-endpoints gauge from live state on every scrape. */
  watchEjected(read: () => Map<string, number>): void {
    this.registry.beforeRender(() => {
      this.ejected.reset();
      for (const [service, n] of read()) this.ejected.labels(service).set(n);
    });
  }
}

export class ServiceMetrics {
  /** Request counters for app answers (no x-weft-error), indexed by status code. */
  private readonly byStatus: (CounterChild | undefined)[] = [];
  /** Request counters for mesh answers, by `${status} ${code}`. */
  private readonly byError = new Map<string, CounterChild>();
  private readonly latency: HistogramChild;
  private readonly retryChildren = new Map<RetryReason, CounterChild>();
  private exhausted: CounterChild | undefined;
  private ejection: CounterChild | undefined;

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly direction: Direction,
    private readonly service: string,
  ) {
    this.latency = metrics.duration.labels(direction, service);
  }

  /** One answered request: its status, its x-weft-error code ('' for the app's own answer), how long it took. */
  request(status: number, error: string, startedAt: number): void {
    this.latency.observe((performance.now() - startedAt) / 1_000);
    let child: CounterChild | undefined;
    if (error === '' && status >= 0 && status < 1000) {
      child = this.byStatus[status];
      if (child === undefined) {
        child = this.metrics.requests.labels(this.direction, this.service, String(status), '');
        this.byStatus[status] = child;
      }
    } else {
      const key = `${status} ${error}`;
      child = this.byError.get(key);
      if (child === undefined) {
        child = this.metrics.requests.labels(this.direction, this.service, String(status), error);
        this.byError.set(key, child);
      }
    }
    child.inc();
  }

  retry(reason: RetryReason): void {
    let child = this.retryChildren.get(reason);
    if (child === undefined) {
      child = this.metrics.retries.labels(this.service, reason);
      this.retryChildren.set(reason, child);
    }
    child.inc();
  }

  budgetExhausted(): void {
    this.exhausted ??= this.metrics.budgetExhausted.labels(this.service);
    this.exhausted.inc();
  }

  ejected(): void {
    this.ejection ??= this.metrics.ejections.labels(this.service);
    this.ejection.inc();
  }

  circuitOpen(limit: CircuitLimit): void {
    this.metrics.circuitOpen.labels(this.service, limit).inc();
  }
}
