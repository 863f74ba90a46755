/**
 * What a bare Node server (no Weft code) spends per client connection, for
 * each layer the control plane's gRPC connections stack up: TCP, TLS 1.3,
 * HTTP/2 in cleartext, HTTP/2 over TLS. It is the floor under the control
 * plane's "memory per connected agent" figure (tls-connections.mjs measures
 * the control plane itself the same way): whatever Weft keeps per agent comes
 * on top of it.
 *
 * Each kind runs in its own child process (started with --expose-gc, so the
 * figures are taken after two full collections); the clients run here. Prints
 * RSS and V8 heap per connection for each kind and, as the last line, one JSON
 * object.
 *
 *   node bench/control-plane/connection-floor.mjs [--connections 500]
 */
import { fork } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

const KINDS = ['tcp', 'tls', 'h2c', 'h2-tls'];

if (process.argv[2] === '--serve') serve(process.argv[3]);
else await main();

/** Child: one server of `kind` on port 0; answers 'mem' with its memory after full collections. */
function serve(kind) {
  process.once('message', ({ key, cert }) => {
    let server;
    if (kind === 'tcp') server = net.createServer((s) => s.resume());
    else if (kind === 'tls') server = tls.createServer({ key, cert, minVersion: 'TLSv1.3' }, (s) => s.resume());
    else {
      server = kind === 'h2c' ? http2.createServer() : http2.createSecureServer({ key, cert, minVersion: 'TLSv1.3' });
      server.on('stream', (stream) => {
        stream.respond({ ':status': 200 });
        stream.end('ok');
      });
    }
    server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
    process.on('message', (m) => {
      if (m !== 'mem') return;
      global.gc();
      global.gc();
      process.send({ mem: process.memoryUsage() });
    });
  });
}

async function selfSigned() {
  x509.cryptoProvider.set(webcrypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const c = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=connection-floor',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    keys,
    signingAlgorithm: alg,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g).join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { key, cert: c.toString('pem') };
}

/** Opens one connection of `kind` and waits until it carried one exchange. */
function connect(kind, port) {
  return new Promise((resolve, reject) => {
    if (kind === 'tcp' || kind === 'tls') {
      const ready = () => {
        s.write('hi');
        resolve(s);
      };
      const s =
        kind === 'tcp'
          ? net.connect({ port, host: '127.0.0.1' }, ready)
          : tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, ready);
      s.on('error', reject);
      return;
    }
    const session = http2.connect(`${kind === 'h2c' ? 'http' : 'https'}://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on('error', reject);
    const req = session.request({ ':path': '/' });
    req.on('error', reject);
    req.resume();
    req.on('end', () => resolve(session));
    req.end();
  });
}

async function measure(kind, connections, credentials) {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', kind], { execArgv: ['--expose-gc'] });
  const next = () => new Promise((r) => child.once('message', r));
  try {
    const ready = next();
    child.send(credentials);
    const { port } = await ready;
    const mem = async () => {
      const m = next();
      child.send('mem');
      return (await m).mem;
    };
    const before = await mem();
    const open = [];
    for (let i = 0; i < connections; i++) open.push(await connect(kind, port));
    await new Promise((r) => setTimeout(r, 500));
    const after = await mem();
    for (const c of open) c.destroy();
    const per = (f) => Math.round(((after[f] - before[f]) / 1024 / connections) * 10) / 10;
    return { rssKiB: per('rss'), heapUsedKiB: per('heapUsed'), externalKiB: per('external') };
  } finally {
    child.kill();
  }
}

async function main() {
  const at = process.argv.indexOf('--connections');
  const connections = at >= 0 ? Number(process.argv[at + 1]) : 500;
  if (!Number.isInteger(connections) || connections < 1 || connections > 5000) {
    console.error('--connections: must be a whole number 1..5000');
    process.exit(2);
  }
  const credentials = await selfSigned();
  const out = {};
  for (const kind of KINDS) {
    out[kind] = await measure(kind, connections, credentials);
    console.log(`${kind.padEnd(7)} per connection: RSS ${out[kind].rssKiB} KiB, V8 heap ${out[kind].heapUsedKiB} KiB`);
  }
  console.log(
    JSON.stringify({ bench: 'connection-floor', date: new Date().toISOString(), node: process.version, connections, perConnection: out }),
  );
}
