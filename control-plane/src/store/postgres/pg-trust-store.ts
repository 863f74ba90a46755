/**
 * Tokens, issued agent certificates and revocations in PostgreSQL
 * (store-contract.ts TrustStoreContract), the same tables and rules as
 * SQLite's trust-store.ts. The trust revision (version of the
 * "trust/revocations" resource) is the trust_revision sequence.
 */
import type { TokenKindName } from '@weft/shared';
import {
  type CertificateOutcome,
  type CertificateRecord,
  isLastValidOperator,
  isValidOperator,
  type StoredToken,
  type TrustStoreContract,
} from '../store-contract.js';
import { isUnavailable, type PgDatabase, sequenceValue } from './pg-database.js';

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

interface CertRow {
  agent_id: string;
  serial: string;
  issued_at_ms: number;
  expires_at_ms: number;
}

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

const toCert = (r: CertRow): CertificateRecord => ({
  agentId: r.agent_id,
  serial: r.serial,
  issuedAtMs: r.issued_at_ms,
  expiresAtMs: r.expires_at_ms,
});

export function pgTrustStore(db: PgDatabase): TrustStoreContract {
  return {
    async insertToken(t) {
      await db.query(
        `INSERT INTO tokens (token_id, kind, secret_sha256, created_at_ms, expires_at_ms, uses_left, agent_id, description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [t.tokenId, t.kind, t.secretSha256, t.createdAtMs, t.expiresAtMs, t.usesLeft, t.agentId, t.description],
      );
    },
    async token(tokenId) {
      const rows = await db.query<TokenRow>('SELECT * FROM tokens WHERE token_id = $1', [tokenId]);
      return rows[0] && toToken(rows[0]);
    },
    async listTokens() {
      return (await db.query<TokenRow>('SELECT * FROM tokens ORDER BY token_id')).map(toToken);
    },
    async countTokens(kind) {
      return (await db.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM tokens WHERE kind = $1', [kind]))[0].n;
    },
    async useToken(tokenId) {
      const rows = await db.query('UPDATE tokens SET uses_left = uses_left - 1 WHERE token_id = $1 AND uses_left > 0 RETURNING token_id', [
        tokenId,
      ]);
      return rows.length === 1;
    },
    async revokeToken(tokenId, nowMs) {
      return db.transaction(async (c) => {
        // Locks every operator token row first: a concurrent revocation waits here, then counts what is left.
        const ops = await c.query<TokenRow>("SELECT * FROM tokens WHERE kind = 'operator' FOR UPDATE");
        const rows = await c.query<TokenRow>('SELECT * FROM tokens WHERE token_id = $1 FOR UPDATE', [tokenId]);
        if (rows.rows.length === 0) return 'unknown';
        const t = toToken(rows.rows[0]);
        const validOperators = ops.rows.map(toToken).filter((o) => isValidOperator(o, nowMs)).length;
        if (isLastValidOperator(t, nowMs, validOperators)) return 'last-operator';
        await c.query('DELETE FROM tokens WHERE token_id = $1', [tokenId]);
        return t;
      });
    },
    async recordCertificate(c) {
      await db.query('INSERT INTO agent_certificates (serial, agent_id, issued_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)', [
        c.serial,
        c.agentId,
        c.issuedAtMs,
        c.expiresAtMs,
      ]);
    },
    async recordCertificates(writes) {
      return db.transaction(async (client) => {
        const outcomes: CertificateOutcome[] = [];
        for (const [i, w] of writes.entries()) {
          // The previous write's savepoint is released in the same round trip as this one's is set.
          await client.query(i === 0 ? 'SAVEPOINT w' : 'RELEASE SAVEPOINT w; SAVEPOINT w');
          try {
            if (w.useTokenId !== undefined) {
              const used = await client.query(
                'UPDATE tokens SET uses_left = uses_left - 1 WHERE token_id = $1 AND uses_left > 0 RETURNING token_id',
                [w.useTokenId],
              );
              if (used.rowCount !== 1) {
                outcomes.push('token-used-up');
                continue;
              }
            }
            await client.query('INSERT INTO agent_certificates (serial, agent_id, issued_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)', [
              w.cert.serial,
              w.cert.agentId,
              w.cert.issuedAtMs,
              w.cert.expiresAtMs,
            ]);
            outcomes.push('recorded');
          } catch (err) {
            if (isUnavailable(err)) throw err;
            await client.query('ROLLBACK TO SAVEPOINT w');
            outcomes.push({ err });
          }
        }
        return outcomes;
      });
    },
    async latestCertificates() {
      const rows = await db.query<CertRow>(
        `SELECT DISTINCT ON (agent_id) agent_id, serial, issued_at_ms, expires_at_ms FROM agent_certificates
         ORDER BY agent_id, issued_at_ms DESC`,
      );
      return new Map(rows.map((r) => [r.agent_id, toCert(r)]));
    },
    async latestCertificate(agentId) {
      const rows = await db.query<CertRow>(
        'SELECT agent_id, serial, issued_at_ms, expires_at_ms FROM agent_certificates WHERE agent_id = $1 ORDER BY issued_at_ms DESC LIMIT 1',
        [agentId],
      );
      return rows[0] && toCert(rows[0]);
    },
    async revokeAgent(agentId, nowMs, reason) {
      return db.transaction(async (c) => {
        const inserted = await c.query(
          'INSERT INTO revoked_agents (agent_id, revoked_at_ms, reason) VALUES ($1, $2, $3) ON CONFLICT (agent_id) DO NOTHING',
          [agentId, nowMs, reason],
        );
        const newlyRevoked = inserted.rowCount === 1;
        if (newlyRevoked) {
          const { rows } = await c.query<{ v: number }>("SELECT nextval('trust_revision') AS v");
          await db.announce(c, { kind: 'trust', revision: rows[0].v, agents: [agentId] });
        }
        const serials = await c.query<{ serial: string }>(
          'SELECT serial FROM agent_certificates WHERE agent_id = $1 AND expires_at_ms > $2 ORDER BY serial',
          [agentId, nowMs],
        );
        return { serials: serials.rows.map((r) => r.serial), newlyRevoked };
      });
    },
    async revokedAgents() {
      const rows = await db.query<{ agent_id: string; revoked_at_ms: number; reason: string }>(
        'SELECT agent_id, revoked_at_ms, reason FROM revoked_agents ORDER BY agent_id',
      );
      return rows.map((r) => ({ agentId: r.agent_id, revokedAtMs: r.revoked_at_ms, reason: r.reason }));
    },
    async revokedSerials(nowMs) {
      const rows = await db.query<{ serial: string }>(
        `SELECT c.serial FROM agent_certificates c JOIN revoked_agents r ON r.agent_id = c.agent_id
         WHERE c.expires_at_ms > $1 ORDER BY c.serial`,
        [nowMs],
      );
      return rows.map((r) => r.serial);
    },
    async trustRevision() {
      return (await db.query<{ value: number }>(sequenceValue('trust_revision')))[0].value;
    },
  };
}
