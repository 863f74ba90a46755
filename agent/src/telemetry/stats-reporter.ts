/**
 * Sends the agent's golden metrics (proxy/edge-stats.ts) to the control
 * plane's Telemetry.Report every `intervalMs` (default 5 s), over the
 * agent's authenticated control-plane channel (the same target, options and
 * credentials as Discovery and Registry, so grpc-js shares one connection;
 * the control plane knows the agent from its certificate).
 *
 * Each report carries the rows drained since the last delivered one. A
 * report that fails (control plane down, deadline) is put back into the
 * table and goes out with the next: counts are deltas, never resent after
 * an ACK, never lost while the agent runs. At most one report is in flight;
 * a tick that finds one in flight is skipped. Nothing is sent for an
 * interval with no requests.
 */
import * as grpc from '@grpc/grpc-js';
import { LATENCY_LAYOUT, type Logger, loadWeftProto, messageOf, OUTCOMES } from '@weft/shared';
import type { EdgeStats } from '@weft/shared/generated/weft/v1/EdgeStats';
import type { Outcome as OutcomeMsg } from '@weft/shared/generated/weft/v1/Outcome';
import type { TelemetryClient } from '@weft/shared/generated/weft/v1/Telemetry';
import type { ControlPlaneAddresses } from '../discovery/control-plane-addresses.js';
import { CHANNEL_OPTIONS, controlPlaneTarget } from '../discovery/grpc-channel.js';
import type { EdgeRow, EdgeStatsTable } from '../proxy/edge-stats.js';

export const DEFAULT_STATS_INTERVAL_MS = 5_000;

const OUTCOME_TO_PROTO: Record<(typeof OUTCOMES)[number], OutcomeMsg> = {
  success: 'OUTCOME_SUCCESS',
  app_error: 'OUTCOME_APP_ERROR',
  mesh_error: 'OUTCOME_MESH_ERROR',
  cancelled: 'OUTCOME_CANCELLED',
};

export interface StatsReporterOptions {
  table: EdgeStatsTable;
  agentId: string;
  controlPlane: ControlPlaneAddresses;
  /** The agent's control-plane credentials; plaintext when absent (--insecure). */
  credentials?: grpc.ChannelCredentials;
  intervalMs?: number;
  logger: Logger;
}

export function edgeRowToProto(r: EdgeRow): EdgeStats {
  let last = r.latency.length;
  while (last > 0 && r.latency[last - 1] === 0) last--;
  return {
    source: r.source,
    destination: r.destination,
    outcome: OUTCOME_TO_PROTO[OUTCOMES[r.outcome]!],
    requests: r.requests,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    latency_buckets: r.latency.slice(0, last),
  };
}

export class StatsReporter {
  private readonly client: TelemetryClient;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lastSentAt = Date.now();
  private failing = false;

  constructor(private readonly opts: StatsReporterOptions) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    this.client = new (loadWeftProto().Telemetry)(
      controlPlaneTarget(opts.controlPlane),
      opts.credentials ?? grpc.credentials.createInsecure(),
      CHANNEL_OPTIONS,
    );
    this.log = opts.logger.child({ component: 'stats' });
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Sends what was counted so far (also used at close and by tests); resolves when delivered or put back. */
  flush(deadlineMs = Math.max(2_000, this.intervalMs)): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const rows = this.opts.table.drain();
    if (rows.length === 0) return Promise.resolve();
    const now = Date.now();
    const report = {
      agent_id: this.opts.agentId,
      latency_layout: LATENCY_LAYOUT,
      interval_ms: Math.min(now - this.lastSentAt, 2 ** 32 - 1),
      edges: rows.map(edgeRowToProto),
    };
    this.inFlight = new Promise<void>((resolve) => {
      this.client.Report(report, { deadline: now + deadlineMs }, (err) => {
        this.inFlight = undefined;
        if (err) {
          this.opts.table.restore(rows);
          if (!this.failing) this.log.warn('stats report failed; kept for the next one', { err: messageOf(err) });
          this.failing = true;
        } else {
          this.lastSentAt = now;
          if (this.failing) this.log.info('stats reports delivered again');
          this.failing = false;
        }
        resolve();
      });
    });
    return this.inFlight;
  }

  /** Stops the timer, sends a last report (waits at most 1 s for it) and closes the client. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(1_000);
    this.client.close();
  }
}
