/**
 * Token records and checks (store/trust-store.ts holds them). Three kinds:
 * join (enrols agents; expiry and a number of uses), operator (every call)
 * and read (read calls). Tokens are refused with UnauthenticatedError naming
 * the token id and why (unknown, expired, used up), never the secret.
 */
import {
  formatToken,
  hashSecret,
  newTokenParts,
  type ParsedToken,
  parseToken,
  secretMatches,
  type TokenKindName,
  UnauthenticatedError,
  ValidationError,
} from '@weft/shared';
import type { StoredToken, TrustStore } from '../store/trust-store.js';

export const DEFAULT_JOIN_TOKEN_TTL_MS = 3600_000;

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

export class Tokens {
  constructor(
    private readonly store: TrustStore,
    /** The active CA root's fingerprint, carried in every token for pinning. */
    private readonly caFingerprint: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  create(t: NewToken): { token: string; record: StoredToken } {
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
    this.store.insertToken(record);
    return { token: formatToken({ kind: t.kind, id, secret, caFingerprint: this.caFingerprint() }), record };
  }

  /** True when no operator token exists yet (first start: make the bootstrap token). */
  needsBootstrap(): boolean {
    return this.store.countTokens('operator') === 0;
  }

  /** The record of a valid token of one of `kinds`; throws UnauthenticatedError otherwise. */
  check(text: string, kinds: readonly TokenKindName[], field: string): StoredToken {
    let parsed: ParsedToken;
    try {
      parsed = parseToken(text, field);
    } catch (err) {
      throw new UnauthenticatedError((err as Error).message);
    }
    const record = this.store.token(parsed.id);
    if (!record || !secretMatches(parsed.secret, record.secretSha256))
      throw new UnauthenticatedError(`${field}: unknown token ${parsed.id}`);
    if (!kinds.includes(record.kind))
      throw new UnauthenticatedError(`${field}: token ${parsed.id} is a ${record.kind} token, not ${kinds.join(' or ')}`);
    if (record.expiresAtMs !== null && record.expiresAtMs <= this.now())
      throw new UnauthenticatedError(`${field}: token ${parsed.id} expired at ${new Date(record.expiresAtMs).toISOString()}`);
    if (record.usesLeft !== null && record.usesLeft <= 0) throw new UnauthenticatedError(`${field}: token ${parsed.id} is used up`);
    return record;
  }

  /** Takes one use of a checked join token; throws when another call took the last one meanwhile. */
  use(record: StoredToken, field: string): void {
    if (record.usesLeft === null) return;
    if (!this.store.useToken(record.tokenId)) throw new UnauthenticatedError(`${field}: token ${record.tokenId} is used up`);
  }
}
