/**
 * Wiring of one control-plane replica into the others on a shared PostgreSQL
 * store (see docs/architecture.md, "Replicas"):
 *
 * - every committed change sends a notice in its own transaction
 *   (PgDatabase.changeStatement -> ChangeNotifier.notifyStatement), naming
 *   the revision and the services / agents it changed;
 * - a notice from another replica makes this one re-read exactly those
 *   services (registry), the policy documents, or the trust state, from the
 *   store, patch its in-memory view and notify the watching streams;
 * - after every (re)connection of the listener, a catch-up read compares
 *   every stored service version with the held one, so a notice missed while
 *   disconnected loses nothing;
 * - one replica at a time (the leader lease) sweeps lapsed agent leases.
 *
 * Reloads run one at a time, in arrival order, so a later notice is never
 * overtaken by an earlier one's read.
 */
import { hostname } from 'node:os';
import type { Logger } from '@weft/shared';
import { type ChangeNotice, ChangeNotifier, DEFAULT_CHANNEL, LeaderLease, lockKeyOf } from './cluster/index.js';
import type { PolicyRegistry } from './registry/policy-registry.js';
import type { Registry } from './registry/registry.js';
import type { PostgresStore } from './store/postgres/pg-backend.js';
import type { Tokens } from './trust/tokens.js';
import type { TrustAuthority } from './trust/trust-authority.js';

export interface ReplicaSyncOptions {
  store: PostgresStore;
  /** The --store URL (with its password: the notifier and the lease open their own connections). */
  url: string;
  registry: Registry;
  policies: PolicyRegistry;
  trust?: { authority: TrustAuthority; tokens: Tokens };
  logger: Logger;
}

/** The schema a postgres:// URL selects (options=-c search_path=…), or '' for the default. */
export function schemaOf(url: string): string {
  try {
    const options = new URL(url).searchParams.get('options') ?? '';
    return /search_path=([A-Za-z0-9_]+)/.exec(options)?.[1]?.toLowerCase() ?? '';
  } catch {
    return '';
  }
}

export class ReplicaSync {
  readonly replicaId = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly notifier: ChangeNotifier;
  private readonly sweeper: LeaderLease;
  private readonly log: Logger;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly o: ReplicaSyncOptions) {
    this.log = o.logger.child({ component: 'replica-sync' });
    // Notices and advisory locks are per database: replicas of meshes in other schemas must not hear or block these.
    const schema = schemaOf(o.url);
    const connection = { connectionString: o.url };
    this.notifier = new ChangeNotifier({
      connection,
      replicaId: this.replicaId,
      channel: schema ? `${DEFAULT_CHANNEL}_${schema}`.slice(0, 63) : DEFAULT_CHANNEL,
      logger: o.logger,
    });
    this.sweeper = new LeaderLease({
      connection,
      replicaId: this.replicaId,
      name: 'lease-sweeper',
      key: lockKeyOf(`${schema}:lease-sweeper`),
      logger: o.logger,
      onElected: () => {
        this.log.info('this replica sweeps lapsed agent leases', { replica: this.replicaId });
        o.registry.setSweeping(true);
      },
      onDemoted: (reason) => {
        this.log.info('this replica no longer sweeps agent leases', { replica: this.replicaId, reason });
        o.registry.setSweeping(false);
      },
    });
  }

  start(): void {
    this.o.store.db.changeStatement = (change) => this.notifier.notifyStatement(change);
    this.notifier.subscribe((notice) => this.enqueue(() => this.apply(notice)));
    this.notifier.onResync((reason) => this.enqueue(() => this.catchUp(reason)));
    this.notifier.start();
    this.sweeper.start();
  }

  async close(): Promise<void> {
    this.o.store.db.changeStatement = undefined;
    this.o.registry.setSweeping(false);
    await Promise.all([this.sweeper.close(), this.notifier.close()]);
    await this.chain;
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err) => this.log.warn('cannot apply a change of another replica yet', { err }));
  }

  private async apply(notice: ChangeNotice): Promise<void> {
    if (notice.form === 'reload') return this.catchUp(`reload notice from ${notice.replica}`);
    if (notice.kind === 'registry') await this.o.registry.reloadServices(notice.services, notice.agents);
    else if (notice.kind === 'policy') await this.o.policies.reload();
    else if (notice.kind === 'trust') await this.reloadTrust();
  }

  private async catchUp(reason: string): Promise<void> {
    this.log.debug('catching up with the store', { reason });
    await this.o.registry.catchUp();
    await this.o.policies.reload();
    await this.reloadTrust();
  }

  private async reloadTrust(): Promise<void> {
    if (!this.o.trust) return;
    await this.o.trust.tokens.refresh();
    await this.o.trust.authority.reload();
  }
}
