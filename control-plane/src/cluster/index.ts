/**
 * What several control-plane replicas on one PostgreSQL database need besides
 * the store: change notices between replicas (change-notifier.ts) and a
 * leader for work that must run once (leader-lease.ts). docs/architecture.md,
 * "Replicas", says how they fit together.
 *
 * Wiring in one replica (the store and registry own the calls):
 *
 *   const notifier = new ChangeNotifier({ connection: { connectionString }, replicaId, logger });
 *   notifier.onResync(() => registry.catchUp());      // read every revision newer than the last applied
 *   notifier.subscribe((notice) => registry.catchUp(notice)); // notice.services / .agents say what to re-read
 *   notifier.start();
 *   // inside each write transaction, before COMMIT:
 *   const s = notifier.notifyStatement({ kind: 'registry', revision, services, agents });
 *   await tx.query(s.text, s.values);
 *
 *   const sweeper = new LeaderLease({ connection: { connectionString }, replicaId, name: 'lease-sweeper', logger,
 *     onElected: () => leases.startSweeping(), onDemoted: () => leases.stopSweeping() });
 *   sweeper.start();
 *   // shutdown: await sweeper.close(); await notifier.close();
 */
export { type Change, type ChangeNotice, decodeNotice, encodeNotice, MAX_NOTICE_BYTES } from './change-notice.js';
export { ChangeNotifier, type ChangeNotifierOptions, DEFAULT_CHANNEL, type NotifyStatement } from './change-notifier.js';
export { LeaderLease, type LeaderLeaseOptions, lockKeyOf, WEFT_LOCK_CLASS } from './leader-lease.js';
export { describeConnection, type PgConnectionOptions, PgSession, type PgSessionOptions } from './pg-session.js';
