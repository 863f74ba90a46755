// Fallback load generator when wrk is missing: `connections` keep-alive
// node:http clients, each sending GETs back to back for `seconds`; prints one
// JSON line { requests, seconds, rps, p50Us, p99Us, non2xx, errors }.
// Usage: node loadgen.mjs <url> <connections> <seconds> [host header]
import { Agent, request } from 'node:http';

const [url, conns, secs, host] = process.argv.slice(2);
const connections = Number(conns);
const seconds = Number(secs);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const headers = host ? { host } : {};
const lat = [];
let non2xx = 0;
let errors = 0;
const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(seconds * 1e9));

function one() {
  return new Promise((resolve) => {
    const s = process.hrtime.bigint();
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode < 200 || res.statusCode >= 400) non2xx++;
        lat.push(Number(process.hrtime.bigint() - s) / 1000);
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      setTimeout(resolve, 10);
    });
    req.end();
  });
}

async function loop() {
  while (process.hrtime.bigint() < end) await one();
}

await Promise.all(Array.from({ length: connections }, loop));
const took = Number(process.hrtime.bigint() - t0) / 1e9;
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : null);
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ requests: lat.length, seconds: took, rps: lat.length / took, p50Us: pct(50), p99Us: pct(99), non2xx, errors })}\n`,
);
