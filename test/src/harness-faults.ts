/**
 * Helpers for the resilience end-to-end tests, on top of harness.ts: a
 * steady client load through an agent, graceful stop of a test service,
 * deregistration, and reading an agent's /metrics. Misbehaving upstreams and
 * the raw-socket client come from the agent's own test support.
 */
import type { AgentProc, TestService } from './harness.js';
import { send, viaProxy } from './harness.js';

export { type FaultServer, idleClosingServer, metricValue, rawExchange, resetOnReuseServer } from '@weft/agent/proxy/fault-upstreams';

/** The agent's Prometheus text. */
export async function agentMetrics(agent: AgentProc): Promise<string> {
  const r = await send({ port: agent.adminPort, path: '/metrics' });
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return r.body.toString();
}

/** Deregisters a local instance through the agent's admin API; fails the test when it is refused. */
export async function deregister(agent: AgentProc, id: string): Promise<void> {
  const r = await send({ port: agent.adminPort, path: `/v1/services/${encodeURIComponent(id)}`, method: 'DELETE' });
  if (r.status !== 200) throw new Error(`deregistration of ${id} refused (${r.status}): ${r.body}`);
}

/** Stops accepting, lets requests in progress finish, closes idle keep-alive connections: a clean process exit. */
export function stopGracefully(svc: TestService): Promise<void> {
  return new Promise<void>((resolve) => {
    svc.server.close(() => resolve());
    svc.server.closeIdleConnections();
  });
}

export interface LoadReport {
  sent: number;
  ok: number;
  /** One line per failed request: status, x-weft-error and body. */
  failures: string[];
  /** Requests served per x-served-by. */
  servedBy: Map<string, number>;
}

/**
 * A steady stream of requests to `url` through the agent's outbound port:
 * `workers` loops, each sending one request at a time (alternating GET and a
 * small POST) with `gapMs` between them, until stop() is called.
 */
export class SteadyLoad {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  readonly report: LoadReport = { sent: 0, ok: 0, failures: [], servedBy: new Map() };

  constructor(
    private readonly agent: AgentProc,
    private readonly url: string,
    workers = 4,
    private readonly gapMs = 5,
  ) {
    for (let w = 0; w < workers; w++) this.loops.push(this.loop(w));
  }

  private async loop(worker: number): Promise<void> {
    for (let i = 0; this.running; i++) {
      const post = (i + worker) % 2 === 1;
      this.report.sent++;
      try {
        const r = await viaProxy(this.agent.outboundPort, this.url, {
          method: post ? 'POST' : 'GET',
          body: post ? `worker ${worker} request ${i}` : undefined,
          headers: post ? { 'content-type': 'text/plain' } : {},
          timeoutMs: 10_000,
        });
        if (r.status === 200) {
          this.report.ok++;
          const who = String(r.headers['x-served-by']);
          this.report.servedBy.set(who, (this.report.servedBy.get(who) ?? 0) + 1);
        } else {
          this.report.failures.push(
            `${post ? 'POST' : 'GET'} ${r.status} ${r.headers['x-weft-error'] ?? '-'}: ${r.body.toString().trim()}`,
          );
        }
      } catch (err) {
        this.report.failures.push(`${post ? 'POST' : 'GET'} transport error: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, this.gapMs));
    }
  }

  async stop(): Promise<LoadReport> {
    this.running = false;
    await Promise.all(this.loops);
    return this.report;
  }
}
