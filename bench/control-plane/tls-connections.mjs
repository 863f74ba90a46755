/**
 * What one more client connection costs the control plane, with TLS (the
 * default) and without (--insecure): starts a control plane of each kind,
 * opens `--connections` gRPC connections to it (each its own channel, one
 * read call each so the connection is up), and compares its RSS before and
 * after. A third kind is what an agent's connection is: mTLS with the
 * agent's own certificate (each enrolled first with a join token, before the
 * "before" sample); its one call is ListServices without a token, which the
 * control plane answers PERMISSION_DENIED (agents may not list) after it has
 * read the agent's identity from the certificate, as it does on every
 * agent's first call. Connections only, no discovery stream: the stream's own cost is the
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

const def = protoLoader.loadSync(['weft/v1/registry.proto', 'weft/v1/trust.proto'], {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  includeDirs: [join(REPO, 'proto')],
});
const { Registry, Trust } = grpc.loadPackageDefinition(def).weft.v1;
const { newKeyAndCsr } = await import(join(REPO, 'agent/dist/identity/key-and-csr.js'));
const tmp = mkdtempSync(join(tmpdir(), 'weft-cp-tls-bench-'));
const started = [];
process.on('exit', () => {
  for (const cp of started) cp.killNow();
  rmSync(tmp, { recursive: true, force: true });
});

/** Does not check the server's name: this measures memory, the agents' real check is the SPIFFE ID. */
const anyName = () => undefined;

const call = (client, method, req, md) =>
  new Promise((resolve, reject) =>
    client[method](req, md ?? new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (e, r) => (e ? reject(e) : resolve(r))),
  );

/** Enrols `n` agents (key and CSR each, one join token good for n uses); returns a credential per agent. */
async function enrolAgents(target, bundle, operatorToken, n) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${operatorToken}`);
  const anon = grpc.credentials.createSsl(bundle, null, null, { checkServerIdentity: anyName });
  const admin = new Trust(target, anon);
  const { token } = await call(admin, 'CreateToken', { kind: 'TOKEN_KIND_JOIN', uses: n, ttl_ms: String(3_600_000) }, md);
  const creds = [];
  for (let i = 0; i < n; i++) {
    const { keyPem, csrPem } = await newKeyAndCsr(`bench-${i}`);
    const issued = await call(admin, 'Enrol', { join_token: token, agent_id: `bench-${i}`, csr_pem: csrPem });
    creds.push(
      grpc.credentials.createSsl(bundle, Buffer.from(keyPem), Buffer.from(issued.certificate_pem), { checkServerIdentity: anyName }),
    );
  }
  admin.close();
  return creds;
}

/** kind: 'plain' (--insecure), 'tls' (server certificate, operator token), 'mtls' (each connection an enrolled agent's certificate). */
async function measure(kind) {
  const tls = kind !== 'plain';
  const dataDir = join(tmp, kind);
  const cp = new ControlPlaneProcess({ repo: REPO, dataDir, grpcPort: 0, leaseTtlS: 120, cpuProfDir: null, tls });
  started.push(cp);
  const ready = await cp.start();
  const target = `127.0.0.1:${ready.grpcPort}`;
  const metadata = new grpc.Metadata();
  let credsOf = () => grpc.credentials.createInsecure();
  if (kind === 'tls') {
    metadata.set('authorization', `Bearer ${readFileSync(join(dataDir, 'operator.token'), 'utf8').trim()}`);
    const creds = grpc.credentials.createSsl(readFileSync(join(dataDir, 'ca', 'bundle.crt')), null, null, { checkServerIdentity: anyName });
    credsOf = () => creds;
  } else if (kind === 'mtls') {
    const bundle = readFileSync(join(dataDir, 'ca', 'bundle.crt'));
    const operator = readFileSync(join(dataDir, 'operator.token'), 'utf8').trim();
    const agents = await enrolAgents(target, bundle, operator, connections);
    credsOf = (i) => agents[i];
  }
  await sleep(1000);
  const before = cp.rssKiB();
  const clients = [];
  for (let i = 0; i < connections; i += 100) {
    const batch = [];
    for (let k = i; k < Math.min(connections, i + 100); k++) {
      const c = new Registry(target, credsOf(k), { 'grpc.use_local_subchannel_pool': 1 });
      clients.push(c);
      batch.push(
        new Promise((resolve, reject) =>
          c.ListServices({}, metadata, { deadline: Date.now() + 30_000 }, (err) => {
            // An agent is refused the list, after the control plane read its certificate: the connection is what is measured.
            if (!err || (kind === 'mtls' && err.code === grpc.status.PERMISSION_DENIED)) resolve();
            else reject(err);
          }),
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

const plain = await measure('plain');
const tls = await measure('tls');
const mtls = await measure('mtls');
const date = new Date().toISOString();
console.log(`connections: ${connections} (own channel and HTTP/2 connection each, one ListServices call each)`);
console.log(
  `plaintext (--insecure): RSS ${plain.rssKiB.before} -> ${plain.rssKiB.after} KiB => ${plain.kibPerConnection} KiB per connection`,
);
console.log(`TLS 1.3 (default):      RSS ${tls.rssKiB.before} -> ${tls.rssKiB.after} KiB => ${tls.kibPerConnection} KiB per connection`);
console.log(
  `mTLS (agent certificates): RSS ${mtls.rssKiB.before} -> ${mtls.rssKiB.after} KiB => ${mtls.kibPerConnection} KiB per connection`,
);
console.log(
  `TLS adds ${round(tls.kibPerConnection - plain.kibPerConnection, 1)} KiB per connection, mTLS with an agent's certificate ${round(mtls.kibPerConnection - plain.kibPerConnection, 1)}`,
);
console.log(JSON.stringify({ bench: 'control-plane-connections', date, connections, plain, tls, mtls }));
