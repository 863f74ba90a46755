/**
 * The per-destination-service state the outbound side keeps: its circuit
 * breaker, its retry budget and retry settings, and its metric children.
 * Created on the first request that resolved the service (so made-up
 * service names cannot grow the map) and then reused by every request: one
 * map lookup per request, no per-request objects.
 *
 * A service's ServicePolicy (circuitBreaker, outlierDetection) overrides the
 * agent's defaults for that service only: the caller passes the overrides it
 * holds with each get(), and they are applied when their key (the policy
 * version) differs from the last one applied — in place, so breaker counters,
 * the retry budget and ejections carry over a policy change.
 */
import type { Endpoint, Logger } from '@weft/shared';
import { CircuitBreaker } from './circuit-breaker.js';
import type { OutlierDetector, ServiceOutlierOptions } from './outlier-detector.js';
import type { ProxyMetrics, ServiceMetrics } from './proxy-metrics.js';
import type { ResilienceOptions } from './resilience-options.js';
import { RetryBudget } from './retry-budget.js';
import type { RetryControl, RetryReason } from './retry-policy.js';

/** One service's own resilience settings; each field left out keeps the agent's default. */
export interface ServiceOverrides {
  /** Identifies these settings (the policy version); re-applied only when it changes. */
  key: string;
  maxRequests?: number;
  maxPendingRequests?: number;
  /** Retries per request (a route rule's retry.attempts still wins). */
  maxRetries?: number;
  outlier?: ServiceOutlierOptions;
}

export class ServiceResilience implements RetryControl {
  readonly breaker: CircuitBreaker;
  readonly budget: RetryBudget;
  maxRetries: number;
  readonly perTryTimeoutMs: number;
  /** Key of the overrides in force ('' = the agent's defaults). */
  overridesKey = '';

  constructor(
    readonly service: string,
    private readonly options: ResilienceOptions,
    readonly metrics: ServiceMetrics,
    private readonly logger: Logger,
    private readonly detector?: OutlierDetector,
  ) {
    this.breaker = new CircuitBreaker(options.maxRequestsPerService, options.maxPendingRequestsPerService);
    this.budget = new RetryBudget({
      ratio: options.retryBudgetRatio,
      minPerSecond: options.retryBudgetMinPerSecond,
      windowMs: options.retryBudgetWindowMs,
    });
    this.maxRetries = options.maxRetries;
    this.perTryTimeoutMs = options.perTryTimeoutMs;
  }

  /** Applies `o` over the agent's defaults (undefined = back to the defaults). */
  configure(o: ServiceOverrides | undefined): void {
    this.breaker.setLimits(
      o?.maxRequests ?? this.options.maxRequestsPerService,
      o?.maxPendingRequests ?? this.options.maxPendingRequestsPerService,
    );
    this.maxRetries = o?.maxRetries ?? this.options.maxRetries;
    this.detector?.configure(this.service, o?.outlier);
    this.overridesKey = o?.key ?? '';
    this.logger.debug('service resilience settings', {
      service: this.service,
      policy: this.overridesKey || null,
      maxRequests: this.breaker.maxActive,
      maxPending: this.breaker.maxPending,
      maxRetries: this.maxRetries,
    });
  }

  onRetry(reason: RetryReason, failed: Endpoint, next: Endpoint): void {
    this.metrics.retry(reason);
    this.logger.debug('retrying', { service: this.service, reason, instance: failed.instanceId, next: next.instanceId });
  }

  onBudgetExhausted(reason: RetryReason, failed: Endpoint): void {
    this.metrics.budgetExhausted();
    this.logger.debug('retry budget exhausted', { service: this.service, reason, instance: failed.instanceId });
  }
}

export class ServiceResilienceMap {
  private readonly byService = new Map<string, ServiceResilience>();

  constructor(
    private readonly options: ResilienceOptions,
    private readonly metrics: ProxyMetrics,
    private readonly logger: Logger,
    private readonly detector?: OutlierDetector,
  ) {}

  /** The service's state, with `overrides` (from its ServicePolicy) applied if they changed. */
  get(service: string, overrides?: ServiceOverrides): ServiceResilience {
    let s = this.byService.get(service);
    if (s === undefined) {
      s = new ServiceResilience(service, this.options, this.metrics.service('outbound', service), this.logger, this.detector);
      this.byService.set(service, s);
    }
    if (s.overridesKey !== (overrides?.key ?? '')) s.configure(overrides);
    return s;
  }
}
