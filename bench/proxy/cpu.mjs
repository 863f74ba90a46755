// CPU and memory of a process tree from /proc, as the peers' run.sh reads it:
// utime+stime (fields 14 and 15 of /proc/<pid>/stat) of the process and its
// live children (nginx's worker, haproxy's), in clock ticks; RSS from VmRSS.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let hz;
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux almost always). */
export function clockTicks() {
  if (hz === undefined) {
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      hz = 100;
    }
  }
  return hz;
}

/** The PIDs of `pid`'s direct children (all threads' children lists). */
export function childPids(pid) {
  const out = new Set();
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.add(Number(c));
    } catch {}
  }
  return [...out];
}

/** [utime, stime] of one process in clock ticks (0, 0 once it is gone). */
function ownTicksSplit(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces: split after its closing parenthesis.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(f[11]), Number(f[12])]; // fields 14, 15 counted from 1, minus pid and comm
  } catch {
    return [0, 0];
  }
}

/**
 * utime and stime ticks of each pid and its direct children, summed: { user, kernel }.
 * Kernel time includes, on loopback, the receiving side's TCP processing run in the
 * sender's write (softirq) and the wake-up of the reader.
 */
export function ticksSplit(pids) {
  let user = 0;
  let kernel = 0;
  for (const pid of pids) {
    for (const p of [pid, ...childPids(pid)]) {
      const [u, k] = ownTicksSplit(p);
      user += u;
      kernel += k;
    }
  }
  return { user, kernel };
}

/** utime+stime ticks of each pid and its direct children, summed. */
export function ticks(pids) {
  const t = ticksSplit(pids);
  return t.user + t.kernel;
}

function ownRssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident memory (KiB) of each pid and its direct children, summed. */
export function rssKiB(pids) {
  let kb = 0;
  for (const pid of pids) {
    kb += ownRssKiB(pid);
    for (const c of childPids(pid)) kb += ownRssKiB(c);
  }
  return kb;
}

/** Busy and total ticks per CPU from /proc/stat: [{ busy, total }] indexed by CPU number. */
export function cpuTimes() {
  const out = [];
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const f = m[2].split(/\s+/).map(Number);
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
      out[Number(m[1])] = { busy: total - f[3] - f[4], total };
    }
  } catch {}
  return out;
}

function ownIo(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { r: Number(/syscr:\s+(\d+)/.exec(t)?.[1] ?? 0), w: Number(/syscw:\s+(\d+)/.exec(t)?.[1] ?? 0) };
  } catch {
    return { r: 0, w: 0 };
  }
}

/** The counters `own(pid)` returns, summed over each pid and its direct children. */
function sumOver(pids, own, zero) {
  const sum = { ...zero };
  for (const pid of pids) {
    for (const p of [pid, ...childPids(pid)]) {
      const c = own(p);
      for (const k of Object.keys(sum)) sum[k] += c[k];
    }
  }
  return sum;
}

/** Read-type and write-type syscall counts (/proc/<pid>/io syscr, syscw) of each pid and its direct children, summed. */
export function ioSyscalls(pids) {
  return sumOver(pids, ownIo, { r: 0, w: 0 });
}

function ownFaults(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { minor: Number(f[7]), major: Number(f[9]) }; // fields 10 and 12 counted from 1, minus pid and comm
  } catch {
    return { minor: 0, major: 0 };
  }
}

/** Page faults (minor, major) of each pid and its direct children, summed. */
export function faults(pids) {
  return sumOver(pids, ownFaults, { minor: 0, major: 0 });
}

/**
 * A note when the kernel runs DAMON with a pageout scheme (proactive reclaim, as on this
 * Firecracker VM). Observed here: the Node proxies' CPU per request doubles in phases
 * while nginx's does not, and the page-fault counts stay low then, so refaults are not
 * the whole story (access-bit scanning and TLB effects on a larger footprint may be).
 * Unproven; the note says only what is measured.
 */
export function damonNote() {
  const base = '/sys/kernel/mm/damon/admin/kdamonds';
  try {
    const n = Number(readFileSync(`${base}/nr_kdamonds`, 'utf8'));
    for (let i = 0; i < n; i++) {
      if (readFileSync(`${base}/${i}/state`, 'utf8').trim() !== 'on') continue;
      const schemes = `${base}/${i}/contexts/0/schemes`;
      const count = Number(readFileSync(`${schemes}/nr_schemes`, 'utf8'));
      for (let j = 0; j < count; j++) {
        const action = readFileSync(`${schemes}/${j}/action`, 'utf8').trim();
        if (action === 'pageout') {
          return 'the kernel runs DAMON with a pageout scheme (proactive reclaim, scanning page access bits); on this machine the Node proxies (plain undici and Weft alike) slow down by up to 2x in phases while nginx and HAProxy do not, with few page faults (faultsPerKReq), so compare ratios within a rep';
        }
      }
    }
  } catch {
    // no DAMON sysfs: nothing to say
  }
  return undefined;
}
