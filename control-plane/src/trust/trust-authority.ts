/**
 * The trust state of the mesh, without gRPC: enrolment and renewal (who gets
 * which certificate), revocations, and the two "trust/..." resources the
 * discovery stream carries (the deny list and the CA bundle), each an
 * immutable entry replaced on change so every stream shares one encoding.
 */
import { createHash } from 'node:crypto';
import {
  agentSpiffeId,
  type Logger,
  PermissionDeniedError,
  serviceSpiffeId,
  TRUST_BUNDLE_RESOURCE,
  TRUST_REVOCATIONS_RESOURCE,
  validateInstanceId,
} from '@weft/shared';
import type { Resource } from '@weft/shared/generated/weft/v1/Resource';
import type { IssuedCert, MeshCa } from '../ca/mesh-ca.js';
import { type Watcher, WatchIndex } from '../registry/watch-index.js';
import type { CertificateRecord, TrustStoreContract } from '../store/store-contract.js';
import { CertificateBatcher } from './certificate-batcher.js';
import type { Tokens } from './tokens.js';

export interface IssuedAgentCertificate extends IssuedCert {
  agentId: string;
  spiffeId: string;
  caBundlePem: string;
  trustDomain: string;
  /** Set for a service certificate: the service; agentId is then the agent that holds it. */
  service?: string;
}

/** A "trust/..." resource: the version and the proto Resource, both immutable. */
export interface TrustEntry {
  version: string;
  resource: Resource;
}

export interface TrustAuthorityOptions {
  ca: MeshCa;
  store: TrustStoreContract;
  tokens: Tokens;
  /** Lifetime of agent certificates. */
  certTtlMs: number;
  logger: Logger;
  now?: () => number;
}

export class TrustAuthority {
  private readonly ca: MeshCa;
  private readonly store: TrustStoreContract;
  private readonly tokens: Tokens;
  private readonly log: Logger;
  private readonly now: () => number;
  private revoked = new Set<string>();
  /** Latest certificate per agent, read at start and kept as this process issues more. */
  private certs = new Map<string, CertificateRecord>();
  private entries = new Map<string, TrustEntry>();
  private readonly watches = new WatchIndex();
  /** Certificate records (and enrolments' token uses) share commits: one fsync per batch, not two per call. */
  private readonly batcher: CertificateBatcher;

  constructor(private readonly opts: TrustAuthorityOptions) {
    this.ca = opts.ca;
    this.store = opts.store;
    this.tokens = opts.tokens;
    this.log = opts.logger.child({ component: 'trust' });
    this.now = opts.now ?? Date.now;
    this.batcher = new CertificateBatcher(this.store);
    this.ca.onChange(() => {
      this.rebuild()
        .then(() => this.notify(TRUST_BUNDLE_RESOURCE))
        .catch((err) => this.log.error('cannot rebuild the trust resources', { err }));
    });
  }

  /** Replicas: another replica revoked an agent; re-reads the trust state and pushes the new deny list. */
  async reload(): Promise<void> {
    await this.load();
    this.notify(TRUST_REVOCATIONS_RESOURCE);
  }

  /** Reads revocations and certificates from the store and builds the trust resources (start; replicas: after another's change). */
  async load(): Promise<void> {
    this.revoked = new Set((await this.store.revokedAgents()).map((r) => r.agentId));
    this.certs = await this.store.latestCertificates();
    await this.rebuild();
  }

  get trustDomain(): string {
    return this.ca.trustDomain;
  }

  isRevoked(agentId: string): boolean {
    return this.revoked.has(agentId);
  }

  /**
   * Enrolment: checks the join token, certifies the agent's key, then takes
   * one use of the token and records the certificate in ONE store write
   * (batched with concurrent calls); the certificate is returned only once
   * that write committed, and not at all when the token had no use left
   * (a concurrent call took the last one after the check).
   */
  async enrol(joinToken: string, requestedAgentId: string, csrPem: string): Promise<IssuedAgentCertificate> {
    const token = await this.tokens.checkFresh(joinToken, ['join'], 'join_token');
    const agentId = validateInstanceId(requestedAgentId || token.agentId || '', 'agent_id');
    if (token.agentId && token.agentId !== agentId)
      throw new PermissionDeniedError(
        `join token ${token.tokenId} enrols agent ${JSON.stringify(token.agentId)}, not ${JSON.stringify(agentId)}`,
      );
    if (this.revoked.has(agentId)) throw new PermissionDeniedError(`agent ${JSON.stringify(agentId)} is revoked`, 'agent_revoked');
    const current = await this.store.latestCertificate(agentId);
    if (!token.agentId && current && current.expiresAtMs > this.now())
      throw new PermissionDeniedError(
        `agent ${JSON.stringify(agentId)} is already enrolled (certificate valid until ${new Date(current.expiresAtMs).toISOString()}); ` +
          `to enrol it again, use a token made with --agent-id ${agentId}`,
      );
    const issued = await this.certify(agentId, csrPem, token.usesLeft === null ? undefined : token.tokenId);
    this.log.info('agent enrolled', { agent: agentId, token: token.tokenId, serial: issued.serial, expiresAtMs: issued.notAfterMs });
    return issued;
  }

  /** Renewal over the agent's authenticated channel. */
  async renew(agentId: string, csrPem: string): Promise<IssuedAgentCertificate> {
    if (this.revoked.has(agentId)) throw new PermissionDeniedError(`agent ${JSON.stringify(agentId)} is revoked`, 'agent_revoked');
    const issued = await this.certify(agentId, csrPem);
    this.log.info('agent certificate renewed', { agent: agentId, serial: issued.serial, expiresAtMs: issued.notAfterMs });
    return issued;
  }

  /**
   * A certificate for service `service`, to agent `agentId` (the caller, from
   * its certificate), only while `hosts(agentId, service)` says the registry
   * holds an instance of it owned by that agent. Not recorded in the store:
   * the certificate names its holder (subject CN = the agent's SPIFFE ID), so
   * the agent's revocation covers it without a list of its serials.
   */
  async certifyService(
    agentId: string,
    service: string,
    csrPem: string,
    hosts: (agentId: string, service: string) => boolean,
  ): Promise<IssuedAgentCertificate> {
    if (this.revoked.has(agentId)) throw new PermissionDeniedError(`agent ${JSON.stringify(agentId)} is revoked`, 'agent_revoked');
    if (!hosts(agentId, service))
      throw new PermissionDeniedError(
        `service: agent ${JSON.stringify(agentId)} hosts no instance of service ${JSON.stringify(service)} (register one first)`,
      );
    const spiffeId = serviceSpiffeId(this.ca.trustDomain, service);
    const holder = agentSpiffeId(this.ca.trustDomain, agentId);
    const issued = await this.ca.issueFromCsr(csrPem, spiffeId, this.opts.certTtlMs, 'csr_pem', holder);
    this.log.info('service certificate issued', { agent: agentId, service, serial: issued.serial, expiresAtMs: issued.notAfterMs });
    return { ...issued, agentId, spiffeId, service, caBundlePem: this.ca.bundlePem(), trustDomain: this.ca.trustDomain };
  }

  /** Puts the agent on the deny list (durably) and pushes the new list. Idempotent. */
  async revoke(agentId: string, reason: string): Promise<{ serials: string[] }> {
    const { serials, newlyRevoked } = await this.store.revokeAgent(agentId, this.now(), reason);
    this.revoked.add(agentId);
    if (newlyRevoked) {
      await this.rebuild();
      this.notify(TRUST_REVOCATIONS_RESOURCE);
      this.log.warn('agent revoked', { agent: agentId, reason, serials });
    }
    return { serials };
  }

  /** The latest certificate of each agent (weft status). */
  certificates(): Map<string, CertificateRecord> {
    return this.certs;
  }

  entry(name: string): TrustEntry | undefined {
    return this.entries.get(name);
  }

  /** Tells `watcher` when the named trust resource changes (a discovery stream's subscription). */
  addWatcher(name: string, watcher: Watcher): void {
    this.watches.addWatcher(name, watcher);
  }

  removeWatcher(name: string, watcher: Watcher): void {
    this.watches.removeWatcher(name, watcher);
  }

  /** Issues, then records durably (with the token use `useTokenId`, for an enrolment) before returning. */
  private async certify(agentId: string, csrPem: string, useTokenId?: string): Promise<IssuedAgentCertificate> {
    const spiffeId = agentSpiffeId(this.ca.trustDomain, agentId);
    const issued = await this.ca.issueFromCsr(csrPem, spiffeId, this.opts.certTtlMs);
    const record = { agentId, serial: issued.serial, issuedAtMs: this.now(), expiresAtMs: issued.notAfterMs };
    const outcome = await this.batcher.record({ cert: record, useTokenId });
    if (typeof outcome === 'object') throw outcome.err;
    if (useTokenId !== undefined) await this.tokens.afterUse(useTokenId, outcome === 'recorded', 'join_token');
    this.certs.set(agentId, record);
    return { ...issued, agentId, spiffeId, caBundlePem: this.ca.bundlePem(), trustDomain: this.ca.trustDomain };
  }

  private async rebuild(): Promise<void> {
    const agentIds = [...this.revoked].sort();
    const serials = await this.store.revokedSerials(this.now());
    const trustRevision = String(await this.store.trustRevision());
    const bundle = this.ca.bundlePem();
    this.entries = new Map<string, TrustEntry>([
      [
        TRUST_REVOCATIONS_RESOURCE,
        {
          version: trustRevision,
          resource: {
            name: TRUST_REVOCATIONS_RESOURCE,
            version: trustRevision,
            revocations: { agent_ids: agentIds, serials },
          },
        },
      ],
      [
        TRUST_BUNDLE_RESOURCE,
        (() => {
          const version = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
          return { version, resource: { name: TRUST_BUNDLE_RESOURCE, version, bundle: { ca_bundle_pem: bundle } } };
        })(),
      ],
    ]);
  }

  private notify(name: string): void {
    this.watches.notify([name]);
  }
}
