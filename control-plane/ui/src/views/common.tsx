/** Small pieces the views share: load/error states, the "no data yet" notice, health and agent badges. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { relative } from '../format.js';
import type { Resource } from '../live.js';
import type { Agent } from '../types.js';

export function Loading<T>({ r, children }: { r: Resource<T>; children: (data: T) => ComponentChildren }) {
  if (r.data !== undefined) return <>{children(r.data)}</>;
  if (r.error) return <p class="error">{r.error}</p>;
  if (r.missing) return <NoData what="this endpoint" />;
  return <p class="muted">loading…</p>;
}

export function NoData({ what }: { what: string }) {
  return (
    <p class="no-data" data-no-data>
      no data yet — {what}
    </p>
  );
}

export function Health({ health }: { health: string }) {
  return (
    <span class={`badge health-${health}`} data-health={health}>
      {health}
    </span>
  );
}

/** Re-renders every `everyMs` so relative times ("lease ends in 12s") keep counting between fetches. */
function useClock(everyMs: number): void {
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
}

/** "connected", or "disconnected, lease ends in 12s". */
export function AgentState({ agent }: { agent: Agent | undefined }) {
  useClock(1000);
  if (!agent) return <span class="badge bad">unknown agent</span>;
  if (agent.revoked) return <span class="badge bad">revoked</span>;
  if (agent.connected)
    return (
      <span class="badge good" data-agent-state="connected">
        connected
      </span>
    );
  return (
    <span class="badge warn" data-agent-state="disconnected">
      disconnected{agent.leaseExpiresAtMs ? `, lease ends ${relative(agent.leaseExpiresAtMs)}` : ''}
    </span>
  );
}
