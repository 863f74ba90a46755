// Child processes of the benchmark: started pinned to a CPU with taskset,
// remembered by PID, and all stopped (SIGTERM, then SIGKILL) at the end, on
// error and on Ctrl-C. taskset execs its command, so the PID we hold is the
// program's own PID (what /proc accounting needs).
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const children = new Set();
let haveTaskset;

/** True when `cmd` is on PATH (or is an existing absolute path). */
export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** argv prefixed with `taskset -c <cpu>` when taskset exists and cpu is given. */
function pinned(cpu, argv) {
  haveTaskset ??= which('taskset') !== null;
  return cpu === undefined || !haveTaskset ? argv : ['taskset', '-c', String(cpu), ...argv];
}

/**
 * Starts a long-running program. Returns { pid, child, lines, exited }.
 * stderr and stdout lines are kept (last 200) for post-mortems; `onLine` sees each.
 */
export function start(argv, { cpu, env, cwd, onLine, name } = {}) {
  const full = pinned(cpu, argv);
  const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd });
  const lines = [];
  const keep = (line) => {
    proc.lineCount++;
    lines.push(line);
    if (lines.length > 200) lines.shift();
    onLine?.(line);
  };
  createInterface({ input: child.stdout }).on('line', keep);
  createInterface({ input: child.stderr }).on('line', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const proc = { name: name ?? argv[0], pid: child.pid, child, lines, exited, lineCount: 0 };
  children.add(proc);
  exited.then(() => children.delete(proc));
  child.once('error', (err) => keep(`spawn error: ${err.message}`));
  return proc;
}

/** Runs a program to completion (pinned), collecting stdout; tracked so Ctrl-C stops it too. */
export function runToEnd(argv, { cpu, env } = {}) {
  const full = pinned(cpu, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const proc = { name: argv[0], pid: child.pid, child };
    children.add(proc);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      children.delete(proc);
      resolve({ code, stdout: out, stderr: err });
    });
  });
}

/** Sends SIGTERM to one process and waits for it; SIGKILL after graceMs. */
export async function stop(proc, graceMs = 5000) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
  try {
    process.kill(proc.pid, 'SIGTERM');
  } catch {
    return proc.exited;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {}
  }, graceMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return code;
}

/** Stops every child still running. */
export async function stopAll() {
  await Promise.all([...children].map((p) => stop(p, 3000)));
}

/** Last-resort synchronous kill (process 'exit' handler). */
export function killAllSync() {
  for (const p of children) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects after timeoutMs or if proc exits. */
export async function waitForPort(port, proc, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited before listening on ${port}:\n${proc.lines.slice(-10).join('\n')}`);
    }
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves with the parsed `{"msg":"ready",...}` JSON log line of a Weft process. */
export function waitReady(proc, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const find = () => {
      for (const line of proc.lines) {
        if (!line.includes('"ready"')) continue;
        try {
          const rec = JSON.parse(line);
          if (rec.msg === 'ready') return rec;
        } catch {}
      }
      return undefined;
    };
    const timer = setInterval(() => {
      const rec = find();
      if (rec) done(null, rec);
      else if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        done(new Error(`${proc.name} exited before it was ready:\n${proc.lines.slice(-15).join('\n')}`));
      } else if (Date.now() > until) done(new Error(`${proc.name} not ready in ${timeoutMs} ms:\n${proc.lines.slice(-15).join('\n')}`));
    }, 50);
    const until = Date.now() + timeoutMs;
    function done(err, rec) {
      clearInterval(timer);
      if (err) reject(err);
      else resolve(rec);
    }
  });
}
