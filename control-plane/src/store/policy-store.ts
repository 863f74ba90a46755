/**
 * Traffic-policy documents in SQLite (tables from migration 2, "policy").
 *
 * Contract:
 * - The config revision is its own counter (meta 'config_revision'), separate
 *   from the registry revision: a config change never waits behind registry
 *   group commits, and a policy resource's version is the config revision at
 *   which that service's policy last changed. Like registry revisions it is
 *   persisted, so a version is never reissued for different content.
 * - commit() is one transaction: every (service, kind) it changes gets the new
 *   revision, one `policy_revisions` row describes the call, and
 *   `policy_history` keeps each change (json NULL = deleted) so any revision's
 *   state can be rebuilt for rollback. A commit that changes nothing writes
 *   nothing and keeps the revision.
 *
 * It uses its own connection to the control plane's database file: every
 * write here is one synchronous transaction, so it never interleaves with the
 * registry's (better-sqlite3 runs both on the one JS thread).
 */
import type { PolicyKind } from '@weft/shared';
import type Database from 'better-sqlite3';
import { openDatabase } from './database.js';
import type { ChangeAction, PolicyChange, PolicyRevision, PolicyWrite, StoredPolicy } from './store-contract.js';

export type { ChangeAction, PolicyChange, PolicyRevision, PolicyWrite, StoredPolicy };

interface HistoryRow {
  revision: number;
  service: string;
  kind: string;
  json: string | null;
  before_json: string | null;
}

const key = (service: string, kind: string) => `${service}\u0000${kind}`;

export class PolicyStore {
  private rev: number;
  private readonly q;

  private constructor(private readonly db: Database.Database) {
    this.q = {
      revision: db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'config_revision'"),
      setRevision: db.prepare<[number]>("UPDATE meta SET value = ? WHERE key = 'config_revision'"),
      all: db.prepare<[], StoredRow>('SELECT service, kind, json, revision FROM policy ORDER BY service, kind'),
      one: db.prepare<[string, string], StoredRow>('SELECT service, kind, json, revision FROM policy WHERE service = ? AND kind = ?'),
      upsert: db.prepare<[string, string, string, number]>(
        `INSERT INTO policy (service, kind, json, revision) VALUES (?, ?, ?, ?)
         ON CONFLICT (service, kind) DO UPDATE SET json = excluded.json, revision = excluded.revision`,
      ),
      remove: db.prepare<[string, string]>('DELETE FROM policy WHERE service = ? AND kind = ?'),
      addRevision: db.prepare<[number, string, string]>(
        'INSERT INTO policy_revisions (revision, applied_at, description) VALUES (?, ?, ?)',
      ),
      addHistory: db.prepare<[number, string, string, string | null, string | null]>(
        'INSERT INTO policy_history (revision, service, kind, json, before_json) VALUES (?, ?, ?, ?, ?)',
      ),
      revisions: db.prepare<[number], { revision: number; applied_at: string; description: string }>(
        'SELECT revision, applied_at, description FROM policy_revisions ORDER BY revision DESC LIMIT ?',
      ),
      revisionRow: db.prepare<[number], { revision: number }>('SELECT revision FROM policy_revisions WHERE revision = ?'),
      historyOf: db.prepare<[number], HistoryRow>('SELECT * FROM policy_history WHERE revision = ? ORDER BY service, kind'),
      stateAt: db.prepare<[number], HistoryRow>(
        `SELECT h.* FROM policy_history h
         JOIN (SELECT service, kind, MAX(revision) AS r FROM policy_history WHERE revision <= ? GROUP BY service, kind) last
           ON h.service = last.service AND h.kind = last.kind AND h.revision = last.r`,
      ),
    };
    this.rev = this.q.revision.get()?.value ?? 0;
  }

  /** Opens (creating and migrating) the database file with a store of its own. */
  static open(file: string): PolicyStore {
    return new PolicyStore(openDatabase(file));
  }

  /** A store on an already opened database (see database.ts), shared with the registry's store. */
  static on(db: Database.Database): PolicyStore {
    return new PolicyStore(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  revision(): number {
    return this.rev;
  }

  list(): StoredPolicy[] {
    return this.q.all.all().map(fromRow);
  }

  get(service: string, kind: PolicyKind): StoredPolicy | undefined {
    const row = this.q.one.get(service, kind);
    return row ? fromRow(row) : undefined;
  }

  /** What `writes` would change against what is stored now (nothing is written). */
  plan(writes: readonly PolicyWrite[]): PolicyChange[] {
    return writes.map((w) => {
      const before = this.q.one.get(w.service, w.kind)?.json ?? '';
      const after = w.json ?? '';
      const action: ChangeAction = before === after ? 'unchanged' : before === '' ? 'create' : after === '' ? 'delete' : 'update';
      return { service: w.service, kind: w.kind, action, beforeJson: before, afterJson: after };
    });
  }

  /** Writes `writes` as one transaction and one revision (if anything changes). */
  commit(writes: readonly PolicyWrite[], description: string): { revision: number; changes: PolicyChange[] } {
    return this.db.transaction(() => {
      const changes = this.plan(writes);
      const effective = changes.filter((c) => c.action !== 'unchanged');
      if (effective.length === 0) return { revision: this.rev, changes };
      const next = this.rev + 1;
      this.q.addRevision.run(next, new Date().toISOString(), description);
      for (const c of effective) {
        if (c.action === 'delete') this.q.remove.run(c.service, c.kind);
        else this.q.upsert.run(c.service, c.kind, c.afterJson, next);
        this.q.addHistory.run(next, c.service, c.kind, c.afterJson || null, c.beforeJson || null);
      }
      this.q.setRevision.run(next);
      this.rev = next;
      return { revision: next, changes };
    })();
  }

  /** Newest first; `service` filters the changes (revisions without any are left out). */
  history(service: string | undefined, limit: number): PolicyRevision[] {
    const out: PolicyRevision[] = [];
    for (const r of this.q.revisions.all(service ? 1_000_000 : limit)) {
      const changes = this.q.historyOf
        .all(r.revision)
        .filter((h) => !service || h.service === service)
        .map((h) => ({
          service: h.service,
          kind: h.kind as PolicyKind,
          action: (h.json === null ? 'delete' : h.before_json === null ? 'create' : 'update') as ChangeAction,
          beforeJson: h.before_json ?? '',
          afterJson: h.json ?? '',
        }));
      if (changes.length === 0) continue;
      out.push({ revision: r.revision, appliedAt: r.applied_at, description: r.description, changes });
      if (out.length >= limit) break;
    }
    return out;
  }

  hasRevision(revision: number): boolean {
    return revision === 0 || this.q.revisionRow.get(revision) !== undefined;
  }

  /** The writes that make the stored config what it was right after `revision`. */
  writesToRestore(revision: number): PolicyWrite[] {
    const target = new Map<string, PolicyWrite>();
    for (const h of this.q.stateAt.all(revision))
      target.set(key(h.service, h.kind), { service: h.service, kind: h.kind as PolicyKind, json: h.json });
    for (const s of this.list()) {
      if (!target.has(key(s.service, s.kind))) target.set(key(s.service, s.kind), { service: s.service, kind: s.kind, json: null });
    }
    return [...target.values()].sort((a, b) => (a.service === b.service ? (a.kind < b.kind ? -1 : 1) : a.service < b.service ? -1 : 1));
  }
}

interface StoredRow {
  service: string;
  kind: string;
  json: string;
  revision: number;
}

function fromRow(r: StoredRow): StoredPolicy {
  return { service: r.service, kind: r.kind as PolicyKind, json: r.json, revision: r.revision };
}
