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
 * Reads run one at a time (cluster/catch-up.ts), so a later notice is never
 * overtaken by an earlier one's read; the notices that arrive while a read
 * runs are folded into the next one (the union of what they name, read once:
 * under a burst of commits on the other replicas, reads do not queue up one
 * per notice), and a read that fails is retried, folded with what came since.
 */
import { hostname } from 'node:os';
import type { Logger } from '@weft/shared';
import { CatchUp, type CatchUpRequest, ChangeNotifier, DEFAULT_CHANNEL, LeaderLease, lockKeyOf } from './cluster/index.js';
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
  private readonly catchUp: CatchUp;
  /** The read running now, awaited by close(). */
  private reading: Promise<void> = Promise.resolve();

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
    this.catchUp = new CatchUp((request) => this.read(request), o.logger.child({ component: 'replica-sync' }));
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
    this.notifier.subscribe((notice) => this.catchUp.notice(notice));
    this.notifier.onResync((reason) => {
      this.log.debug('catching up with the store', { reason });
      this.catchUp.everything();
    });
    this.notifier.start();
    this.sweeper.start();
  }

  async close(): Promise<void> {
    this.o.store.db.changeStatement = undefined;
    this.o.registry.setSweeping(false);
    await Promise.all([this.sweeper.close(), this.notifier.close()]);
    this.catchUp.close();
    await this.reading.catch(() => {});
  }

  /** One catch-up read: everything newer than what is held, or what the folded notices name. */
  private read(request: CatchUpRequest): Promise<void> {
    this.reading = (async () => {
      if (request.everything) {
        this.readAgain(await this.o.registry.catchUp());
        await this.o.policies.reload();
        await this.reloadTrust();
        return;
      }
      if (request.kinds.has('registry')) this.readAgain(await this.o.registry.reloadServices([...request.services], [...request.agents]));
      if (request.kinds.has('policy')) await this.o.policies.reload();
      if (request.kinds.has('trust')) await this.reloadTrust();
    })();
    return this.reading;
  }

  /** Services a read could not settle (this replica committed to them after its snapshot): read in the next one. */
  private readAgain(services: string[]): void {
    if (services.length === 0) return;
    this.log.debug('services read again: this replica committed to them after the read', { services });
    this.catchUp.services(services);
  }

  private async reloadTrust(): Promise<void> {
    if (!this.o.trust) return;
    await this.o.trust.tokens.refresh();
    await this.o.trust.authority.reload();
  }
}
