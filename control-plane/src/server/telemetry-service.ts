/**
 * gRPC handler of the Telemetry service (proto/weft/v1/telemetry.proto):
 * validates a whole report, then files it in the stats window. The
 * reporting agent is the caller's certificate identity (actingAgent), never
 * the message's `agent_id` (read only in --insecure mode).
 */
import type * as grpc from '@grpc/grpc-js';
import { LATENCY_BUCKETS, LATENCY_LAYOUT, type Logger, type MetricsRegistry, OUTCOMES, ValidationError } from '@weft/shared';
import type { EdgeStats__Output } from '@weft/shared/generated/weft/v1/EdgeStats';
import type { StatsAck } from '@weft/shared/generated/weft/v1/StatsAck';
import type { StatsReport__Output } from '@weft/shared/generated/weft/v1/StatsReport';
import type { TelemetryHandlers } from '@weft/shared/generated/weft/v1/Telemetry';
import type { EdgeSample, StatsWindow } from '../registry/stats-window.js';
import { actingAgent } from './authz.js';
import { isInternal, toGrpcError } from './status.js';

/** Rows one report may carry (an agent sends one per edge and outcome with requests in the interval). */
export const MAX_REPORT_ROWS = 10_000;
/** Counts above this are not a few seconds of one agent's traffic. */
const MAX_COUNT = 1e12;

const OUTCOME_INDEX: Record<string, number> = {
  OUTCOME_SUCCESS: 0,
  OUTCOME_APP_ERROR: 1,
  OUTCOME_MESH_ERROR: 2,
  OUTCOME_CANCELLED: 3,
};

function count(value: string | number, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_COUNT) throw new ValidationError(field, `must be a count from 0 to ${MAX_COUNT}`);
  return n;
}

function name(value: string, field: string): string {
  if (value === '' || value.length > 253) throw new ValidationError(field, 'must be 1..253 characters');
  return value;
}

/** One report row -> an EdgeSample, or a ValidationError naming the field. */
export function parseEdgeStats(m: EdgeStats__Output, field: string): EdgeSample {
  const outcome = OUTCOME_INDEX[String(m.outcome)];
  if (outcome === undefined) throw new ValidationError(`${field}.outcome`, `must be one of ${OUTCOMES.join(', ')}`);
  if (m.latency_buckets.length > LATENCY_BUCKETS)
    throw new ValidationError(`${field}.latency_buckets`, `has ${m.latency_buckets.length} buckets; the layout has ${LATENCY_BUCKETS}`);
  const latency = m.latency_buckets.map((v, i) => count(v, `${field}.latency_buckets[${i}]`));
  const requests = count(m.requests, `${field}.requests`);
  if (requests === 0) throw new ValidationError(`${field}.requests`, 'must be at least 1 (rows without requests are left out)');
  if (latency.reduce((a, b) => a + b, 0) !== requests)
    throw new ValidationError(`${field}.latency_buckets`, `count ${latency.reduce((a, b) => a + b, 0)} requests, not ${requests}`);
  return {
    source: name(m.source, `${field}.source`),
    destination: name(m.destination, `${field}.destination`),
    outcome,
    requests,
    bytesIn: count(m.bytes_in, `${field}.bytes_in`),
    bytesOut: count(m.bytes_out, `${field}.bytes_out`),
    latency,
  };
}

export function parseStatsReport(req: StatsReport__Output): EdgeSample[] {
  if (req.latency_layout !== LATENCY_LAYOUT)
    throw new ValidationError(
      'latency_layout',
      `${JSON.stringify(req.latency_layout)} is not a layout this control plane knows (${LATENCY_LAYOUT})`,
    );
  if (req.edges.length > MAX_REPORT_ROWS) throw new ValidationError('edges', `at most ${MAX_REPORT_ROWS} rows per report`);
  return req.edges.map((e, i) => parseEdgeStats(e, `edges[${i}]`));
}

/**
 * `metrics` (the control plane's /metrics) gains
 *   weft_cp_stats_reports_total{result}   reports accepted / refused
 *   weft_cp_stats_dropped_rows            rows not filed because a slot was full (since start)
 */
export function createTelemetryHandlers(stats: StatsWindow, log: Logger, metrics?: MetricsRegistry): TelemetryHandlers {
  const reports = metrics?.counter('weft_cp_stats_reports_total', 'Telemetry reports from agents, by result (accepted, refused).', [
    'result',
  ]);
  const accepted = reports?.labels('accepted');
  const refused = reports?.labels('refused');
  accepted?.inc(0);
  refused?.inc(0);
  const dropped = metrics?.gauge(
    'weft_cp_stats_dropped_rows',
    'Report rows not kept because their 10 s slot held the most edges it may (since start).',
  );
  metrics?.beforeRender(() => dropped?.set(stats.dropped));
  return {
    Report: (call: grpc.ServerUnaryCall<StatsReport__Output, StatsAck>, callback: grpc.sendUnaryData<StatsAck>) => {
      try {
        const agentId = actingAgent(call, call.request.agent_id, 'agent_id');
        const samples = parseStatsReport(call.request);
        stats.add(samples);
        log.debug('stats report', { agent: agentId, rows: samples.length });
        accepted?.inc();
        callback(null, {});
      } catch (err) {
        refused?.inc();
        if (isInternal(err)) log.error('stats report failed', { err });
        else log.info('stats report refused', { err });
        callback(toGrpcError(err));
      }
    },
  };
}
