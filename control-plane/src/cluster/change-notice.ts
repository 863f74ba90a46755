/**
 * What one replica tells the others after it commits a change: which kind of
 * state moved, the revision it committed, and which services / agents it
 * touched, so a receiver re-reads only those. The notice is a hint, never the
 * data: the receiver always reads the committed rows from the database.
 *
 * PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. A change that
 * touches too many names to fit is sent as a *reload* notice instead: "read
 * everything newer than revision N". Both forms are parsed here, strictly,
 * because a payload on the shared channel is input like any other (another
 * version of Weft, or anyone with access to the database, can NOTIFY on it).
 */

/** Bytes a payload may take: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more (default build). */
export const MAX_NOTICE_BYTES = 7_900;

const KIND = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_NAME_LENGTH = 253;

/** A committed change, as the writing replica describes it. */
export interface Change {
  /** What moved: "registry", "policy", "trust", … (lower case, ≤ 32 chars). */
  kind: string;
  /** The revision the change committed at (its kind's counter). */
  revision: number;
  /** Services whose state changed (registry, policy). */
  services?: readonly string[];
  /** Agents whose state changed (leases, certificates). */
  agents?: readonly string[];
}

/** What a receiver gets: the change, or "reload everything of this kind newer than `reloadAfter`". */
export type ChangeNotice =
  | { form: 'change'; replica: string; kind: string; revision: number; services: string[]; agents: string[] }
  | { form: 'reload'; replica: string; kind: string; revision: number; reloadAfter: number };

interface Wire {
  v: 1;
  r: string;
  k: string;
  rev: number;
  s?: string[];
  a?: string[];
  after?: number;
}

/** Checks a change before it is sent; the message names the field. */
export function validateChange(change: Change): void {
  if (!KIND.test(change.kind)) throw new RangeError(`change.kind: must match ${KIND.source}, got ${JSON.stringify(change.kind)}`);
  if (!Number.isSafeInteger(change.revision) || change.revision < 0)
    throw new RangeError(`change.revision: must be a non-negative integer, got ${change.revision}`);
  for (const field of ['services', 'agents'] as const) {
    const names = change[field] ?? [];
    names.forEach((n, i) => {
      if (typeof n !== 'string' || n.length === 0 || n.length > MAX_NAME_LENGTH)
        throw new RangeError(`change.${field}[${i}]: must be a name of 1..${MAX_NAME_LENGTH} characters`);
    });
  }
}

/**
 * The payload for `change` sent by `replica`: the full change when it fits in
 * MAX_NOTICE_BYTES, else a reload notice ("everything after revision - 1").
 */
export function encodeNotice(replica: string, change: Change): string {
  validateChange(change);
  const full: Wire = { v: 1, r: replica, k: change.kind, rev: change.revision };
  if (change.services?.length) full.s = [...change.services];
  if (change.agents?.length) full.a = [...change.agents];
  const text = JSON.stringify(full);
  if (Buffer.byteLength(text) <= MAX_NOTICE_BYTES) return text;
  const reload: Wire = { v: 1, r: replica, k: change.kind, rev: change.revision, after: Math.max(0, change.revision - 1) };
  return JSON.stringify(reload);
}

/** Parses a payload from the channel; returns a reason instead of throwing when it is not a notice. */
export function decodeNotice(payload: string | undefined): ChangeNotice | { invalid: string } {
  if (payload === undefined || payload.length === 0) return { invalid: 'empty payload' };
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return { invalid: 'payload is not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { invalid: 'payload is not an object' };
  const w = raw as Record<string, unknown>;
  if (w.v !== 1) return { invalid: `v: unsupported notice version ${JSON.stringify(w.v)}` };
  if (typeof w.r !== 'string' || w.r.length === 0 || w.r.length > 128) return { invalid: 'r: replica id must be 1..128 characters' };
  if (typeof w.k !== 'string' || !KIND.test(w.k)) return { invalid: 'k: kind must match a lower-case name' };
  if (!isRevision(w.rev)) return { invalid: 'rev: must be a non-negative integer' };
  if (w.after !== undefined) {
    if (!isRevision(w.after)) return { invalid: 'after: must be a non-negative integer' };
    return { form: 'reload', replica: w.r, kind: w.k, revision: w.rev, reloadAfter: w.after };
  }
  const services = names(w.s);
  if (services === undefined) return { invalid: 's: must be a list of names' };
  const agents = names(w.a);
  if (agents === undefined) return { invalid: 'a: must be a list of names' };
  return { form: 'change', replica: w.r, kind: w.k, revision: w.rev, services, agents };
}

function isRevision(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function names(v: unknown): string[] | undefined {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return undefined;
  for (const n of v) if (typeof n !== 'string' || n.length === 0 || n.length > MAX_NAME_LENGTH) return undefined;
  return v as string[];
}
