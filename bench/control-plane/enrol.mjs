#!/usr/bin/env node
/**
 * Enrolment and renewal load on one control plane (issue #11, "Performance"):
 *
 * 1. N agents enrol at once: each has its own key and CSR (made beforehand,
 *    as each agent makes its own on its host) and its own gRPC channel (its
 *    own TLS connection, as N hosts would), and calls Trust.Enrol with one
 *    join token good for N uses. Reported: the time from the first call to
 *    the last certificate (target: 1,000 agents <= 30 s), latency
 *    percentiles, failures, and the control plane's CPU.
 * 2. The same N agents renew at once (the worst case: a fleet that enrolled
 *    together and whose renewal jitter did not spread it), each over a new
 *    channel presenting its certificate (mTLS), with a new key's CSR.
 *    Steady state is far lower: N / (2/3 of the certificate TTL), e.g. 1,000
 *    agents with 24 h certificates renew at 0.017 per second.
 *
 * The control plane is a real `weft control-plane` process on loopback
 * (OS-chosen port, its own temp data dir, stopped at the end). Needs the
 * build (`npx tsc -b`) for the agent's key/CSR code.
 *
 *   node bench/control-plane/enrol.mjs [--agents 1000] [--record]
 *
 * --record appends the figures to bench/results/control-plane-trust.md.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ControlPlaneProcess } from './lib/cp-process.mjs';
import { REPO } from './lib/proto.mjs';

const USAGE = 'usage: node bench/control-plane/enrol.mjs [--agents 1000] [--record]';
let values;
try {
  ({ values } = parseArgs({
    options: {
      agents: { type: 'string', default: '1000' },
      record: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const N = Number(values.agents);
if (!Number.isInteger(N) || N < 1 || N > 5000) {
  console.error(`--agents: a whole number from 1 to 5000, got ${JSON.stringify(values.agents)}\n${USAGE}`);
  process.exit(2);
}

const { newKeyAndCsr } = await import(join(REPO, 'agent/dist/identity/key-and-csr.js'));
const def = protoLoader.loadSync(['weft/v1/trust.proto'], {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  includeDirs: [join(REPO, 'proto')],
});
const { Trust } = grpc.loadPackageDefinition(def).weft.v1;
const CHANNEL = {
  // The control plane's certificate names spiffe://<td>/control-plane, not a host: the bench trusts the CA bundle only.
  'grpc.ssl_target_name_override': 'control-plane.weft',
  'grpc.use_local_subchannel_pool': 1,
};

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
const ms = (n) => `${n.toFixed(0)} ms`;

const dataDir = mkdtempSync(join(os.tmpdir(), 'weft-bench-enrol-'));
const cp = new ControlPlaneProcess({
  repo: REPO,
  dataDir,
  grpcPort: 0,
  leaseTtlS: 30,
  cpuProfDir: process.env.WEFT_BENCH_CPU_PROF_DIR ?? null,
  tls: true,
});
const lines = [];
const say = (l) => {
  console.log(l);
  lines.push(l);
};
try {
  const { grpcPort } = await cp.start();
  const target = `127.0.0.1:${grpcPort}`;
  const bundle = readFileSync(join(dataDir, 'ca', 'bundle.crt'));
  const operator = readFileSync(join(dataDir, 'operator.token'), 'utf8').trim();
  const noIdentityCheck = { checkServerIdentity: () => undefined };
  const anon = () => grpc.credentials.createSsl(bundle, null, null, noIdentityCheck);

  const admin = new Trust(target, anon(), CHANNEL);
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${operator}`);
  const { token } = await new Promise((resolve, reject) =>
    admin.CreateToken({ kind: 'TOKEN_KIND_JOIN', uses: N, ttl_ms: String(3_600_000) }, md, (e, r) => (e ? reject(e) : resolve(r))),
  );
  admin.close();

  console.log(`making ${2 * N} keys and CSRs (not timed: each agent makes its own on its host)…`);
  const enrolCsrs = [];
  const renewCsrs = [];
  for (let i = 0; i < N; i++) enrolCsrs.push(await newKeyAndCsr(`bench-${i}`));
  for (let i = 0; i < N; i++) renewCsrs.push(await newKeyAndCsr(`bench-${i}`));

  /** Runs N calls at once, each on its own channel; returns timings and what each call answered. */
  const burst = async (name, call) => {
    const cpuBefore = cp.cpuMs();
    const genBefore = process.cpuUsage();
    const started = performance.now();
    const latencies = [];
    const failures = new Map();
    const answers = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const t0 = performance.now();
        try {
          const r = await call(i);
          latencies.push(performance.now() - t0);
          return r;
        } catch (err) {
          const key = `${grpc.status[err.code] ?? err.code}: ${String(err.details ?? err.message).slice(0, 80)}`;
          failures.set(key, (failures.get(key) ?? 0) + 1);
          return undefined;
        }
      }),
    );
    const wallMs = performance.now() - started;
    const cpuMs = cp.cpuMs() - cpuBefore;
    const gen = process.cpuUsage(genBefore);
    const genMs = (gen.user + gen.system) / 1000;
    latencies.sort((a, b) => a - b);
    const ok = latencies.length;
    say(
      `- ${name}: ${ok}/${N} in ${ms(wallMs)} => ${((ok * 1000) / wallMs).toFixed(0)}/s; per call p50 ${ms(pct(latencies, 0.5))}, ` +
        `p99 ${ms(pct(latencies, 0.99))}, max ${ms(latencies.at(-1) ?? 0)}; control plane CPU ${ms(cpuMs)} ` +
        `(${((100 * cpuMs) / wallMs).toFixed(0)}% of one core, ${(cpuMs / Math.max(ok, 1)).toFixed(2)} ms per certificate); ` +
        `load generator CPU ${ms(genMs)} (${((100 * genMs) / wallMs).toFixed(0)}%); host load average ${os.loadavg()[0].toFixed(1)}` +
        (failures.size ? `; failures: ${JSON.stringify(Object.fromEntries(failures))}` : ''),
    );
    return { answers, wallMs, ok };
  };

  const unaryOn = (client, method, req) =>
    new Promise((resolve, reject) =>
      client[method](req, { deadline: Date.now() + 60_000 }, (e, r) => {
        client.close();
        if (e) reject(e);
        else resolve(r);
      }),
    );

  say(`Command: \`node bench/control-plane/enrol.mjs --agents ${N}\``);
  say('');
  say(`Host: ${os.cpus().length} CPUs, Node ${process.version}; control plane and load generator on the same host (loopback)`);
  say('');
  const enrol = await burst(`enrol (${N} agents at once, one TLS connection each)`, (i) =>
    unaryOn(new Trust(target, anon(), CHANNEL), 'Enrol', { join_token: token, agent_id: `bench-${i}`, csr_pem: enrolCsrs[i].csrPem }),
  );
  const issued = enrol.answers;
  const renew = await burst(`renew (all ${N} at once, mTLS with each agent's certificate)`, (i) => {
    if (!issued[i]) return Promise.reject(Object.assign(new Error('not enrolled'), { code: 'SKIPPED' }));
    const creds = grpc.credentials.createSsl(
      bundle,
      Buffer.from(enrolCsrs[i].keyPem),
      Buffer.from(issued[i].certificate_pem),
      noIdentityCheck,
    );
    return unaryOn(new Trust(target, creds, CHANNEL), 'RenewCertificate', { csr_pem: renewCsrs[i].csrPem });
  });
  const verdict = enrol.ok === N && enrol.wallMs <= 30_000 ? 'PASS' : 'MISS';
  say(`- verdict: ${verdict} (target: all ${N} agents hold certificates within 30 s)`);
  say(`- steady renewal at 24 h certificates: ${(N / (16 * 3600)).toFixed(3)} renewals/s; the burst above took ${ms(renew.wallMs)}`);
  say(`- control plane RSS after both: ${(cp.rssKiB() / 1024).toFixed(0)} MiB`);
  if (values.record) {
    appendFileSync(join(REPO, 'bench/results/control-plane-trust.md'), `\n## ${new Date().toISOString()}\n\n${lines.join('\n')}\n`);
    console.log('recorded in bench/results/control-plane-trust.md');
  }
} finally {
  await cp.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
