// A plain reverse proxy for reference (same as the peers' undici_proxy.js):
// node:http server + one undici Pool, streaming bodies.
// Usage: node undici-proxy.mjs <port> <upstreamPort> <path of undici's entry>
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const [port, upstreamPort, undiciPath] = process.argv.slice(2);
const { Pool } = await import(pathToFileURL(undiciPath).href);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

createServer((req, res) => {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  pool.stream(
    { path: req.url, method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    ({ statusCode, headers: h }) => {
      const out = {};
      for (const [k, v] of Object.entries(h)) if (!HOP.has(k)) out[k] = v;
      res.writeHead(statusCode, out);
      return res;
    },
    (err) => {
      if (err) {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      }
    },
  );
}).listen(Number(port), '127.0.0.1');

// Exit cleanly on SIGTERM so `node --cpu-prof` writes its profile (the bench profiles this proxy too).
process.on('SIGTERM', () => process.exit(0));
