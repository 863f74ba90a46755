// Streaming check: 1 MiB request bodies (POST) and 1 MiB responses (GET /big)
// through a proxy, a few in parallel, while sampling the proxy's RSS. A proxy
// that streams keeps a flat RSS; one that buffers grows by ~parallel x 1 MiB
// (or more, until GC) per direction.
import { Agent, request } from 'node:http';
import { rssKiB } from './cpu.mjs';

const MIB = 1024 * 1024;

function one(agent, port, host, method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = { host };
    if (body) headers['content-length'] = body.length;
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends `count` requests, `parallel` at a time. Returns RSS (KiB) of `pids`
 * before, at peak and after, the number of bad answers, and MiB/s.
 */
export async function bigBodyTest({ port, host, pids, method, count = 200, parallel = 4 }) {
  const body = method === 'POST' ? Buffer.alloc(MIB, 97) : undefined;
  const path = method === 'POST' ? '/' : '/big';
  const agent = new Agent({ keepAlive: true, maxSockets: parallel });
  const before = rssKiB(pids);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKiB(pids));
  }, 25);
  let next = 0;
  let bad = 0;
  let firstError;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        const r = await one(agent, port, host, method, path, body);
        if (r.status !== 200 || (method === 'GET' && r.bytes !== MIB)) {
          bad++;
          firstError ??= `HTTP ${r.status}, ${r.bytes} bytes`;
        }
      } catch (err) {
        bad++;
        firstError ??= err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  agent.destroy();
  const after = rssKiB(pids);
  peak = Math.max(peak, after);
  return {
    method,
    count,
    parallel,
    bad,
    firstError,
    mibPerSec: Math.round((count / secs) * 10) / 10,
    rssBeforeMiB: mib(before),
    rssPeakMiB: mib(peak),
    rssAfterMiB: mib(after),
  };
}

const mib = (kib) => Math.round((kib / 1024) * 10) / 10;
