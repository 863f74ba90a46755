/**
 * What one more client connection costs the control plane, with TLS (the
 * default) and without (--insecure): starts a control plane of each kind,
 * opens `--connections` gRPC connections to it (each its own channel, one
 * read call each so the connection is up), and compares its RSS before and
 * after. Connections only, no discovery stream: the stream's own cost is the
 * main benchmark's (run.mjs). Prints KiB per connection and, as the last
 * line, one JSON object.
 *
 *   node bench/control-plane/tls-connections.mjs [--connections 1000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { ControlPlaneProcess } from './lib/cp-process.mjs';
import { grpc, REPO } from './lib/proto.mjs';
import { round, sleep } from './lib/stats.mjs';

const argv = process.argv.slice(2);
const at = argv.indexOf('--connections');
const connections = at >= 0 ? Number(argv[at + 1]) : 1000;
if (!Number.isInteger(connections) || connections < 1 || connections > 20_000) {
  console.error('--connections: must be a whole number 1..20000');
  process.exit(2);
}

const def = protoLoader.loadSync(['weft/v1/registry.proto'], { keepCase: true, defaults: true, includeDirs: [join(REPO, 'proto')] });
const { Registry } = grpc.loadPackageDefinition(def).weft.v1;
const tmp = mkdtempSync(join(tmpdir(), 'weft-cp-tls-bench-'));
const started = [];
process.on('exit', () => {
  for (const cp of started) cp.killNow();
  rmSync(tmp, { recursive: true, force: true });
});

/** Does not check the server's name: this measures memory, the agents' real check is the SPIFFE ID. */
const anyName = () => undefined;

async function measure(tls) {
  const dataDir = join(tmp, tls ? 'tls' : 'plain');
  const cp = new ControlPlaneProcess({ repo: REPO, dataDir, grpcPort: 0, leaseTtlS: 120, cpuProfDir: null, tls });
  started.push(cp);
  const ready = await cp.start();
  const target = `127.0.0.1:${ready.grpcPort}`;
  const metadata = new grpc.Metadata();
  let creds = grpc.credentials.createInsecure();
  if (tls) {
    metadata.set('authorization', `Bearer ${readFileSync(join(dataDir, 'bootstrap-token'), 'utf8').trim()}`);
    creds = grpc.credentials.createSsl(readFileSync(join(dataDir, 'ca', 'bundle.crt')), null, null, { checkServerIdentity: anyName });
  }
  await sleep(1000);
  const before = cp.rssKiB();
  const clients = [];
  for (let i = 0; i < connections; i += 100) {
    const batch = [];
    for (let k = i; k < Math.min(connections, i + 100); k++) {
      const c = new Registry(target, creds, { 'grpc.use_local_subchannel_pool': 1 });
      clients.push(c);
      batch.push(
        new Promise((resolve, reject) =>
          c.ListServices({}, metadata, { deadline: Date.now() + 30_000 }, (err) => (err ? reject(err) : resolve())),
        ),
      );
    }
    await Promise.all(batch);
  }
  await sleep(2000);
  const after = cp.rssKiB();
  for (const c of clients) c.close();
  await cp.stop(5000);
  return { rssKiB: { before, after }, kibPerConnection: round((after - before) / connections, 1) };
}

const plain = await measure(false);
const tls = await measure(true);
const date = new Date().toISOString();
console.log(`connections: ${connections} (own channel and HTTP/2 connection each, one ListServices call each)`);
console.log(
  `plaintext (--insecure): RSS ${plain.rssKiB.before} -> ${plain.rssKiB.after} KiB => ${plain.kibPerConnection} KiB per connection`,
);
console.log(`TLS 1.3 (default):      RSS ${tls.rssKiB.before} -> ${tls.rssKiB.after} KiB => ${tls.kibPerConnection} KiB per connection`);
console.log(`TLS adds ${round(tls.kibPerConnection - plain.kibPerConnection, 1)} KiB per connection`);
console.log(JSON.stringify({ bench: 'control-plane-connections', date, connections, plain, tls }));
