/**
 * The control plane under test, as a real separate process started through the
 * `weft` command. Knows how to wait for its `ready` log line, read its memory
 * and CPU time from /proc, and stop it (SIGTERM, then SIGKILL after a limit).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks.

export class ControlPlaneProcess {
  /**
   * @param {object} o
   * @param {string} o.repo       repository root (holds cli/bin/weft.js)
   * @param {string} o.dataDir
   * @param {number} o.grpcPort   0 = let the OS choose
   * @param {number} o.leaseTtlS
   * @param {string|null} o.cpuProfDir  when set, run with --cpu-prof into this directory
   * @param {string} [o.store]    postgres://… passed as --store (replicas); default SQLite in dataDir
   * @param {boolean} [o.tls]     TLS on the gRPC port (the default of `weft control-plane`); else --insecure
   * @param {(line: string) => void} [o.onLog]
   */
  constructor(o) {
    this.o = o;
    this.child = null;
    this.exited = null;
    this.tail = [];
    this.warnLines = 0;
    this.errorLines = 0;
    this.spawnedAtMs = 0;
  }

  /** Starts the process and resolves with { grpcPort, httpPort, startMs } once it logged `ready`. */
  start(timeoutMs = 20_000) {
    const o = this.o;
    const nodeArgs = [...(o.nodeFlags ?? []), ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [])];
    const args = [
      ...nodeArgs,
      join(o.repo, 'cli/bin/weft.js'),
      'control-plane',
      '--data-dir',
      o.dataDir,
      '--host',
      '127.0.0.1',
      '--grpc-port',
      String(o.grpcPort),
      '--http-port',
      '0',
      '--lease-ttl',
      `${o.leaseTtlS}s`,
      // The simulated agents speak plaintext gRPC without certificates: this measures the registry, the
      // store and the streams, not TLS (whose per-connection cost comes on top: tls-connections.mjs).
      ...(o.tls ? [] : ['--insecure']),
      ...(o.store ? ['--store', o.store] : []),
    ];
    this.spawnedAtMs = Date.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WEFT_LOG_LEVEL: 'info' } });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return new Promise((resolve, reject) => {
      let buf = '';
      let ready = false;
      const timer = setTimeout(() => fail(new Error(`control plane did not log "ready" within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err) => {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        reject(new Error(`${err.message}\n--- control-plane stderr (tail) ---\n${this.tail.join('\n')}`));
      };
      child.once('error', fail);
      child.once('exit', (code, signal) => fail(new Error(`control plane exited (code ${code}, signal ${signal}) before "ready"`)));
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        buf += chunk;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
          this.tail.push(line);
          if (this.tail.length > 40) this.tail.shift();
          let rec = null;
          try {
            rec = JSON.parse(line);
          } catch {}
          if (rec?.level === 'warn') this.warnLines++;
          if (rec?.level === 'error') this.errorLines++;
          o.onLog?.(line, rec);
          if (!ready && rec?.msg === 'ready' && Number.isInteger(rec.grpcPort)) {
            ready = true;
            clearTimeout(timer);
            resolve({ grpcPort: rec.grpcPort, httpPort: rec.httpPort, startMs: Date.now() - this.spawnedAtMs });
          }
        }
      });
    });
  }

  get pid() {
    return this.child?.pid ?? null;
  }

  /** Resident set size in KiB (VmRSS), or null when the process is gone. */
  rssKiB() {
    const status = this.readProc('status');
    const m = status && /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) : null;
  }

  /** User + system CPU time consumed so far, in ms. */
  cpuMs() {
    const stat = this.readProc('stat');
    if (!stat) return null;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  }

  readProc(file) {
    if (!this.pid) return null;
    try {
      return readFileSync(`/proc/${this.pid}/${file}`, 'utf8');
    } catch {
      return null;
    }
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves with { stopMs, killed, code, signal }. */
  async stop(graceMs = 10_000) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return { stopMs: 0, killed: false };
    const t0 = Date.now();
    child.kill('SIGTERM');
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), graceMs);
    });
    let result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    let killed = false;
    if (result === null) {
      killed = true;
      child.kill('SIGKILL');
      result = await this.exited;
    }
    return { stopMs: Date.now() - t0, killed, ...result };
  }

  /** SIGKILL (a crashed replica); resolves when it is gone. */
  async kill9() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Last-resort synchronous kill (process exit handlers). */
  killNow() {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {}
    }
  }
}
