/**
 * The change feed's fingerprints (change-feed.ts), read from the same state
 * the HTTP API answers from. The agents fingerprint covers every field of
 * /v1/agents that can change without a registry revision (connection, lease,
 * stream, ACK/NACK per resource, remembered rejections, certificate), as one
 * flat string: no sorting, no objects per agent, no JSON, because it is
 * computed once a second while a dashboard is open.
 */
import type { PolicyRegistry } from '../registry/policy-registry.js';
import type { Registry } from '../registry/registry.js';
import type { AgentTrustStatus } from './agent-status.js';
import type { FeedSources } from './change-feed.js';
import type { RejectedVersions } from './rejected-versions.js';
import type { StreamTable } from './stream-table.js';

export interface FeedState {
  registry: Registry;
  streams: StreamTable;
  policies?: PolicyRegistry;
  rejections?: RejectedVersions;
  trustStatus?: () => Map<string, AgentTrustStatus>;
}

export function feedSources(s: FeedState): FeedSources {
  return {
    services: () => String(s.registry.revision()),
    config: () => String(s.policies?.revision() ?? 0),
    agents: () => {
      const trust = s.trustStatus?.();
      const parts: string[] = [];
      for (const r of s.registry.agentRecords()) {
        const id = r.info.agentId;
        const cert = trust?.get(id);
        parts.push(id, String(r.connected), String(r.leaseExpiresAtMs), String(r.instances));
        parts.push(r.info.hostname, r.info.address, String(r.info.inboundPort), r.info.zone, r.info.version);
        if (cert) parts.push(cert.certSerial, String(cert.revoked));
        const status = s.streams.get(id)?.stream.status();
        if (status) {
          parts.push(status.streamId, status.pendingNonce);
          for (const res of status.resources) parts.push(res.name, res.sentVersion, res.ackedVersion, res.rejectedVersion);
        }
        for (const rej of s.rejections?.ofAgent(id) ?? []) parts.push(rej.name, rej.version);
        parts.push('\n');
      }
      return parts.join('\u0000');
    },
  };
}
