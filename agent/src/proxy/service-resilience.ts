/**
 * The per-destination-service state the outbound side keeps: its circuit
 * breaker, its retry budget and retry settings, and its metric children.
 * Created on the first request that resolved the service (so made-up
 * service names cannot grow the map) and then reused by every request: one
 * map lookup per request, no per-request objects.
 */
import type { Endpoint, Logger } from '@weft/shared';
import { CircuitBreaker } from './circuit-breaker.js';
import type { ProxyMetrics, ServiceMetrics } from './proxy-metrics.js';
import type { ResilienceOptions } from './resilience-options.js';
import { RetryBudget } from './retry-budget.js';
import type { RetryControl, RetryReason } from './retry-policy.js';

export class ServiceResilience implements RetryControl {
  readonly breaker: CircuitBreaker;
  readonly budget: RetryBudget;
  readonly maxRetries: number;
  readonly perTryTimeoutMs: number;

  constructor(
    readonly service: string,
    options: ResilienceOptions,
    readonly metrics: ServiceMetrics,
    private readonly logger: Logger,
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
  ) {}

  get(service: string): ServiceResilience {
    let s = this.byService.get(service);
    if (s === undefined) {
      s = new ServiceResilience(service, this.options, this.metrics.service('outbound', service), this.logger);
      this.byService.set(service, s);
    }
    return s;
  }
}
