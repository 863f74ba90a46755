/**
 * What several control-plane replicas on one PostgreSQL database need besides
 * the store: change notices between replicas (change-notifier.ts) and a
 * leader for work that must run once (leader-lease.ts). docs/architecture.md,
 * "Replicas", says how they fit together.
 */
export { type Change, type ChangeNotice, decodeNotice, encodeNotice, MAX_NOTICE_BYTES } from './change-notice.js';
export { ChangeNotifier, type ChangeNotifierOptions, DEFAULT_CHANNEL, type NotifyStatement } from './change-notifier.js';
export { LeaderLease, type LeaderLeaseOptions, lockKeyOf, WEFT_LOCK_CLASS } from './leader-lease.js';
export { describeConnection, type PgConnectionOptions, PgSession, type PgSessionOptions } from './pg-session.js';
