// Weft under test, started exactly as an operator would: `weft control-plane`
// and `weft agent` from cli/bin/weft.js, ports learnt from their `ready` log
// lines, the upstream registered through an agent's admin API. The proxy
// paths measured:
//   weft-hop : wrk -> agent A outbound -> upstream (registered on A)
//   weft-mesh: wrk -> agent A outbound -> mTLS (TLS 1.3) -> agent B inbound -> upstream (registered on B)
//   weft-mesh-plain: the same path between two `--insecure` agents of an `--insecure`
//     control plane (plaintext hop, no identities, no access policy): context, not a target
// Agents are enrolled as in the harness and the demo: a join token made with
// `weft token create` on the control plane's host, so the mesh hop is mTLS.

import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { start, waitReady } from './procs.mjs';

/** A tiny HTTP client for setup calls (admin API, readiness probes). */
export function httpCall({ port, method = 'GET', path = '/', headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const h = { ...headers };
    if (data) {
      h['content-type'] ??= 'application/json';
      h['content-length'] = data.length;
    }
    const req = request({ host: '127.0.0.1', port, method, path, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path} on ${port}: no answer in 5 s`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Starts `weft control-plane` on loopback; `insecure`: plaintext gRPC with no
 * authentication (`--insecure`, for the plaintext context row only), in its own dir.
 */
export function startControlPlane(repoRoot, tmp, cpu, { insecure = false } = {}) {
  const dir = join(tmp, insecure ? 'cp-insecure' : 'cp');
  mkdirSync(dir, { recursive: true });
  const proc = start(
    [
      process.execPath,
      join(repoRoot, 'cli/bin/weft.js'),
      'control-plane',
      '--data-dir',
      dir,
      '--grpc-port',
      '0',
      '--http-port',
      '0',
      '--host',
      '127.0.0.1',
      ...(insecure ? ['--insecure'] : []),
    ],
    { cpu, name: insecure ? 'weft control-plane (insecure)' : 'weft control-plane' },
  );
  return waitReady(proc).then((ready) => ({ proc, ready, dir, insecure }));
}

/**
 * A join token for one agent, made the way an operator makes one
 * (`weft token create`, authorised by the control plane's bootstrap token
 * in its data dir): agents enrol with it and the mesh hop uses their
 * certificates.
 */
function joinToken(repoRoot, cp, agentId) {
  const r = spawnSync(
    process.execPath,
    [
      join(repoRoot, 'cli/bin/weft.js'),
      'token',
      'create',
      '--kind',
      'join',
      '--agent-id',
      agentId,
      '--control-plane',
      `127.0.0.1:${cp.ready.grpcPort}`,
      '--control-plane-data-dir',
      cp.dir,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const token = r.stdout.trim().split('\n')[0];
  if (r.status !== 0 || !token.startsWith('weft.join.')) throw new Error(`weft token create failed: ${r.stderr || r.stdout}`);
  return token;
}

/**
 * Starts `weft agent`; nodeFlags go before the script (e.g. --cpu-prof), extraArgs after the
 * agent's own flags. An agent of an insecure control plane runs `--insecure` (no enrolment,
 * plaintext mesh hop); any other enrols with a join token.
 */
export async function startAgent(repoRoot, tmp, { id, cp, cpu, nodeFlags = [], extraArgs = [] }) {
  const dir = join(tmp, `agent-${id}`);
  mkdirSync(dir, { recursive: true });
  const cpGrpcPort = cp.ready.grpcPort;
  const identity = cp.insecure ? ['--insecure'] : ['--join-token', joinToken(repoRoot, cp, id)];
  const proc = start(
    [
      process.execPath,
      ...nodeFlags,
      join(repoRoot, 'cli/bin/weft.js'),
      'agent',
      '--control-plane',
      `127.0.0.1:${cpGrpcPort}`,
      '--agent-id',
      id,
      '--data-dir',
      dir,
      '--advertise-address',
      '127.0.0.1',
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      ...identity,
      ...extraArgs,
    ],
    { cpu, name: `weft agent ${id}` },
  );
  const ready = await waitReady(proc);
  for (const k of ['adminPort', 'outboundPort', 'inboundPort']) {
    if (typeof ready[k] !== 'number') throw new Error(`agent ${id}: ready line has no numeric ${k}: ${JSON.stringify(ready)}`);
  }
  return { proc, ready, dir };
}

/** Registers 127.0.0.1:port as `name` on an agent's admin API (`protocol`: what the instance speaks, default http). */
export async function register(agent, name, port, protocol = 'http') {
  const r = await httpCall({ port: agent.ready.adminPort, method: 'POST', path: '/v1/services', body: { name, port, protocol } });
  if (r.status < 200 || r.status >= 300) throw new Error(`register ${name} on ${agent.proc.name}: HTTP ${r.status} ${r.body}`);
  return JSON.parse(r.body || '{}');
}

/**
 * Waits until `Host: service` through the agent's outbound port answers 200
 * with the upstream's body (registration has gone round the control plane).
 */
export async function waitRoutable(agent, service, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await httpCall({ port: agent.ready.outboundPort, headers: { host: service } });
      if (r.status === 200 && r.body === 'hello world\n!') return;
      last = `HTTP ${r.status} x-weft-error=${r.headers['x-weft-error'] ?? '-'} ${r.body.slice(0, 200)}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${service} not routable through ${agent.proc.name} after ${timeoutMs} ms; last answer: ${last}`);
}
