/**
 * Crash-safe small-file persistence for the agent's data dir: write a temp
 * file beside the target, then rename over it, so a reader (or an agent
 * restarting after a crash) sees either the old or the new content, never a
 * half-written file.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/** The file's text, or undefined when it does not exist. Other errors propagate. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Serializes writes of one file and coalesces bursts: while a write is in
 * flight, further saves only remember that another write is needed, and the
 * latest content (asked for at write time) wins.
 */
export class CoalescingWriter {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly path: string,
    private readonly content: () => string,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Schedules a write of the current content; resolves when it (or a later one) is on disk. */
  save(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves when no write is pending. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await writeFileAtomic(this.path, this.content());
      } catch (err) {
        this.onError(err);
      }
    } while (this.again);
  }
}
