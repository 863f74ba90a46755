import type { Command } from 'commander';
import { connectRegistry } from '../registry-client.js';
import { formatTable } from '../table.js';
import { callAgent } from './register.js';
import { controlPlaneOption } from './services.js';

/** One certificate as the agent's GET /v1/certificates describes it (agent/src/identity/certificate-status.ts). */
interface CertificateView {
  spiffeId: string;
  serial: string;
  issuer: string;
  notAfter: string;
}

/**
 * `weft status --agent HOST:PORT`: the certificates one agent holds, read
 * from its admin API (service certificates live on the agent, in memory:
 * the control plane does not record them, docs/security.md).
 */
async function agentCertificates(agent: string, json: boolean): Promise<void> {
  const answer = await callAgent(agent, 'GET', '/v1/certificates');
  if (json) {
    console.log(JSON.stringify(answer, null, 2));
    return;
  }
  if (answer.mode === 'insecure') {
    console.log(`agent ${String(answer.agentId)}: --insecure, no certificates (the mesh hop is plaintext)`);
    return;
  }
  const own = answer.agent as CertificateView;
  const services = (answer.services ?? []) as {
    service: string;
    state: string;
    certificate?: CertificateView;
    nextRenewal?: string;
    lastError?: string;
  }[];
  const short = (iso: string | undefined) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '-');
  const rows = [
    ['(agent)', own.spiffeId, own.serial, short(own.notAfter), '-', own.issuer],
    ...services.map((s) =>
      s.certificate === undefined
        ? [s.service, 'PENDING', '-', '-', short(s.nextRenewal), s.lastError ?? 'not issued yet']
        : [
            s.service,
            s.certificate.spiffeId,
            s.certificate.serial,
            short(s.certificate.notAfter),
            short(s.nextRenewal),
            s.certificate.issuer,
          ],
    ),
  ];
  console.log(`agent ${String(answer.agentId)} (${agent}): ${services.length} service certificate(s)`);
  console.log(formatTable(['SERVICE', 'SPIFFE ID', 'SERIAL', 'NOT AFTER', 'RENEWS', 'ISSUER'], rows));
}

export function statusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'connected agents, the config version each holds, and whether they ACKed it; with --agent, the certificates one agent holds',
    )
    .option(...controlPlaneOption)
    .option('--agent <host:port>', "show this agent's own and its hosted services' certificates (its admin API) instead")
    .option('--json', 'print JSON')
    .action(async (o: { controlPlane: string; agent?: string; json?: boolean }) => {
      if (o.agent !== undefined) return agentCertificates(o.agent, o.json === true);
      const registry = connectRegistry(o.controlPlane);
      try {
        const res = await registry.listAgents();
        if (o.json) {
          console.log(JSON.stringify(res, null, 2));
          return;
        }
        console.log(
          `control plane ${o.controlPlane}, revision ${res.revision}, ${res.agents.filter((a) => a.connected).length} agent(s) connected`,
        );
        if (res.agents.length === 0) return;
        const rows = res.agents.map((a) => {
          const acked = a.resources.filter(inSync).length;
          const state = !a.connected
            ? `disconnected, lease ends in ${Math.max(0, Math.round((Number(a.lease_expires_at_ms) - Date.now()) / 1000))}s`
            : a.pending_nonce
              ? `waiting for ACK of nonce ${a.pending_nonce}`
              : 'in sync';
          const certExpires = Number(a.cert_expires_at_ms);
          const cert = a.revoked ? 'REVOKED' : certExpires ? new Date(certExpires).toISOString().replace(/\.\d+Z$/, 'Z') : '-';
          return [
            a.agent?.agent_id ?? '?',
            `${a.agent?.address}:${a.agent?.inbound_port}`,
            String(a.instances),
            `${acked}/${a.resources.length} acked`,
            cert,
            state,
          ];
        });
        console.log(formatTable(['AGENT', 'INBOUND', 'INSTANCES', 'RESOURCES', 'CERT EXPIRES', 'STATE'], rows));
        const resources = res.agents.flatMap((a) => a.resources.map((r) => ({ agent: a.agent?.agent_id ?? '?', ...r })));
        if (resources.length) {
          console.log('');
          console.log(
            formatTable(
              ['AGENT', 'RESOURCE', 'SENT', 'ACKED', 'REJECTED'],
              resources.map((r) => [
                r.agent,
                r.name,
                r.sent_version,
                isNotFound(r) ? '(not found)' : r.acked_version,
                r.rejected_version ? `${r.rejected_version}: ${r.error}` : '',
              ]),
            ),
          );
        }
      } finally {
        registry.close();
      }
    });
}

interface ResourceRow {
  sent_version: string;
  acked_version: string;
  rejected_version: string;
}

/**
 * A name the agent subscribed to that does not exist (a policy nobody wrote,
 * a service not registered yet): nothing was sent, nothing is owed.
 */
const isNotFound = (r: ResourceRow) => r.sent_version === '' && r.acked_version === '' && r.rejected_version === '';

/** In sync: the agent ACKed the version last sent, or there is nothing to hold (not found). */
export const inSync = (r: ResourceRow) => isNotFound(r) || (r.acked_version !== '' && r.acked_version === r.sent_version);
