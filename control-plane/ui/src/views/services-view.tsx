/** Every service: instances and their health, protocols, zones, owning agents, and the last minute's golden metrics. */
import { ms, percent, rate } from '../format.js';
import { useResource } from '../live.js';
import { hasStats, STATS_PATH, serviceStats } from '../stats.js';
import type { AgentsResponse, ServicesResponse, StatsResponse } from '../types.js';
import { Loading, NoData } from './common.js';

function distinct(values: string[]): string {
  return [...new Set(values.filter(Boolean))].sort().join(', ') || '–';
}

export function ServicesView() {
  const services = useResource<ServicesResponse>('/v1/services', ['services']);
  const agents = useResource<AgentsResponse>('/v1/agents', ['agents']);
  const stats = useResource<StatsResponse>(STATS_PATH, ['stats']);
  const disconnected = new Set((agents.data?.agents ?? []).filter((a) => !a.connected).map((a) => a.agentId));
  return (
    <section>
      <h1>Services</h1>
      {!hasStats(stats) && <NoData what="golden metrics appear once agents report traffic (GET /v1/stats)" />}
      <Loading r={services}>
        {(data) =>
          data.services.length === 0 ? (
            <p class="muted">No services are registered. Register one with `weft register`.</p>
          ) : (
            <table class="grid" data-table="services">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>Instances</th>
                  <th>Health</th>
                  <th>Protocol</th>
                  <th>Zones</th>
                  <th>Agents</th>
                  <th class="num">Requests</th>
                  <th class="num">Success</th>
                  <th class="num">p50</th>
                  <th class="num">p99</th>
                </tr>
              </thead>
              <tbody>
                {data.services.map((s) => {
                  const passing = s.instances.filter((i) => i.health === 'passing').length;
                  const m = serviceStats(stats, s.name);
                  const stale = s.instances.filter((i) => disconnected.has(i.agentId)).length;
                  return (
                    <tr key={s.name} data-service={s.name}>
                      <td>
                        <a href={`#/services/${encodeURIComponent(s.name)}`}>{s.name}</a>
                      </td>
                      <td class="num">{s.instances.length}</td>
                      <td>
                        <span class={`badge ${passing === s.instances.length ? 'good' : passing === 0 ? 'bad' : 'warn'}`} data-passing>
                          {passing}/{s.instances.length} passing
                        </span>
                        {stale > 0 && <span class="badge warn">{stale} on disconnected agents</span>}
                      </td>
                      <td>{distinct(s.instances.map((i) => i.protocol))}</td>
                      <td>{distinct(s.instances.map((i) => i.zone))}</td>
                      <td>{distinct(s.instances.map((i) => i.agentId))}</td>
                      <td class="num" data-metric="rate">
                        {rate(m?.requestsPerSecond)}
                      </td>
                      <td class="num" data-metric="success">
                        {percent(m?.successRate)}
                      </td>
                      <td class="num">{ms(m?.p50Ms)}</td>
                      <td class="num">{ms(m?.p99Ms)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )
        }
      </Loading>
    </section>
  );
}
