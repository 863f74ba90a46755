/**
 * The one store contract of the control plane: what the registry, the policy
 * registry and the trust code need from durable storage. Two backends
 * implement it: SQLite (sqlite-backend.ts, the embedded default, one process)
 * and PostgreSQL (postgres/, several stateless replicas share one database).
 * The contract test suite (store-contract.test.ts) runs against both.
 *
 * Rules every backend keeps:
 * - A registry write is described as data (RegistryWrite) and committed in a
 *   batch: ONE transaction per batch (group commit), each write isolated in
 *   its own savepoint, so a write that fails (conflict, not found) is rolled
 *   back alone and the others still commit. commitBatch resolves only once the
 *   batch is durable; if the commit itself fails, nothing of the batch is
 *   stored and the promise rejects.
 * - A write that changes anything takes a new registry revision, strictly
 *   greater than every revision committed before it by any process on the
 *   same store (PostgreSQL: a sequence, commits serialized so revisions become
 *   visible in order); a write that changes nothing keeps the revision.
 * - Policy commits and trust revocations follow the same rule with their own
 *   revision counters (config revision, trust revision).
 * - Reads return what is committed; nothing here caches content.
 * - When the backend cannot be reached, calls reject with UnavailableError
 *   (shared/errors.ts) naming the database; nothing is half-written.
 */
import type { AgentInfo, Health, Instance, InstanceSpec, PolicyKind, TokenKindName } from '@weft/shared';

// ---------------------------------------------------------------- registry

/** Lease bookkeeping to write with an agent upsert: undefined leaves the stored value as it is. */
export type LeaseWrite = number | null | undefined;

/** One instance row a change wrote: `instance` is the new content, null when removed from `service`. */
export interface InstanceChange {
  service: string;
  instanceId: string;
  instance: Instance | null;
}

/**
 * What a committed write did: the revision after it, the services whose
 * endpoints changed, exactly which instance rows changed (so the registry can
 * patch its view), and for services whose every endpoint changed through their
 * agent (address, port or zone) the service's instances as committed.
 */
export interface ChangeResult {
  revision: number;
  changedServices: string[];
  instanceChanges: InstanceChange[];
  reloadServices: string[];
  /** service -> its instances right after this write; set for every service of `reloadServices`. */
  reloaded?: Record<string, Instance[]>;
  /** deregister, removeAgent: instances removed. */
  removed?: number;
}

export interface StoredAgent extends AgentInfo {
  /** Lease expiry last written for operators; null while connected or never set. */
  leaseExpiresAtMs: number | null;
  revision: number;
}

/** One registry write, as data: the backend runs it inside the batch's transaction. */
export type RegistryWrite =
  /** Inserts or updates an agent's identity, and its lease bookkeeping. */
  | { op: 'upsertAgent'; agent: AgentInfo; lease?: LeaseWrite }
  /** Upserts instances of the agent (and the agent); replaceAll removes its others; an id owned by another agent fails. */
  | { op: 'register'; agent: AgentInfo; instances: readonly InstanceSpec[]; replaceAll: boolean; lease?: LeaseWrite }
  /** Removes instances of the agent; an id it does not own fails the write (NotFoundError). */
  | { op: 'deregister'; agentId: string; instanceIds: readonly string[] }
  | { op: 'setHealth'; agentId: string; instanceId: string; health: Health }
  /** Removes an agent and every instance it owned. */
  | { op: 'removeAgent'; agentId: string }
  /** Records a lease expiry for operators; not a registry change (the revision stays). */
  | { op: 'setLease'; agentId: string; leaseExpiresAtMs: number | null }
  /** Replicas: the replica holding these agents' streams extends their leases (no revision). */
  | { op: 'renewLeases'; agentIds: readonly string[]; leaseExpiresAtMs: number }
  /** Replicas: removes the agent like removeAgent, only if its stored lease lapsed at or before `nowMs` (else changes nothing). */
  | { op: 'removeLapsedAgent'; agentId: string; nowMs: number };

export type WriteOutcome = { ok: true; result: ChangeResult } | { ok: false; err: unknown };

/** Everything the registry loads at start (and a replica reloads to catch up). */
export interface RegistrySnapshot {
  revision: number;
  agents: StoredAgent[];
  /** Ordered by service, then instance id. */
  instances: Instance[];
  /** service -> revision at which its endpoints last changed (services with instances only). */
  serviceVersions: Map<string, number>;
}

export interface RegistryStore {
  /** The highest registry revision this process has committed or read. */
  revision(): number;
  load(): Promise<RegistrySnapshot>;
  agent(agentId: string): Promise<StoredAgent | undefined>;
  /** Current instances of one service (catch-up after another replica's change). */
  instancesOfService(service: string): Promise<Instance[]>;
  /**
   * Replicas' catch-up in one read whatever the count: the stored agents among
   * `agentIds` (absent ones left out), the current instances of each of
   * `services` by instance id (a service without instances maps to []), and
   * the stored version of each of `services` that has one; all as of one
   * committed state (the version labels exactly the instances read).
   *
   * `held` (optional): per service, a revision up to which the caller holds
   * the service exactly (every instance last written at or before it, with
   * that content). For such a service a backend may return in `instances`
   * only what was written after it, and then gives the service's current
   * number of instances in `counts` (a catch-up then costs what changed, not
   * the whole service). Every current instance is then either returned or
   * held (one written at or before the revision was in the held state), so
   * the held ids plus the returned ones are the current ids exactly when
   * their number is the count; otherwise something was removed and the
   * caller reads the service whole. A service missing from `counts` is
   * returned whole.
   */
  agentsAndInstances(
    agentIds: readonly string[],
    services: readonly string[],
    held?: ReadonlyMap<string, number>,
  ): Promise<{ agents: StoredAgent[]; instances: Map<string, Instance[]>; versions: Map<string, number>; counts?: Map<string, number> }>;
  /** service -> revision at which its endpoints last changed (services with instances only). */
  serviceVersions(): Promise<Map<string, number>>;
  /** Agents whose stored lease lapsed at or before `nowMs` (replicas: what the sweeping leader removes). */
  lapsedAgents(nowMs: number): Promise<string[]>;
  /** One transaction for all `writes`, in order; one outcome per write (see the rules above). */
  commitBatch(writes: readonly RegistryWrite[]): Promise<WriteOutcome[]>;
}

// ---------------------------------------------------------------- policy

export interface StoredPolicy {
  service: string;
  kind: PolicyKind;
  /** Canonical JSON of the validated document. */
  json: string;
  revision: number;
}

/** One (service, kind) to write: json null deletes it. */
export interface PolicyWrite {
  service: string;
  kind: PolicyKind;
  json: string | null;
}

export type ChangeAction = 'create' | 'update' | 'delete' | 'unchanged';

export interface PolicyChange {
  service: string;
  kind: PolicyKind;
  action: ChangeAction;
  beforeJson: string;
  afterJson: string;
}

export interface PolicyRevision {
  revision: number;
  appliedAt: string;
  description: string;
  changes: PolicyChange[];
}

export interface PolicyStoreContract {
  /** The highest config revision this process has committed or read. */
  revision(): number;
  /** Re-reads the config revision from the database (start, catch-up). */
  refreshRevision(): Promise<number>;
  list(): Promise<StoredPolicy[]>;
  /** What `writes` would change against what is stored now (nothing is written). */
  plan(writes: readonly PolicyWrite[]): Promise<PolicyChange[]>;
  /** Plans and writes `writes` as one transaction and one config revision (if anything changes). */
  commit(writes: readonly PolicyWrite[], description: string): Promise<{ revision: number; changes: PolicyChange[] }>;
  /** Newest first; `service` filters the changes (revisions without any are left out). */
  history(service: string | undefined, limit: number): Promise<PolicyRevision[]>;
  hasRevision(revision: number): Promise<boolean>;
  /** The writes that make the stored config what it was right after `revision`. */
  writesToRestore(revision: number): Promise<PolicyWrite[]>;
}

// ---------------------------------------------------------------- trust

export interface StoredToken {
  tokenId: string;
  kind: TokenKindName;
  secretSha256: string;
  createdAtMs: number;
  expiresAtMs: number | null;
  usesLeft: number | null;
  agentId: string | null;
  description: string;
}

/** An operator token that has not expired at `nowMs`. */
export function isValidOperator(t: StoredToken, nowMs: number): boolean {
  return t.kind === 'operator' && (t.expiresAtMs === null || t.expiresAtMs > nowMs);
}

/** True when revoking `t` would leave no operator token valid at `nowMs` (`validOperators`: how many are valid now). */
export function isLastValidOperator(t: StoredToken, nowMs: number, validOperators: number): boolean {
  return isValidOperator(t, nowMs) && validOperators <= 1;
}

export interface CertificateRecord {
  agentId: string;
  serial: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

export interface RevokedAgent {
  agentId: string;
  revokedAtMs: number;
  reason: string;
}

/**
 * One issued certificate to record (recordCertificates), with the join-token
 * use it depends on for an enrolment (`useTokenId`), none for a renewal.
 */
export interface CertificateWrite {
  cert: CertificateRecord;
  useTokenId?: string;
}

/**
 * Outcome of one CertificateWrite: 'recorded' (the use, if any, and the
 * certificate are both written), 'token-used-up' (the token had no use left:
 * nothing of this write is written), or the error that rolled it back alone.
 */
export type CertificateOutcome = 'recorded' | 'token-used-up' | { err: unknown };

export interface TrustStoreContract {
  insertToken(t: StoredToken): Promise<void>;
  token(tokenId: string): Promise<StoredToken | undefined>;
  listTokens(): Promise<StoredToken[]>;
  countTokens(kind: TokenKindName): Promise<number>;
  /** Takes one use of a join token atomically; false when none is left. */
  useToken(tokenId: string): Promise<boolean>;
  /**
   * Deletes a token, in one transaction with the check that it is not the
   * last valid operator token (unexpired at `nowMs`; concurrent revocations
   * on other replicas cannot both take the last two). The record as it was, or
   * why not: 'unknown' (no such token), 'last-operator'.
   */
  revokeToken(tokenId: string, nowMs: number): Promise<StoredToken | 'unknown' | 'last-operator'>;
  recordCertificate(c: CertificateRecord): Promise<void>;
  /**
   * Group commit of issued certificates: ONE transaction (one fsync) for all
   * `writes`, each in its own savepoint so its token use and its certificate
   * are written together or not at all, and a failed write is rolled back
   * alone. A token use never takes a use that is not left (uses_left > 0 in
   * the same statement), so concurrent batches cannot over-use a token.
   * Resolves only after COMMIT returned (the records are durable), with one
   * outcome per write in order; rejects, acknowledging nothing, when the
   * transaction itself fails.
   */
  recordCertificates(writes: readonly CertificateWrite[]): Promise<CertificateOutcome[]>;
  /** The latest certificate of every agent that ever had one. */
  latestCertificates(): Promise<Map<string, CertificateRecord>>;
  latestCertificate(agentId: string): Promise<CertificateRecord | undefined>;
  /** Revokes an agent in one transaction; its unexpired serials (and no revision bump when it was revoked already). */
  revokeAgent(agentId: string, nowMs: number, reason: string): Promise<{ serials: string[]; newlyRevoked: boolean }>;
  revokedAgents(): Promise<RevokedAgent[]>;
  /** Serials of revoked agents' certificates that have not expired yet. */
  revokedSerials(nowMs: number): Promise<string[]>;
  trustRevision(): Promise<number>;
}

// ---------------------------------------------------------------- the whole store

export interface ControlPlaneStore {
  /** 'sqlite' or 'postgres'. */
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data is, for logs and error messages (never a password). */
  readonly location: string;
  readonly registry: RegistryStore;
  readonly policy: PolicyStoreContract;
  readonly trust: TrustStoreContract;
  close(): Promise<void>;
}
