/**
 * The source-service label of a request (golden metrics and /metrics),
 * read only from the exchange's source identity (Exchange.source: the
 * verified peer certificate inbound, the local app's proxy credential
 * outbound; never a header):
 *   - an authenticated `/svc/<name>` identity: `<name>`;
 *   - an authenticated `/agent/<id>` identity (the calling agent on the
 *     mesh hop): `agent:<id>`;
 *   - nothing authenticated: the listener's fallback — outbound, the local
 *     caller is attributed to this agent, `agent:<own id>`; inbound,
 *     `unknown` (an --insecure hop names nobody).
 * Labels of agent identities are made once per id and cached, so a request
 * costs at most one Map lookup here.
 */
import type { SourceIdentity } from '@weft/shared';

export type SourceLabeler = (source: SourceIdentity | undefined) => string;

export const UNKNOWN_SOURCE = 'unknown';

export function agentSourceLabel(agentId: string): string {
  return `agent:${agentId}`;
}

export function sourceLabeler(fallback: string): SourceLabeler {
  const agents = new Map<string, string>();
  return (source) => {
    if (source === undefined || !source.authenticated) return fallback;
    if (source.service) return source.service;
    const id = source.agentId;
    if (!id) return fallback;
    let label = agents.get(id);
    if (label === undefined) {
      label = agentSourceLabel(id);
      if (agents.size < 10_000) agents.set(id, label);
    }
    return label;
  };
}
