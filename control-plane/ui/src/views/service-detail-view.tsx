/** One service: its instances with health and owning agent, and its golden metrics over the last 15 minutes. */
import { useMemo } from 'preact/hooks';
import { type Line, SeriesChart } from '../charts/series-chart.js';
import { ms, percent, rate } from '../format.js';
import { type Resource, useResource } from '../live.js';
import { STATS_PATH, serviceStats } from '../stats.js';
import type { AgentsResponse, SeriesResponse, ServicesResponse, StatsResponse } from '../types.js';
import { AgentState, Health, Loading, NoData } from './common.js';

function Charts({ series }: { series: Resource<SeriesResponse> }) {
  const points = series.data?.points ?? [];
  const charts = useMemo(() => {
    const times = points.map((p) => p.tMs);
    const pick = (f: (p: (typeof points)[number]) => number | null): (number | null)[] => points.map(f);
    return {
      times,
      rate: [{ label: 'requests/s', color: '#2563eb', values: pick((p) => p.requestsPerSecond) }] as Line[],
      success: [
        { label: 'success %', color: '#16a34a', values: pick((p) => (p.successRate === null ? null : p.successRate * 100)) },
      ] as Line[],
      latency: [
        { label: 'p50 ms', color: '#7c3aed', values: pick((p) => p.p50Ms) },
        { label: 'p99 ms', color: '#dc2626', values: pick((p) => p.p99Ms) },
      ] as Line[],
    };
  }, [series.data]);
  if (points.length === 0)
    return <NoData what="no golden metrics reported for this service in the last 15 minutes (GET /v1/stats/series)" />;
  return (
    <div class="charts">
      <SeriesChart title="Request rate" unit="req/s" times={charts.times} lines={charts.rate} />
      <SeriesChart title="Success rate" unit="%" times={charts.times} lines={charts.success} range={PERCENT} />
      <SeriesChart title="Latency p50 / p99" unit="ms" times={charts.times} lines={charts.latency} />
    </div>
  );
}

const PERCENT: [number, number] = [0, 100];

export function ServiceDetailView({ name }: { name: string }) {
  const services = useResource<ServicesResponse>('/v1/services', ['services']);
  const agents = useResource<AgentsResponse>('/v1/agents', ['agents']);
  const stats = useResource<StatsResponse>(STATS_PATH, ['stats']);
  const series = useResource<SeriesResponse>(`/v1/stats/series?service=${encodeURIComponent(name)}&window=15m`, ['stats']);
  const m = serviceStats(stats, name);
  const agentOf = (id: string) => agents.data?.agents.find((a) => a.agentId === id);
  return (
    <section data-view="service" data-name={name}>
      <p>
        <a href="#/services">← Services</a>
      </p>
      <h1>{name}</h1>
      <dl class="summary" data-summary>
        <dt>Requests</dt>
        <dd data-metric="rate">{rate(m?.requestsPerSecond)}</dd>
        <dt>Success</dt>
        <dd data-metric="success">{percent(m?.successRate)}</dd>
        <dt>p50</dt>
        <dd>{ms(m?.p50Ms)}</dd>
        <dt>p99</dt>
        <dd>{ms(m?.p99Ms)}</dd>
      </dl>
      <h2>Instances</h2>
      <Loading r={services}>
        {(data) => {
          const s = data.services.find((x) => x.name === name);
          if (!s) return <p class="muted">No instances of {name} are registered.</p>;
          return (
            <table class="grid" data-table="instances">
              <thead>
                <tr>
                  <th>Instance</th>
                  <th>Address</th>
                  <th>Health</th>
                  <th>Protocol</th>
                  <th>Zone</th>
                  <th>Agent</th>
                  <th>Agent state</th>
                  <th>Tags</th>
                </tr>
              </thead>
              <tbody>
                {s.instances.map((i) => (
                  <tr key={i.instanceId} data-instance={i.instanceId}>
                    <td>{i.instanceId}</td>
                    <td>
                      {i.address}:{i.port}
                    </td>
                    <td>
                      <Health health={i.health} />
                    </td>
                    <td>{i.protocol}</td>
                    <td>{i.zone || '–'}</td>
                    <td>{i.agentId}</td>
                    <td>
                      <AgentState agent={agentOf(i.agentId)} />
                    </td>
                    <td>{i.tags.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </Loading>
      <h2>Golden metrics, last 15 minutes</h2>
      <Charts series={series} />
    </section>
  );
}
