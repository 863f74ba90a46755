/**
 * Runs a Weft program (`weft control-plane`, `weft agent`, a demo service) as a
 * child process and waits for its `ready` log line, which carries the ports it
 * bound. Used by `weft demo` and by the end-to-end tests, so both exercise the
 * real programs exactly as an operator starts them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Path of the `weft` launcher (cli/bin/weft.js). */
export const WEFT_BIN = join(dirname(fileURLToPath(import.meta.url)), '../../bin/weft.js');

export interface WeftProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Fields of the `ready` log line (ports, ids). Empty for programs that log no ready line. */
  readonly ready: Record<string, unknown>;
  /** Every stderr line so far (structured logs), for assertions and post-mortems. */
  readonly logLines: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM) and waits for exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

export interface SpawnOptions {
  /** Append stdout/stderr to this file instead of keeping them only in memory. */
  logFile?: string;
  /** Wait for a `ready` log line (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called with each stdout line. */
  onStdout?: (line: string) => void;
  /** node's own flags, before the script (the agent's AGENT_NODE_FLAGS). */
  nodeFlags?: readonly string[];
}

export function spawnNode(script: string, args: string[], options: SpawnOptions = {}): Promise<WeftProcess> {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const logLines: string[] = [];
  let log: WriteStream | undefined;
  if (options.logFile) log = createWriteStream(options.logFile, { flags: 'a' });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      log?.end();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const ready: Record<string, unknown> = {};
  let onReady: (() => void) | undefined;
  const readyPromise = new Promise<void>((resolve, reject) => {
    if (options.waitReady === false) return resolve();
    const last = () => logLines.slice(-10).join('\n');
    const timer = setTimeout(
      () => reject(new Error(`${args[0] ?? script} did not become ready in time; last log lines:\n${last()}`)),
      options.readyTimeoutMs ?? 20_000,
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0] ?? script} exited (${code}) before it was ready; last log lines:\n${last()}`));
    });
    onReady = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    logLines.push(line);
    log?.write(`${line}\n`);
    if (!onReady || !(line.includes('"ready"') || line.includes('"listening"'))) return;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      // An agent that has no config yet logs `listening` (its ports) first and `ready` once it holds config.
      if (rec.msg !== 'ready' && rec.msg !== 'listening') return;
      Object.assign(ready, rec);
      onReady();
      onReady = undefined;
    } catch {
      // not a structured log line
    }
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log?.write(`${line}\n`);
    options.onStdout?.(line);
  });
  const proc: WeftProcess = {
    child,
    pid: child.pid!,
    ready,
    logLines,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
  return readyPromise.then(
    () => proc,
    async (err) => {
      await proc.stop('SIGKILL');
      throw err;
    },
  );
}

/** Starts `weft <args>` and waits until it logs `ready`. */
export function spawnWeft(args: string[], options: SpawnOptions = {}): Promise<WeftProcess> {
  return spawnNode(WEFT_BIN, args, options);
}
