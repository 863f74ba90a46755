/**
 * The text of `weft stat` and of each `weft top` frame: per service, and for
 * one service its inbound and outbound edges, with request rate, success
 * rate and p50/p99 (as `linkerd viz stat`).
 */
import type { GoldenMetrics, StatsSnapshot } from '@weft/shared';
import { formatTable } from './table.js';

export function rate(v: number): string {
  return `${v < 10 ? v.toFixed(2) : v.toFixed(1)}rps`;
}

export function percent(v: number | null): string {
  return v === null ? '-' : `${(v * 100).toFixed(2)}%`;
}

export function ms(v: number | null): string {
  return v === null ? '-' : `${v < 10 ? v.toFixed(1) : Math.round(v)}ms`;
}

const cells = (m: GoldenMetrics) => [percent(m.successRate), rate(m.requestsPerSecond), ms(m.p50Ms), ms(m.p99Ms)];
const HEAD = ['SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P99'];

/** The edges of `service`: who calls it, and whom it calls (its own requests carry it as the source). */
export function edgesOf(s: StatsSnapshot, service: string) {
  return {
    inbound: s.edges.filter((e) => e.destination === service),
    outbound: s.edges.filter((e) => e.source === service),
  };
}

export function formatStats(s: StatsSnapshot, service?: string): string {
  const out: string[] = [];
  const services = service === undefined ? s.services : s.services.filter((x) => x.service === service);
  if (services.length === 0) {
    out.push(
      service === undefined ? `no requests in the last ${s.windowSeconds}s` : `no requests to ${service} in the last ${s.windowSeconds}s`,
    );
  } else {
    out.push(
      formatTable(
        ['SERVICE', ...HEAD],
        services.map((x) => [x.service, ...cells(x)]),
      ),
    );
  }
  if (service !== undefined) {
    const { inbound, outbound } = edgesOf(s, service);
    out.push('', `inbound edges of ${service}`);
    out.push(
      inbound.length === 0
        ? '(none)'
        : formatTable(
            ['FROM', ...HEAD],
            inbound.map((e) => [e.source, ...cells(e)]),
          ),
    );
    out.push('', `outbound edges of ${service}`);
    out.push(
      outbound.length === 0
        ? '(none)'
        : formatTable(
            ['TO', ...HEAD],
            outbound.map((e) => [e.destination, ...cells(e)]),
          ),
    );
  } else if (s.edges.length > 0) {
    out.push(
      '',
      formatTable(
        ['FROM', 'TO', ...HEAD],
        s.edges.map((e) => [e.source, e.destination, ...cells(e)]),
      ),
    );
  }
  return out.join('\n');
}
