/**
 * The demo's services, run as their own processes by `weft demo`:
 * - `callee --name orders --instance orders-1 --agent HOST:PORT`: an HTTP
 *   service that answers with its instance id and registers itself in one line.
 * - `caller --target orders --proxy HOST:PORT --agent HOST:PORT`: registers as
 *   "web" and calls the target through its agent's outbound proxy, printing one
 *   JSON line of statistics per second on stdout.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { register } from '@weft/client';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string', default: 'orders' },
    instance: { type: 'string', default: 'orders-1' },
    agent: { type: 'string', default: '127.0.0.1:15000' },
    target: { type: 'string', default: 'orders' },
    proxy: { type: 'string', default: '127.0.0.1:15001' },
    interval: { type: 'string', default: '50' },
  },
});

function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function callee(): Promise<void> {
  const instance = values.instance!;
  const port = await listen((req, res) => {
    if (req.url === '/healthz') {
      res.end('ok');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ service: values.name, instance, path: req.url, requestId: req.headers['x-request-id'] }));
  });
  await register({ name: values.name!, port, id: instance, health: { http: '/healthz', interval: '1s' }, agent: values.agent });
  // The demo waits for this line (like the agent's) before it starts the caller.
  process.stderr.write(`${JSON.stringify({ msg: 'ready', instance, port })}\n`);
}

interface Stats {
  ok: number;
  failed: number;
  byInstance: Record<string, number>;
  errors: Record<string, number>;
  latenciesMs: number[];
}

/** Where the calls go: the agent's outbound proxy, with the app's proxy credential when it has one. */
interface Proxy {
  host: string;
  port: number;
  /** `Basic base64(web:<secret>)`: what an HTTP_PROXY=http://web:<secret>@host:port client sends. */
  authorization: string | undefined;
}

function proxyOf(proxyUrl: string | undefined, fallback: string): Proxy {
  if (proxyUrl === undefined) {
    const [host, port] = fallback.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port), authorization: undefined };
  }
  const u = new URL(proxyUrl);
  const credential = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  return { host: u.hostname, port: Number(u.port), authorization: `Basic ${Buffer.from(credential).toString('base64')}` };
}

function call(proxy: Proxy, target: string): Promise<{ instance?: string; error?: string; ms: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    // Absolute-form request target with Proxy-Authorization: exactly what an HTTP_PROXY-aware client sends.
    const headers: Record<string, string> = { host: target };
    if (proxy.authorization !== undefined) headers['proxy-authorization'] = proxy.authorization;
    const req = http.request({ host: proxy.host, port: proxy.port, path: `http://${target}/hello`, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - start;
        if (res.statusCode === 200) {
          try {
            resolve({ instance: JSON.parse(Buffer.concat(chunks).toString()).instance, ms });
          } catch {
            resolve({ error: 'bad_body', ms });
          }
        } else resolve({ error: String(res.headers['x-weft-error'] ?? res.statusCode), ms });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message, ms: performance.now() - start }));
    req.end();
  });
}

async function caller(): Promise<void> {
  const port = await listen((_req, res) => res.end('web'));
  // The registration returns web's proxy credential: calls made with it carry web's identity (its certificate on the mTLS hop).
  const registration = await register({ name: 'web', port, agent: values.agent });
  const proxy = proxyOf(registration.proxyUrl, values.proxy!);
  const fresh = (): Stats => ({ ok: 0, failed: 0, byInstance: {}, errors: {}, latenciesMs: [] });
  let stats = fresh();
  setInterval(() => {
    const sorted = stats.latenciesMs.sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
    const { latenciesMs: _l, ...rest } = stats;
    process.stdout.write(`${JSON.stringify({ ...rest, p50: pct(0.5), p99: pct(0.99) })}\n`);
    stats = fresh();
  }, 1000);
  for (;;) {
    const r = await call(proxy, values.target!);
    stats.latenciesMs.push(r.ms);
    if (r.instance) {
      stats.ok++;
      stats.byInstance[r.instance] = (stats.byInstance[r.instance] ?? 0) + 1;
    } else {
      stats.failed++;
      stats.errors[r.error!] = (stats.errors[r.error!] ?? 0) + 1;
    }
    await new Promise((r) => setTimeout(r, Number(values.interval)));
  }
}

const role = positionals[0];
if (role === 'callee') await callee();
else if (role === 'caller') await caller();
else {
  console.error('usage: demo-service callee|caller [options]');
  process.exit(2);
}
