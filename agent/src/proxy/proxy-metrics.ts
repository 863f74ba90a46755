/**
 * The proxy's Prometheus metrics (served by the admin API at /metrics;
 * every series is listed in docs/metrics.md). Request metrics follow
 * Linkerd's proxy names and labels; what Linkerd has no name for keeps the
 * `weft_` namespace:
 *
 *   response_total{direction,dst_service,src_service,status_code,classification,error}
 *                                                             every answered request
 *   response_latency_ms{direction,dst_service,src_service}    until the response ended (ms buckets of
 *                                                             @weft/shared's latency-buckets.ts)
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
 * calling a local instance); `src_service` the caller (source-label.ts);
 * `classification` the golden-metrics outcome (success, app_error,
 * mesh_error, cancelled: @weft/shared's outcome.ts); `error` the
 * x-weft-error code, empty for an app's own answer. Hot path: one
 * ServiceMetrics per (direction, service) is created once and keeps, per
 * source label, its label children and its golden-metrics cell
 * (edge-stats.ts, outbound only), so counting a request is one Map lookup on
 * the source label, an array lookup by status and a few increments, with no
 * string building for the common case of an app answer.
 */
import {
  type Counter,
  type CounterChild,
  type Gauge,
  type Histogram,
  type HistogramChild,
  LATENCY_BOUNDS_MS,
  type MetricsRegistry,
  OUTCOMES,
  outcomeOf,
  type SourceIdentity,
} from '@weft/shared';
import type { CircuitLimit } from './circuit-breaker.js';
import type { EdgeCell, EdgeStatsTable } from './edge-stats.js';
import type { RetryReason } from './retry-policy.js';
import { agentSourceLabel, type SourceLabeler, sourceLabeler, UNKNOWN_SOURCE } from './source-label.js';

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
  private readonly accessChildren = new Map<string, Map<string, CounterChild>>();
  readonly tlsConnections: Counter;
  readonly tlsHandshakeFailures: Counter;
  readonly tlsRefused: Counter;
  /** The source label of each direction's requests (source-label.ts). */
  readonly sources: Record<Direction, SourceLabeler>;
  /** The golden metrics of outbound requests, reported to the control plane; undefined = not aggregated. */
  readonly edges: EdgeStatsTable | undefined;
  private readonly byService = { inbound: new Map<string, ServiceMetrics>(), outbound: new Map<string, ServiceMetrics>() };

  /**
   * @param opts.agentId this agent: an unattributed local caller is labelled `agent:<agentId>`
   * @param opts.edges where outbound requests are aggregated for the control plane (telemetry-reporter.ts)
   */
  constructor(
    readonly registry: MetricsRegistry,
    opts: { agentId?: string; edges?: EdgeStatsTable } = {},
  ) {
    this.sources = { outbound: sourceLabeler(agentSourceLabel(opts.agentId ?? 'local')), inbound: sourceLabeler(UNKNOWN_SOURCE) };
    this.edges = opts.edges;
    this.requests = registry.counter('response_total', 'Requests answered by the proxy, by outcome (Linkerd names).', [
      'direction',
      'dst_service',
      'src_service',
      'status_code',
      'classification',
      'error',
    ]);
    this.duration = registry.histogram(
      'response_latency_ms',
      'Time from request to end of response, in ms.',
      ['direction', 'dst_service', 'src_service'],
      LATENCY_BOUNDS_MS,
    );
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
    // Per request: the child is looked up by rule id (unique per service) and decision, without building a key.
    let byDecision = this.accessChildren.get(rule);
    if (byDecision === undefined) {
      byDecision = new Map();
      this.accessChildren.set(rule, byDecision);
    }
    let child = byDecision.get(decision);
    if (child === undefined) {
      child = this.accessDecisions.labels(service, decision, rule);
      byDecision.set(decision, child);
    }
    child.inc();
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

/** What one source's requests to one service count into. */
class SourceChildren {
  /** Request counters for app answers (no x-weft-error), indexed by status code. */
  readonly byStatus: (CounterChild | undefined)[] = [];
  /** Request counters for mesh answers, by `${status} ${code}`. */
  readonly byError = new Map<string, CounterChild>();
  constructor(
    readonly label: string,
    readonly latency: HistogramChild,
    /** The golden-metrics cell (outbound with aggregation on); undefined otherwise. */
    readonly edge: EdgeCell | undefined,
  ) {}
}

export class ServiceMetrics {
  private readonly bySource = new Map<string, SourceChildren>();
  private readonly label: SourceLabeler;
  private readonly edges: EdgeStatsTable | undefined;
  private readonly retryChildren = new Map<RetryReason, CounterChild>();
  private exhausted: CounterChild | undefined;
  private ejection: CounterChild | undefined;

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly direction: Direction,
    /** The destination service ('-' for the pipelines' bucket of requests that never resolved one). */
    readonly service: string,
  ) {
    this.label = metrics.sources[direction];
    // Requests that resolved no service (unknown service, bad request) are in /metrics only: no destination to report.
    this.edges = direction === 'outbound' && service !== '-' ? metrics.edges : undefined;
  }

  /**
   * One answered request: who sent it (the exchange's source identity), its
   * status (0 when no head was sent), its x-weft-error code ('' for the
   * app's own answer), when it started, and its body bytes in and out.
   */
  request(source: SourceIdentity | undefined, status: number, error: string, startedAt: number, bytesIn = 0, bytesOut = 0): void {
    const durationMs = performance.now() - startedAt;
    const src = this.label(source);
    let c = this.bySource.get(src);
    if (c === undefined) {
      c = new SourceChildren(src, this.metrics.duration.labels(this.direction, this.service, src), this.edges?.cell(src, this.service));
      this.bySource.set(src, c);
    }
    c.latency.observe(durationMs);
    const outcome = outcomeOf(status, error);
    c.edge?.record(outcome, durationMs, bytesIn, bytesOut);
    let child: CounterChild | undefined;
    if (error === '' && status >= 0 && status < 1000) {
      child = c.byStatus[status];
      if (child === undefined) {
        child = this.metrics.requests.labels(this.direction, this.service, src, String(status), OUTCOMES[outcome]!, '');
        c.byStatus[status] = child;
      }
    } else {
      const key = `${status} ${error}`;
      child = c.byError.get(key);
      if (child === undefined) {
        child = this.metrics.requests.labels(this.direction, this.service, src, String(status), OUTCOMES[outcome]!, error);
        c.byError.set(key, child);
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
