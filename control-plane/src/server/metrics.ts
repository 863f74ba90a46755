/**
 * The control plane's Prometheus metrics, served at GET /metrics on its HTTP
 * port. Counters and histograms are updated on the hot paths through kept
 * children; gauges are read from live state when scraped.
 */
import { type CounterChild, type HistogramChild, MetricsRegistry } from '@weft/shared';
import type { Registry } from '../registry/registry.js';
import type { StreamObserver } from './discovery-stream.js';
import type { StreamTable } from './stream-table.js';

/** Rows per group commit: 1 .. the batcher's cap. */
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export class ControlPlaneMetrics {
  readonly registry = new MetricsRegistry();
  private readonly pushes: CounterChild;
  private readonly nacks: CounterChild;
  private readonly acks: CounterChild;
  private readonly pushLatency: HistogramChild;
  private readonly ackRtt: HistogramChild;
  private readonly batchSize: HistogramChild;
  private readonly commitSeconds: HistogramChild;

  constructor() {
    const r = this.registry;
    this.pushes = r.counter('weft_cp_pushes_total', 'Discovery responses written to agents.').labels();
    this.acks = r.counter('weft_cp_acks_total', 'Discovery responses acknowledged by agents.').labels();
    this.nacks = r.counter('weft_cp_nacks_total', 'Discovery responses rejected (NACKed) by agents.').labels();
    this.pushLatency = r
      .histogram(
        'weft_cp_push_latency_seconds',
        'From the commit of a change to the write of the response carrying it, per resource and stream.',
      )
      .labels();
    this.ackRtt = r.histogram('weft_cp_ack_rtt_seconds', 'From writing a discovery response to receiving its ACK/NACK.').labels();
    this.batchSize = r
      .histogram(
        'weft_cp_write_batch_size',
        'Registry writes committed together in one transaction of the store, SQLite or PostgreSQL (group commit).',
        [],
        BATCH_SIZE_BUCKETS,
      )
      .labels();
    this.commitSeconds = r
      .histogram('weft_cp_write_batch_seconds', 'Time to run and commit one group-commit transaction (fsync included).')
      .labels();
  }

  /** Hooks for every discovery stream. */
  readonly streamObserver: StreamObserver = {
    pushed: (latenciesMs) => {
      this.pushes.inc();
      for (const ms of latenciesMs) this.pushLatency.observe(ms / 1000);
    },
    answered: (rttMs, nack) => {
      this.ackRtt.observe(rttMs / 1000);
      if (nack) this.nacks.inc();
      else this.acks.inc();
    },
  };

  /** For the registry's WriteBatcher. */
  readonly onBatch = (size: number, commitMs: number): void => {
    this.batchSize.observe(size);
    this.commitSeconds.observe(commitMs / 1000);
  };

  /** Gauges and totals read from live state on each scrape. */
  bind(registry: Registry, streams: StreamTable): void {
    const r = this.registry;
    const connected = r.gauge('weft_cp_connected_agents', 'Agents with an open discovery stream.').labels();
    const services = r.gauge('weft_cp_services', 'Services with at least one endpoint (endpoints resources).').labels();
    const endpoints = r.gauge('weft_cp_endpoints', 'Endpoints (registered instances) over all services.').labels();
    const revision = r.gauge('weft_cp_revision', 'Global registry revision of the last committed change.').labels();
    const pendingWrites = r.gauge('weft_cp_pending_writes', 'Registry writes waiting for the next group commit.').labels();
    const registrations = r.counter('weft_cp_registrations_total', 'Successful Register calls.').labels();
    r.beforeRender(() => {
      connected.set(streams.size);
      const list = registry.services();
      services.set(list.length);
      endpoints.set(list.reduce((n, s) => n + s.endpoints.length, 0));
      revision.set(registry.revision());
      pendingWrites.set(registry.pendingWrites());
      registrations.value = registry.counters.registrations;
    });
  }
}
