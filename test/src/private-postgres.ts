/**
 * A PostgreSQL server of the test's own: a fresh cluster in a temporary
 * directory on a free loopback port, that the test can stop (as a crash:
 * `pg_ctl stop -m immediate`) and start again. The shared server at
 * 127.0.0.1:5432 is never stopped by a test; this one is.
 *
 * Needs the server binaries (Debian's postgresql package: .ci/run installs it
 * through scripts/ensure-postgres.sh when missing) and, as root, the
 * `postgres` system user to run them as (PostgreSQL refuses to run as root).
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The newest installed server's bin directory, or undefined. */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(a) - Number(b));
  return versions.length > 0 ? join(root, versions[versions.length - 1], 'bin') : undefined;
}

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** Why a private server cannot run here, or undefined when it can. */
export async function privatePostgresSkipReason(): Promise<string | undefined> {
  if (!binDir()) return 'no PostgreSQL server binaries under /usr/lib/postgresql (Debian package postgresql)';
  if (process.getuid?.() === 0 && !(await postgresUser())) return 'running as root and there is no postgres user to run the server as';
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class PrivatePostgres {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    private readonly asUser: string[],
    readonly port: number,
  ) {}

  /** Connection URL of its `postgres` database (trust authentication on loopback). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** initdb + start; throws naming the step that failed. */
  static async create(): Promise<PrivatePostgres> {
    const bin = binDir();
    if (!bin) throw new Error('no PostgreSQL server binaries');
    const dir = mkdtempSync(join(tmpdir(), 'weft-pg-'));
    let asUser: string[] = [];
    if (process.getuid?.() === 0) {
      const user = await postgresUser();
      if (!user) throw new Error('no postgres user to run the server as');
      chownSync(dir, user.uid, user.gid);
      asUser = ['runuser', '-u', 'postgres', '--'];
    }
    const pg = new PrivatePostgres(bin, dir, asUser, await freePort());
    await pg.exec('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await pg.start();
    return pg;
  }

  private async exec(program: string, args: string[]): Promise<void> {
    const [cmd, ...rest] = [...this.asUser, join(this.bin, program), ...args];
    try {
      await run(cmd, rest, { timeout: 60_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${program} failed: ${e.stderr?.trim() || e.message}`);
    }
  }

  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
    return this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-o', options, '-l', join(this.dir, 'log'), '-w', '-t', '60', 'start']);
  }

  /** Stops it the way a crash does (`immediate`: no checkpoint, connections cut) or cleanly (`fast`). */
  stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    return this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', '-t', '60', 'stop']);
  }

  /** Stops it if running and removes its files. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
