/** Helpers for the cluster tests (not part of the package API). */
import type pg from 'pg';

/** Polls `check` until it is true; fails naming `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** pg_terminate_backend on every connection with this application_name; returns how many. */
export async function terminateBackends(admin: pg.Client, applicationName: string): Promise<number> {
  const r = await admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [
    applicationName,
  ]);
  return r.rows.filter((row: { ok: boolean }) => row.ok).length;
}
