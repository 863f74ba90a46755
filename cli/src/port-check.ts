/**
 * Checks every listening port a program is about to open, before it opens
 * any, and reports all the ports in use at once: which flag, which address,
 * and which process holds it. Without this the control plane failed on its
 * first busy port with grpc-js's raw text ("No address added out of total 1
 * resolved") and the agent with a bare EADDRINUSE, one port per run.
 *
 * The check binds and closes each port, so a port taken between the check
 * and the real bind still fails there (with the program's own message).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { CliError } from './cli-error.js';

export interface PlannedPort {
  /** The flag that sets it, e.g. `--grpc-port`. */
  flag: string;
  host: string;
  port: number;
}

/** Throws a CliError (exit code 1) naming every planned port that cannot be bound; port 0 is never busy. */
export async function checkPortsFree(ports: readonly PlannedPort[]): Promise<void> {
  const problems: string[] = [];
  for (const p of ports) {
    if (p.port === 0) continue;
    const err = await tryBind(p.host, p.port);
    if (err === undefined) continue;
    const where = `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`;
    if (err.code === 'EADDRINUSE') problems.push(`${p.flag} ${p.port}: ${where} is in use by ${holderOf(p.port)}`);
    else if (err.code === 'EACCES') problems.push(`${p.flag} ${p.port}: ${where}: permission denied (ports below 1024 need privileges)`);
    else if (err.code === 'EADDRNOTAVAIL') problems.push(`${p.flag} ${p.port}: ${p.host} is not an address of this host`);
    else problems.push(`${p.flag} ${p.port}: ${where}: ${err.message}`);
  }
  if (problems.length === 0) return;
  const head = problems.length === 1 ? 'cannot listen on 1 port' : `cannot listen on ${problems.length} ports`;
  throw new CliError(`${head}; choose others with the flags named:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

function tryBind(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Which process listens on a TCP port, from /proc (Linux): the socket's
 * inode in /proc/net/tcp{,6}, then the process holding that inode. Other
 * users' processes are not readable without privileges: then it says so.
 */
export function holderOf(port: number): string {
  const inodes = listeningInodes(port);
  if (inodes === undefined) return `another process (see: ss -ltnp 'sport = :${port}')`;
  if (inodes.size === 0) return 'another socket';
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 'another process';
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1])) return `pid ${pid} (${commandOf(pid)})`;
    }
  }
  return `a process of another user (see: sudo ss -ltnp 'sport = :${port}')`;
}

/** Inodes of the sockets listening on `port`; undefined where /proc/net is not readable (not Linux). */
function listeningInodes(port: number): Set<string> | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const out = new Set<string>();
  let read = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
      read = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === '0A') out.add(f[9]);
    }
  }
  return read ? out : undefined;
}

function commandOf(pid: string): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd.length > 120 ? `${cmd.slice(0, 117)}...` : cmd || 'unknown command';
  } catch {
    return 'unknown command';
  }
}
