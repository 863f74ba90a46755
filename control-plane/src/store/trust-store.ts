/**
 * Tokens, issued agent certificates and revocations in SQLite (tables from
 * migration 3, "trust"). Every method is one synchronous statement or
 * transaction; the trust revision (meta 'trust_revision') is bumped by every
 * revocation and is the version of the "trust/revocations" resource.
 */
import type { TokenKindName } from '@weft/shared';
import type Database from 'better-sqlite3';
import {
  type CertificateOutcome,
  type CertificateRecord,
  type CertificateWrite,
  isLastValidOperator,
  type RevokedAgent,
  type StoredToken,
} from './store-contract.js';

interface TokenRow {
  token_id: string;
  kind: TokenKindName;
  secret_sha256: string;
  created_at_ms: number;
  expires_at_ms: number | null;
  uses_left: number | null;
  agent_id: string | null;
  description: string;
}

export type { CertificateRecord, RevokedAgent, StoredToken };

const toToken = (r: TokenRow): StoredToken => ({
  tokenId: r.token_id,
  kind: r.kind,
  secretSha256: r.secret_sha256,
  createdAtMs: r.created_at_ms,
  expiresAtMs: r.expires_at_ms,
  usesLeft: r.uses_left,
  agentId: r.agent_id,
  description: r.description,
});

export class TrustStore {
  private readonly q;

  private constructor(private readonly db: Database.Database) {
    this.q = {
      insertToken: db.prepare(
        `INSERT INTO tokens (token_id, kind, secret_sha256, created_at_ms, expires_at_ms, uses_left, agent_id, description)
         VALUES (@tokenId, @kind, @secretSha256, @createdAtMs, @expiresAtMs, @usesLeft, @agentId, @description)`,
      ),
      token: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE token_id = ?'),
      tokens: db.prepare<[], TokenRow>('SELECT * FROM tokens ORDER BY token_id'),
      countKind: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM tokens WHERE kind = ?'),
      useToken: db.prepare<[string]>('UPDATE tokens SET uses_left = uses_left - 1 WHERE token_id = ? AND uses_left > 0'),
      validOperators: db.prepare<[number], { n: number }>(
        "SELECT COUNT(*) AS n FROM tokens WHERE kind = 'operator' AND (expires_at_ms IS NULL OR expires_at_ms > ?)",
      ),
      deleteToken: db.prepare<[string]>('DELETE FROM tokens WHERE token_id = ?'),
      insertCert: db.prepare(
        'INSERT INTO agent_certificates (serial, agent_id, issued_at_ms, expires_at_ms) VALUES (@serial, @agentId, @issuedAtMs, @expiresAtMs)',
      ),
      latestCerts: db.prepare<[], { agent_id: string; serial: string; issued_at_ms: number; expires_at_ms: number }>(
        `SELECT c.agent_id, c.serial, c.issued_at_ms, c.expires_at_ms FROM agent_certificates c
         WHERE c.issued_at_ms = (SELECT MAX(issued_at_ms) FROM agent_certificates d WHERE d.agent_id = c.agent_id)`,
      ),
      latestCertOf: db.prepare<[string], { agent_id: string; serial: string; issued_at_ms: number; expires_at_ms: number }>(
        'SELECT agent_id, serial, issued_at_ms, expires_at_ms FROM agent_certificates WHERE agent_id = ? ORDER BY issued_at_ms DESC LIMIT 1',
      ),
      unexpiredSerialsOf: db.prepare<[string, number], { serial: string }>(
        'SELECT serial FROM agent_certificates WHERE agent_id = ? AND expires_at_ms > ? ORDER BY serial',
      ),
      revokedSerials: db.prepare<[number], { serial: string }>(
        `SELECT c.serial FROM agent_certificates c JOIN revoked_agents r ON r.agent_id = c.agent_id
         WHERE c.expires_at_ms > ? ORDER BY c.serial`,
      ),
      revoke: db.prepare<[string, number, string]>(
        'INSERT INTO revoked_agents (agent_id, revoked_at_ms, reason) VALUES (?, ?, ?) ON CONFLICT (agent_id) DO NOTHING',
      ),
      revoked: db.prepare<[], { agent_id: string; revoked_at_ms: number; reason: string }>(
        'SELECT agent_id, revoked_at_ms, reason FROM revoked_agents ORDER BY agent_id',
      ),
      trustRevision: db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'trust_revision'"),
      bumpTrustRevision: db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'trust_revision'"),
    };
  }

  static on(db: Database.Database): TrustStore {
    return new TrustStore(db);
  }

  insertToken(t: StoredToken): void {
    this.q.insertToken.run(t);
  }

  listTokens(): StoredToken[] {
    return this.q.tokens.all().map(toToken);
  }

  token(tokenId: string): StoredToken | undefined {
    const row = this.q.token.get(tokenId);
    return row ? toToken(row) : undefined;
  }

  countTokens(kind: TokenKindName): number {
    return this.q.countKind.get(kind)?.n ?? 0;
  }

  /** Takes one use of a join token; false when none is left. */
  useToken(tokenId: string): boolean {
    return this.q.useToken.run(tokenId).changes === 1;
  }

  /** Deletes a token unless it is the last valid operator token (one transaction: SQLite has one writer). */
  revokeToken(tokenId: string, nowMs: number): StoredToken | 'unknown' | 'last-operator' {
    return this.db.transaction((): StoredToken | 'unknown' | 'last-operator' => {
      const t = this.token(tokenId);
      if (!t) return 'unknown';
      if (isLastValidOperator(t, nowMs, this.q.validOperators.get(nowMs)?.n ?? 0)) return 'last-operator';
      this.q.deleteToken.run(tokenId);
      return t;
    })();
  }

  recordCertificate(c: CertificateRecord): void {
    this.q.insertCert.run(c);
  }

  /** store-contract.ts recordCertificates: one transaction, a savepoint per write. */
  recordCertificates(writes: readonly CertificateWrite[]): CertificateOutcome[] {
    const one = this.db.transaction((w: CertificateWrite): CertificateOutcome => {
      if (w.useTokenId !== undefined && this.q.useToken.run(w.useTokenId).changes !== 1) return 'token-used-up';
      this.q.insertCert.run(w.cert);
      return 'recorded';
    });
    return this.db.transaction(() =>
      writes.map((w): CertificateOutcome => {
        try {
          // Called inside the outer transaction, `one` is a savepoint: a throw rolls back this write alone.
          return one(w);
        } catch (err) {
          return { err };
        }
      }),
    )();
  }

  /** The latest certificate of every agent that ever had one. */
  latestCertificates(): Map<string, CertificateRecord> {
    return new Map(
      this.q.latestCerts
        .all()
        .map((r) => [r.agent_id, { agentId: r.agent_id, serial: r.serial, issuedAtMs: r.issued_at_ms, expiresAtMs: r.expires_at_ms }]),
    );
  }

  /** The latest certificate issued to one agent. */
  latestCertificate(agentId: string): CertificateRecord | undefined {
    const r = this.q.latestCertOf.get(agentId);
    return r && { agentId: r.agent_id, serial: r.serial, issuedAtMs: r.issued_at_ms, expiresAtMs: r.expires_at_ms };
  }

  /** Revokes an agent in one transaction; returns its unexpired serials (empty and no bump when it was revoked already). */
  revokeAgent(agentId: string, nowMs: number, reason: string): { serials: string[]; newlyRevoked: boolean } {
    return this.db.transaction(() => {
      const newlyRevoked = this.q.revoke.run(agentId, nowMs, reason).changes === 1;
      if (newlyRevoked) this.q.bumpTrustRevision.run();
      return { serials: this.q.unexpiredSerialsOf.all(agentId, nowMs).map((r) => r.serial), newlyRevoked };
    })();
  }

  revokedAgents(): RevokedAgent[] {
    return this.q.revoked.all().map((r) => ({ agentId: r.agent_id, revokedAtMs: r.revoked_at_ms, reason: r.reason }));
  }

  /** Serials of revoked agents' certificates that have not expired yet (expired ones are refused anyway). */
  revokedSerials(nowMs: number): string[] {
    return this.q.revokedSerials.all(nowMs).map((r) => r.serial);
  }

  trustRevision(): number {
    return this.q.trustRevision.get()?.value ?? 0;
  }
}
