/**
 * One control plane per data dir. Two processes on one SQLite file each
 * keep their own in-memory revision view and counters, and corrupt each
 * other's revisions (seen by a user: `UNIQUE constraint failed:
 * policy_revisions.revision`). The lock is a file created exclusively
 * (`O_CREAT|O_EXCL`) holding the owner's pid, host and start time, so the
 * refusal can say who holds it. A lock left by a process that is gone (kill
 * -9, a crash) is taken over when that pid no longer runs on this host; a
 * lock from another host (a shared filesystem) is never taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE_NAME = 'control-plane.lock';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  constructor(
    readonly dir: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(
      owner === undefined
        ? `data dir ${dir} is locked by another control plane (unreadable ${LOCK_FILE_NAME}); stop it first`
        : `data dir ${dir} is in use by another control plane: pid ${owner.pid} on ${owner.host} since ${owner.since}; ` +
            `stop it first (or give this one another --data-dir). If that process is gone, remove ${join(dir, LOCK_FILE_NAME)}`,
    );
  }
}

export interface DataDirLock {
  release(): void;
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string') return o as LockOwner;
  } catch {
    // Unreadable or half-written: treated as held (never guess a lock is stale).
  }
  return undefined;
}

/** True when `pid` runs on this host (EPERM: it runs, as another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data dir's lock or throws DataDirLockedError naming the holder. */
export function lockDataDir(dir: string): DataDirLock {
  const file = join(dir, LOCK_FILE_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readOwner(file);
      const stale = owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && !running(owner.pid);
      if (!stale || attempt > 0) throw new DataDirLockedError(dir, owner);
      unlinkSync(file);
      continue;
    }
    const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        // Only our own lock: never remove one another process took over.
        if (readOwner(file)?.pid === process.pid) unlinkSync(file);
      },
    };
  }
  throw new DataDirLockedError(dir, readOwner(file));
}
