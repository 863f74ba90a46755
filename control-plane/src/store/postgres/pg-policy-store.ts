/**
 * Traffic-policy documents in PostgreSQL (store-contract.ts
 * PolicyStoreContract), the same tables and rules as SQLite's policy-store.ts.
 *
 * A commit plans and writes inside one transaction that holds the policy
 * advisory lock, so two replicas applying at once are serialized: each plans
 * against what the other committed, and config revisions (the
 * config_revision sequence) become visible in increasing order.
 */
import type { PolicyKind } from '@weft/shared';
import type pg from 'pg';
import type { ChangeAction, PolicyChange, PolicyRevision, PolicyStoreContract, PolicyWrite, StoredPolicy } from '../store-contract.js';
import { type PgDatabase, sequenceValue, xactLock } from './pg-database.js';

interface HistoryRow {
  revision: number;
  service: string;
  kind: string;
  json: string | null;
  before_json: string | null;
}

const key = (service: string, kind: string) => `${service}\u0000${kind}`;

function planAgainst(current: Map<string, string>, writes: readonly PolicyWrite[]): PolicyChange[] {
  return writes.map((w) => {
    const before = current.get(key(w.service, w.kind)) ?? '';
    const after = w.json ?? '';
    const action: ChangeAction = before === after ? 'unchanged' : before === '' ? 'create' : after === '' ? 'delete' : 'update';
    return { service: w.service, kind: w.kind, action, beforeJson: before, afterJson: after };
  });
}

type Rows = <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => Promise<R[]>;

/** The stored JSON of each (service, kind) that `writes` name. */
async function currentJson(rows: Rows, writes: readonly PolicyWrite[]): Promise<Map<string, string>> {
  const found = await rows<StoredPolicy>(
    'SELECT service, kind, json FROM policy WHERE (service, kind) IN (SELECT * FROM unnest($1::text[], $2::text[]))',
    [writes.map((w) => w.service), writes.map((w) => w.kind)],
  );
  return new Map(found.map((r) => [key(r.service, r.kind), r.json]));
}

export class PgPolicyStore implements PolicyStoreContract {
  private rev = 0;

  constructor(private readonly db: PgDatabase) {}

  revision(): number {
    return this.rev;
  }

  async refreshRevision(): Promise<number> {
    const [{ value }] = await this.db.query<{ value: number }>(sequenceValue('config_revision'));
    this.rev = Math.max(this.rev, value);
    return this.rev;
  }

  async list(): Promise<StoredPolicy[]> {
    const rows = await this.db.query<StoredPolicy>('SELECT service, kind, json, revision FROM policy ORDER BY service, kind');
    return rows.map((r) => ({ service: r.service, kind: r.kind as PolicyKind, json: r.json, revision: r.revision }));
  }

  async plan(writes: readonly PolicyWrite[]): Promise<PolicyChange[]> {
    return planAgainst(await currentJson((sql, p) => this.db.query(sql, p), writes), writes);
  }

  async commit(writes: readonly PolicyWrite[], description: string): Promise<{ revision: number; changes: PolicyChange[] }> {
    const out = await this.db.transaction(async (c) => {
      await c.query(xactLock('policy-commit'));
      const changes = planAgainst(await currentJson(async (sql, p) => (await c.query(sql, p)).rows, writes), writes);
      const effective = changes.filter((ch) => ch.action !== 'unchanged');
      if (effective.length === 0) {
        const [{ value }] = (await c.query<{ value: number }>(sequenceValue('config_revision'))).rows;
        return { revision: value, changes };
      }
      const next = (await c.query<{ v: number }>("SELECT nextval('config_revision') AS v")).rows[0].v;
      await c.query('INSERT INTO policy_revisions (revision, applied_at, description) VALUES ($1, $2, $3)', [
        next,
        new Date().toISOString(),
        description,
      ]);
      for (const ch of effective) {
        if (ch.action === 'delete') await c.query('DELETE FROM policy WHERE service = $1 AND kind = $2', [ch.service, ch.kind]);
        else
          await c.query(
            `INSERT INTO policy (service, kind, json, revision) VALUES ($1, $2, $3, $4)
             ON CONFLICT (service, kind) DO UPDATE SET json = excluded.json, revision = excluded.revision`,
            [ch.service, ch.kind, ch.afterJson, next],
          );
        await c.query('INSERT INTO policy_history (revision, service, kind, json, before_json) VALUES ($1, $2, $3, $4, $5)', [
          next,
          ch.service,
          ch.kind,
          ch.afterJson || null,
          ch.beforeJson || null,
        ]);
      }
      await this.db.announce(c, { kind: 'policy', revision: next, services: [...new Set(effective.map((ch) => ch.service))] });
      return { revision: next, changes };
    });
    this.rev = Math.max(this.rev, out.revision);
    return out;
  }

  async history(service: string | undefined, limit: number): Promise<PolicyRevision[]> {
    const revisions = await this.db.query<{ revision: number; applied_at: string; description: string }>(
      `SELECT r.revision, r.applied_at, r.description FROM policy_revisions r
       WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM policy_history h WHERE h.revision = r.revision AND h.service = $1)
       ORDER BY r.revision DESC LIMIT $2`,
      [service ?? null, limit],
    );
    if (revisions.length === 0) return [];
    const rows = await this.db.query<HistoryRow>(
      `SELECT * FROM policy_history WHERE revision = ANY($1::bigint[]) AND ($2::text IS NULL OR service = $2) ORDER BY service, kind`,
      [revisions.map((r) => r.revision), service ?? null],
    );
    return revisions.map((r) => ({
      revision: r.revision,
      appliedAt: r.applied_at,
      description: r.description,
      changes: rows
        .filter((h) => h.revision === r.revision)
        .map((h) => ({
          service: h.service,
          kind: h.kind as PolicyKind,
          action: (h.json === null ? 'delete' : h.before_json === null ? 'create' : 'update') as ChangeAction,
          beforeJson: h.before_json ?? '',
          afterJson: h.json ?? '',
        })),
    }));
  }

  async hasRevision(revision: number): Promise<boolean> {
    if (revision === 0) return true;
    return (await this.db.query('SELECT 1 FROM policy_revisions WHERE revision = $1', [revision])).length > 0;
  }

  async writesToRestore(revision: number): Promise<PolicyWrite[]> {
    const rows = await this.db.query<HistoryRow>(
      `SELECT DISTINCT ON (service, kind) * FROM policy_history WHERE revision <= $1 ORDER BY service, kind, revision DESC`,
      [revision],
    );
    const target = new Map<string, PolicyWrite>();
    for (const h of rows) target.set(key(h.service, h.kind), { service: h.service, kind: h.kind as PolicyKind, json: h.json });
    for (const s of await this.list()) {
      if (!target.has(key(s.service, s.kind))) target.set(key(s.service, s.kind), { service: s.service, kind: s.kind, json: null });
    }
    return [...target.values()].sort((a, b) => (a.service === b.service ? (a.kind < b.kind ? -1 : 1) : a.service < b.service ? -1 : 1));
  }
}
