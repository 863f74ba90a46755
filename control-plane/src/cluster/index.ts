/**
 * What several control-plane replicas on one PostgreSQL database need besides
 * the store: change notices between replicas (change-notifier.ts), the
 * catch-up reads they trigger (catch-up.ts) and a leader for work that must
 * run once (leader-lease.ts). docs/architecture.md,
 * "Replicas", says how they fit together.
 *
 * Wiring in one replica (the store and registry own the calls):
 *
 *   const notifier = new ChangeNotifier({ connection: { connectionString }, replicaId, logger });
 *   // One read at a time, notices folded together, failed reads retried: (request) => read what is newer.
 *   const catchUp = new CatchUp((request) => registry.readNewer(request), logger);
 *   notifier.onResync(() => catchUp.everything());    // every revision newer than the last applied
 *   notifier.subscribe((notice) => catchUp.notice(notice)); // the services / agents it names
 *   notifier.start();
 *   // inside each write transaction (a group commit: mergeChanges of its writes), before COMMIT:
 *   for (const change of mergeChanges(changes)) {
 *     const s = notifier.notifyStatement(change);
 *     await tx.query(s.text, s.values);
 *   }
 *
 *   const sweeper = new LeaderLease({ connection: { connectionString }, replicaId, name: 'lease-sweeper', logger,
 *     onElected: () => leases.startSweeping(), onDemoted: () => leases.stopSweeping() });
 *   sweeper.start();
 *   // shutdown: await sweeper.close(); await notifier.close(); catchUp.close();
 */
export { CatchUp, type CatchUpReader, type CatchUpRequest } from './catch-up.js';
export { type Change, type ChangeNotice, decodeNotice, encodeNotice, MAX_NOTICE_BYTES, mergeChanges } from './change-notice.js';
export { ChangeNotifier, type ChangeNotifierOptions, DEFAULT_CHANNEL, type NotifyStatement } from './change-notifier.js';
export { LeaderLease, type LeaderLeaseOptions, lockKeyOf, WEFT_LOCK_CLASS } from './leader-lease.js';
export { describeConnection, type PgConnectionOptions, PgSession, type PgSessionOptions } from './pg-session.js';
