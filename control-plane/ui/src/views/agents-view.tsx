/** Every agent: connection and lease, per-resource config versions with ACK/NACK (and the reason), certificate expiry. */
import { dateTime, relative } from '../format.js';
import { useResource } from '../live.js';
import type { Agent, AgentsResponse, ResourceStatus } from '../types.js';
import { AgentState, Loading } from './common.js';

function resourceState(r: ResourceStatus): { label: string; cls: string } {
  if (r.rejectedVersion && r.rejectedVersion !== r.ackedVersion) return { label: `NACK ${r.rejectedVersion}`, cls: 'bad' };
  if (r.sentVersion && r.sentVersion === r.ackedVersion) return { label: `ACK ${r.ackedVersion}`, cls: 'good' };
  if (r.sentVersion) return { label: `sent ${r.sentVersion}, waiting`, cls: 'warn' };
  if (r.ackedVersion) return { label: `ACK ${r.ackedVersion}`, cls: 'good' };
  // Nothing sent on this stream: the agent reconnected holding the current version (the server sends only what differs).
  return { label: 'held, up to date', cls: 'good' };
}

function Certificate({ agent }: { agent: Agent }) {
  if (!agent.certExpiresAtMs) return <span class="muted">–</span>;
  const soon = agent.certExpiresAtMs - Date.now() < 3600_000;
  return (
    <span class={soon ? 'badge warn' : ''} title={`serial ${agent.certSerial}`} data-cert-expiry>
      {dateTime(agent.certExpiresAtMs)} ({relative(agent.certExpiresAtMs)})
    </span>
  );
}

function Resources({ resources }: { resources: ResourceStatus[] }) {
  if (resources.length === 0) return <span class="muted">none subscribed</span>;
  return (
    <ul class="resources">
      {resources.map((r) => {
        const s = resourceState(r);
        return (
          <li key={r.name} data-resource={r.name}>
            <code>{r.name}</code> <span class={`badge ${s.cls}`}>{s.label}</span>
            {r.error && (
              <span class="nack-reason" data-nack-reason>
                {r.error}
              </span>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export function AgentsView() {
  const agents = useResource<AgentsResponse>('/v1/agents', ['agents']);
  return (
    <section data-view="agents">
      <h1>Agents</h1>
      <Loading r={agents}>
        {(data) =>
          data.agents.length === 0 ? (
            <p class="muted">No agents are connected or within their lease.</p>
          ) : (
            <table class="grid" data-table="agents">
              <thead>
                <tr>
                  <th>Agent</th>
                  <th>Host</th>
                  <th>State</th>
                  <th>Zone</th>
                  <th class="num">Instances</th>
                  <th>Config (per resource)</th>
                  <th>Certificate expires</th>
                </tr>
              </thead>
              <tbody>
                {data.agents.map((a) => (
                  <tr key={a.agentId} data-agent={a.agentId}>
                    <td>
                      {a.agentId}
                      <div class="muted small">{a.version}</div>
                    </td>
                    <td>
                      {a.hostname}
                      <div class="muted small">
                        {a.address}:{a.inboundPort}
                      </div>
                    </td>
                    <td>
                      <AgentState agent={a} />
                    </td>
                    <td>{a.zone || '–'}</td>
                    <td class="num">{a.instances}</td>
                    <td>
                      <Resources resources={a.resources} />
                    </td>
                    <td>
                      <Certificate agent={a} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Loading>
    </section>
  );
}
