// Load generation: wrk when installed (pinned to CPU 1, beside the upstream),
// else the small built-in generator in loadgen.mjs (keep-alive node:http
// clients, also on CPU 1; slower than wrk, so its figures are not comparable
// with wrk's). Both give { requests, seconds, rps, p50Us, p99Us, non2xx, errors, tool }.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd, which } from './procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const LOAD_CPU = 1;

export function loadTool() {
  return which('wrk') ? 'wrk' : 'builtin';
}

const UNIT_US = { us: 1, ms: 1000, s: 1_000_000 };

/** Microseconds from a wrk duration like `122.00us`, `1.94ms`, `2.01s`. */
export function wrkDurationUs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return null;
  if (m[2] === 'm') return Number(m[1]) * 60_000_000;
  return Math.round(Number(m[1]) * UNIT_US[m[2]] * 10) / 10;
}

/** Parses `wrk --latency` output. */
export function parseWrk(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m ? m[1] : null;
  };
  const requests = Number(num(/(\d+) requests in ([\d.]+\w+)/));
  const seconds = wrkDurationUs(num(/\d+ requests in ([\d.]+\w+)/) ?? '0s') / 1e6;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests,
    seconds,
    rps: Number(num(/Requests\/sec:\s+([\d.]+)/)),
    p50Us: wrkDurationUs(num(/^\s+50%\s+(\S+)/m) ?? ''),
    p99Us: wrkDurationUs(num(/^\s+99%\s+(\S+)/m) ?? ''),
    non2xx: Number(num(/Non-2xx or 3xx responses: (\d+)/) ?? 0),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    tool: 'wrk',
  };
}

/** One load run: `connections` keep-alive connections for `seconds` against 127.0.0.1:port. */
export async function runLoad({ port, connections, seconds, host }) {
  const url = `http://127.0.0.1:${port}/`;
  if (loadTool() === 'wrk') {
    const argv = ['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
    if (host) argv.push('-H', `Host: ${host}`);
    argv.push(url);
    const r = await runToEnd(argv, { cpu: LOAD_CPU });
    if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr || r.stdout}`);
    const parsed = parseWrk(r.stdout);
    if (!parsed.requests) throw new Error(`could not parse wrk output:\n${r.stdout}`);
    return parsed;
  }
  const r = await runToEnd([process.execPath, join(here, 'loadgen.mjs'), url, String(connections), String(seconds), host ?? ''], {
    cpu: LOAD_CPU,
  });
  if (r.code !== 0) throw new Error(`built-in load generator failed (${r.code}): ${r.stderr}`);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()), tool: 'builtin' };
}
