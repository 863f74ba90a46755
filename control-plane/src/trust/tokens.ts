/**
 * Token records and checks (store/trust-store.ts holds them). Three kinds:
 * join (enrols agents; expiry and a number of uses), operator (every call)
 * and read (read calls). Tokens are refused with UnauthenticatedError naming
 * the token id and why (unknown, expired, used up), never the secret.
 */
import {
  formatToken,
  hashSecret,
  NotFoundError,
  newTokenParts,
  type ParsedToken,
  parseToken,
  secretMatches,
  type TokenKindName,
  UnauthenticatedError,
  ValidationError,
} from '@weft/shared';
import type { StoredToken, TrustStoreContract } from '../store/store-contract.js';

export const DEFAULT_JOIN_TOKEN_TTL_MS = 3600_000;
/** How long an id the store did not know is answered from memory (checkFresh). */
const MISS_TTL_MS = 1000;
/** Bound on remembered misses (made-up ids are unbounded; the memory is not). */
const MAX_MISSES = 10_000;

export interface NewToken {
  kind: TokenKindName;
  /** 0 = default (join: 1 h; operator/read: no expiry). */
  ttlMs: number;
  /** Join tokens: enrolments it allows (default 1). */
  uses?: number;
  /** Join tokens: the one agent id it enrols. */
  agentId?: string;
  description?: string;
}

/**
 * Token records are read from the store into memory (load(), refresh()) so
 * that checking a token on every call needs no database round trip; a use of
 * a join token is taken in the store itself, atomically, so uses are counted
 * right across replicas. A token made on another replica is known here after
 * the next refresh (checkFresh reads the store at once on a miss).
 */
export class Tokens {
  private cache = new Map<string, StoredToken>();
  /** Token ids the store did not know, and when it said so (checkFresh). */
  private readonly misses = new Map<string, number>();

  constructor(
    private readonly store: TrustStoreContract,
    /** The active CA root's fingerprint, carried in every token for pinning. */
    private readonly caFingerprint: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads every token record from the store (start, and periodically with replicas). */
  async refresh(): Promise<void> {
    this.cache = new Map((await this.store.listTokens()).map((t) => [t.tokenId, t]));
  }

  async create(t: NewToken): Promise<{ token: string; record: StoredToken }> {
    if (t.ttlMs < 0) throw new ValidationError('ttl', 'must not be negative');
    if (t.kind !== 'join' && (t.uses !== undefined || t.agentId !== undefined))
      throw new ValidationError('uses', 'and agent id apply to join tokens only');
    const uses = t.kind === 'join' ? (t.uses ?? 1) : null;
    if (uses !== null && !(Number.isInteger(uses) && uses >= 1)) throw new ValidationError('uses', 'must be a positive integer');
    const ttl = t.ttlMs || (t.kind === 'join' ? DEFAULT_JOIN_TOKEN_TTL_MS : 0);
    const { id, secret } = newTokenParts();
    const record: StoredToken = {
      tokenId: id,
      kind: t.kind,
      secretSha256: hashSecret(secret),
      createdAtMs: this.now(),
      expiresAtMs: ttl ? this.now() + ttl : null,
      usesLeft: uses,
      agentId: t.agentId ?? null,
      description: t.description ?? '',
    };
    await this.store.insertToken(record);
    this.cache.set(record.tokenId, record);
    return { token: formatToken({ kind: t.kind, id, secret, caFingerprint: this.caFingerprint() }), record };
  }

  /** Every token record, read from the store (memory follows it), oldest first. */
  async list(): Promise<StoredToken[]> {
    await this.refresh();
    return [...this.cache.values()].sort((a, b) => a.createdAtMs - b.createdAtMs || a.tokenId.localeCompare(b.tokenId));
  }

  /**
   * Deletes a token from the store and from memory: calls with it fail at
   * once here, and on other replicas after their next refresh. Refuses the
   * last valid operator token (the mesh would have no one left to manage it).
   */
  async revoke(tokenId: string, field: string): Promise<StoredToken> {
    if (!/^[0-9a-f]{16}$/.test(tokenId)) throw new ValidationError(field, 'must be a token id (16 hex digits, as weft token list shows)');
    const out = await this.store.revokeToken(tokenId, this.now());
    if (out === 'unknown') throw new NotFoundError(`${field}: no token ${tokenId}`);
    if (out === 'last-operator')
      throw new ValidationError(
        field,
        `token ${tokenId} is the last valid operator token; make another first (weft token create --kind operator)`,
      );
    this.cache.delete(tokenId);
    return out;
  }

  /** True when no operator token exists yet (first start: make the bootstrap token). */
  async needsBootstrap(): Promise<boolean> {
    return (await this.store.countTokens('operator')) === 0;
  }

  /** The record of a valid token of one of `kinds` (from memory); throws UnauthenticatedError otherwise. */
  check(text: string, kinds: readonly TokenKindName[], field: string): StoredToken {
    const parsed = this.parse(text, field);
    return this.verify(parsed, this.cache.get(parsed.id), kinds, field);
  }

  /**
   * As check() when the token is in memory (no promise, no store read: the
   * common case), else as checkFresh(). A token made on another replica is
   * then usable at once, not after this replica's next refresh.
   */
  checkCachedOrFresh(text: string, kinds: readonly TokenKindName[], field: string): StoredToken | Promise<StoredToken> {
    const parsed = this.parse(text, field);
    const record = this.cache.get(parsed.id);
    if (record || this.recentlyMissed(parsed.id)) return this.verify(parsed, record, kinds, field);
    return this.readStore(parsed.id).then((stored) => this.verify(parsed, stored, kinds, field));
  }

  /** As check(), reading the store when the token is not in memory yet (made on another replica). */
  async checkFresh(text: string, kinds: readonly TokenKindName[], field: string): Promise<StoredToken> {
    return this.checkCachedOrFresh(text, kinds, field);
  }

  /**
   * A token record from the store, kept in memory when found. An id the store
   * did not know is not looked up again for MISS_TTL_MS: a caller sending
   * made-up tokens costs one store read per id and second, not one per call.
   */
  private async readStore(id: string): Promise<StoredToken | undefined> {
    const record = await this.store.token(id);
    if (record) this.cache.set(record.tokenId, record);
    else this.missed(id);
    return record;
  }

  private recentlyMissed(id: string): boolean {
    const at = this.misses.get(id);
    return at !== undefined && this.now() - at < MISS_TTL_MS;
  }

  private missed(id: string): void {
    if (this.misses.size >= MAX_MISSES) this.misses.clear();
    this.misses.set(id, this.now());
  }

  private parse(text: string, field: string): ParsedToken {
    try {
      return parseToken(text, field);
    } catch (err) {
      throw new UnauthenticatedError((err as Error).message);
    }
  }

  private verify(parsed: ParsedToken, record: StoredToken | undefined, kinds: readonly TokenKindName[], field: string): StoredToken {
    if (!record || !secretMatches(parsed.secret, record.secretSha256))
      throw new UnauthenticatedError(`${field}: unknown token ${parsed.id} (never made here, or revoked)`);
    if (!kinds.includes(record.kind))
      throw new UnauthenticatedError(`${field}: token ${parsed.id} is a ${record.kind} token, not ${kinds.join(' or ')}`);
    if (record.expiresAtMs !== null && record.expiresAtMs <= this.now())
      throw new UnauthenticatedError(`${field}: token ${parsed.id} expired at ${new Date(record.expiresAtMs).toISOString()}`);
    if (record.usesLeft !== null && record.usesLeft <= 0) throw new UnauthenticatedError(`${field}: token ${parsed.id} is used up`);
    return record;
  }

  /** Takes one use of a checked join token; throws when another call took the last one meanwhile. */
  async use(record: StoredToken, field: string): Promise<void> {
    if (record.usesLeft === null) return;
    const ok = await this.store.useToken(record.tokenId);
    // Memory follows the store: the next check sees the use (or that none is left).
    const fresh = await this.store.token(record.tokenId);
    if (fresh) this.cache.set(fresh.tokenId, fresh);
    if (!ok) throw new UnauthenticatedError(`${field}: token ${record.tokenId} is used up`);
  }
  /**
   * After a certificate write that took (or failed to take) a use of
   * `tokenId` committed: memory follows the store, so the next check sees the
   * use (or that none is left). Throws when none was left.
   */
  async afterUse(tokenId: string, ok: boolean, field: string): Promise<void> {
    const fresh = await this.store.token(tokenId);
    if (fresh) this.cache.set(fresh.tokenId, fresh);
    if (!ok) throw new UnauthenticatedError(`${field}: token ${tokenId} is used up`);
  }
}
