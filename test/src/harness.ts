/**
 * End-to-end test harness: starts the real `weft control-plane` and `weft agent`
 * programs as processes on OS-chosen ports, real HTTP services in the test
 * process, and tears every one of them down after the test.
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { newKeyAndCsr } from '@weft/agent/identity/key-and-csr';
import { spawnWeft, WEFT_BIN, type WeftProcess } from '@weft/cli/demo/weft-process';
import { CONTROL_PLANE_TLS_OPTIONS, controlPlaneIdentityCheck, loadWeftProto, tokenKindToProto } from '@weft/shared';
import type { DiscoveryClient } from '@weft/shared/generated/weft/v1/Discovery';
import type { RegistryClient } from '@weft/shared/generated/weft/v1/Registry';
import type { TrustClient } from '@weft/shared/generated/weft/v1/Trust';

export interface ControlPlaneProc extends WeftProcess {
  grpcPort: number;
  httpPort: number;
  dataDir: string;
}

/** gRPC clients of the control plane acting as one enrolled agent (its certificate, no token). */
export interface AgentClients {
  agentId: string;
  registry: RegistryClient;
  discovery: DiscoveryClient;
  trust: TrustClient;
  certificatePem: string;
  keyPem: string;
  close(): void;
}

export interface AgentProc extends WeftProcess {
  agentId: string;
  adminPort: number;
  outboundPort: number;
  inboundPort: number;
}

export interface TestService {
  port: number;
  server: http.Server;
  /** Requests served so far. */
  hits: number;
  /** Stops accepting and drops every open connection, like a crashed process. */
  kill(): Promise<void>;
}

export class Mesh {
  private controlPlanes = 0;
  private readonly procs: WeftProcess[] = [];
  /** Data dir of the control plane on each gRPC port (for tokens and the CA bundle). */
  private readonly cpDirs = new Map<number, string>();
  /** Control planes started with --insecure: their agents enrol with no token. */
  private readonly insecureCps = new Set<number>();
  private readonly services: TestService[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'weft-e2e-'));

  async controlPlane(
    options: { leaseTtl?: string; restartGrace?: string; grpcPort?: number; dataDir?: string; extra?: string[] } = {},
  ): Promise<ControlPlaneProc> {
    // Each control plane its own data dir unless told otherwise (a data dir is locked by the one using it).
    const dataDir = options.dataDir ?? join(this.dir, this.controlPlanes++ === 0 ? 'control-plane' : `control-plane-${this.controlPlanes}`);
    const p = await spawnWeft([
      'control-plane',
      '--data-dir',
      dataDir,
      '--host',
      '127.0.0.1',
      '--grpc-port',
      String(options.grpcPort ?? 0),
      '--http-port',
      '0',
      '--lease-ttl',
      options.leaseTtl ?? '3s',
      '--restart-grace',
      options.restartGrace ?? '10s',
      ...(options.extra ?? []),
    ]);
    this.procs.push(p);
    const grpcPort = Number(p.ready.grpcPort);
    this.cpDirs.set(grpcPort, dataDir);
    controlPlaneHttp.set(Number(p.ready.httpPort), join(dataDir, 'operator.token'));
    if (options.extra?.includes('--insecure')) this.insecureCps.add(grpcPort);
    // `weft` commands run by tests find the bootstrap token and CA bundle like an operator on the control plane's host.
    process.env.WEFT_CONTROL_PLANE_DATA_DIR = dataDir;
    return Object.assign(p, { grpcPort, httpPort: Number(p.ready.httpPort), dataDir });
  }

  /** Operator credentials for the control plane on `cpGrpcPort`: its CA bundle and bootstrap token. */
  operator(cpGrpcPort: number): { credentials: grpc.ChannelCredentials; metadata: grpc.Metadata; token: string } {
    const dir = this.cpDirs.get(cpGrpcPort);
    if (!dir) throw new Error(`no control plane of this mesh on port ${cpGrpcPort}`);
    const token = readFileSync(join(dir, 'operator.token'), 'utf8').trim();
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return { credentials: this.tlsTo(cpGrpcPort), metadata, token };
  }

  /** TLS to the control plane, trusting its CA bundle, without a client certificate. */
  tlsTo(cpGrpcPort: number, identity?: { keyPem: string; certificatePem: string }): grpc.ChannelCredentials {
    const dir = this.cpDirs.get(cpGrpcPort);
    if (!dir) throw new Error(`no control plane of this mesh on port ${cpGrpcPort}`);
    const bundle = readFileSync(join(dir, 'ca', 'bundle.crt'));
    return grpc.credentials.createSsl(
      bundle,
      identity ? Buffer.from(identity.keyPem) : null,
      identity ? Buffer.from(identity.certificatePem) : null,
      { checkServerIdentity: controlPlaneIdentityCheck() },
    );
  }

  /** A token made through the control plane's API; retried briefly while the port comes up. */
  async createToken(cpGrpcPort: number, req: Parameters<Mesh['createTokenOnce']>[1] = {}): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createTokenOnce(cpGrpcPort, req);
      } catch (err) {
        if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  /** A token made through the control plane's API (CreateToken with the bootstrap operator token). */
  async createTokenOnce(
    cpGrpcPort: number,
    req: { kind?: 'join' | 'operator' | 'read'; ttlMs?: number; uses?: number; agentId?: string } = {},
  ): Promise<string> {
    const op = this.operator(cpGrpcPort);
    const client = new (loadWeftProto().Trust)(`127.0.0.1:${cpGrpcPort}`, op.credentials, CONTROL_PLANE_TLS_OPTIONS);
    try {
      const kind = req.kind ?? 'join';
      const res = await new Promise<{ token: string }>((resolve, reject) =>
        client.CreateToken(
          {
            kind: tokenKindToProto(kind),
            ttl_ms: req.ttlMs ?? 0,
            uses: req.uses ?? 0,
            agent_id: req.agentId ?? '',
          },
          op.metadata,
          (err, r) => (err || !r ? reject(err) : resolve(r)),
        ),
      );
      return res.token;
    } finally {
      client.close();
    }
  }

  /** Enrols `agentId` through the real Enrol call and returns clients that present its certificate. */
  async agentClients(cpGrpcPort: number, agentId: string): Promise<AgentClients> {
    const token = await this.createToken(cpGrpcPort, { agentId });
    const { keyPem, csrPem } = await newKeyAndCsr(agentId);
    const proto = loadWeftProto();
    const anon = new proto.Trust(`127.0.0.1:${cpGrpcPort}`, this.tlsTo(cpGrpcPort), CONTROL_PLANE_TLS_OPTIONS);
    const issued = await new Promise<{ certificate_pem: string }>((resolve, reject) =>
      anon.Enrol({ join_token: token, agent_id: agentId, csr_pem: csrPem }, (err, r) => (err || !r ? reject(err) : resolve(r))),
    );
    anon.close();
    const creds = this.tlsTo(cpGrpcPort, { keyPem, certificatePem: issued.certificate_pem });
    const addr = `127.0.0.1:${cpGrpcPort}`;
    const clients: AgentClients = {
      agentId,
      registry: new proto.Registry(addr, creds, CONTROL_PLANE_TLS_OPTIONS),
      discovery: new proto.Discovery(addr, creds, CONTROL_PLANE_TLS_OPTIONS),
      trust: new proto.Trust(addr, creds, CONTROL_PLANE_TLS_OPTIONS),
      certificatePem: issued.certificate_pem,
      keyPem,
      close: () => {
        clients.registry.close();
        clients.discovery.close();
        clients.trust.close();
      },
    };
    return clients;
  }

  /** `env` is added to the agent's environment (e.g. NODE_EXTRA_CA_CERTS for an external host signed by a test CA). */
  async agent(name: string, cpGrpcPort: number, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<AgentProc> {
    // Each agent enrols with its own join token, made for its id (so a restarted agent with a fresh data dir may enrol again).
    const enrolled = existsSync(join(this.dir, name, 'identity', 'agent.crt'));
    const joinToken =
      !enrolled && this.cpDirs.has(cpGrpcPort) && !this.insecureCps.has(cpGrpcPort)
        ? await this.createToken(cpGrpcPort, { agentId: name })
        : undefined;
    const p = await spawnWeft(
      [
        'agent',
        '--control-plane',
        `127.0.0.1:${cpGrpcPort}`,
        '--agent-id',
        name,
        '--data-dir',
        join(this.dir, name),
        '--advertise-address',
        '127.0.0.1',
        '--admin-port',
        '0',
        '--outbound-port',
        '0',
        '--inbound-port',
        '0',
        ...(joinToken ? ['--join-token', joinToken] : []),
        ...extra,
      ],
      { env },
    );
    this.procs.push(p);
    return Object.assign(p, {
      agentId: name,
      adminPort: Number(p.ready.adminPort),
      outboundPort: Number(p.ready.outboundPort),
      inboundPort: Number(p.ready.inboundPort),
    });
  }

  /** TLS client options presenting agent `name`'s mesh identity (its key, certificate and CA bundle from its data dir). */
  meshTls(name: string): { key: string; cert: string; ca: string } {
    const dir = join(this.dir, name, 'identity');
    // The agent may renew (a new key, then its certificate) between two reads: read again until the pair matches.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let attempt = 0; ; attempt++) {
      const key = readFileSync(join(dir, 'agent.key'), 'utf8');
      const cert = readFileSync(join(dir, 'agent.crt'), 'utf8');
      let matches = false;
      try {
        matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
      } catch {
        // A file caught half-written: read again.
      }
      if (matches || attempt >= 100) return { key, cert, ca: readFileSync(join(dir, 'ca-bundle.crt'), 'utf8') };
      Atomics.wait(pause, 0, 0, 20);
    }
  }

  /** A real HTTP service on 127.0.0.1:0. */
  async service(handler: http.RequestListener): Promise<TestService> {
    const sockets = new Set<Socket>();
    const svc: TestService = {
      port: 0,
      hits: 0,
      server: http.createServer((req, res) => {
        svc.hits++;
        handler(req, res);
      }),
      kill: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          svc.server.close(() => resolve());
        }),
    };
    svc.server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => svc.server.listen(0, '127.0.0.1', r));
    svc.port = (svc.server.address() as AddressInfo).port;
    this.services.push(svc);
    return svc;
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop('SIGTERM', 5000)));
    await Promise.all(this.services.map((s) => (s.server.listening ? s.kill() : undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends a request through an agent's outbound proxy in forward-proxy form (`curl -x`). */
export function viaProxy(
  outboundPort: number,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const target = new URL(url);
  return send({
    port: outboundPort,
    path: url,
    method: options.method,
    headers: { host: target.host, ...options.headers },
    body: options.body,
    timeoutMs: options.timeoutMs,
  });
}

/**
 * The HTTP ports of the control planes tests started, with the file of the
 * bootstrap token their reads send (a control plane's HTTP reads need a token,
 * from this host too). Files, not tokens: a test may revoke or replace one.
 */
const controlPlaneHttp = new Map<number, string>();

/** The authorization header a read of `port` sends: the bootstrap token of the control plane there, if it is one. */
export function controlPlaneReadHeaders(port: number): Record<string, string> {
  const file = controlPlaneHttp.get(port);
  if (file === undefined || !existsSync(file)) return {};
  return { authorization: `Bearer ${readFileSync(file, 'utf8').trim()}` };
}

/** An HTTP request to 127.0.0.1:port; to a control plane of these tests it carries its bootstrap token unless `headers` has one. */
export function send(options: {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  timeoutMs?: number;
}): Promise<HttpAnswer> {
  const headers =
    options.headers?.authorization !== undefined ? options.headers : { ...controlPlaneReadHeaders(options.port), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path,
        method: options.method ?? 'GET',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 20_000, () => req.destroy(new Error(`request to :${options.port}${options.path} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function getJson<T = unknown>(port: number, path: string): Promise<T> {
  const r = await send({ port, path });
  return JSON.parse(r.body.toString()) as T;
}

export async function postJson(port: number, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await send({
    port,
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: JSON.parse(r.body.toString() || '{}') as Record<string, unknown> };
}

/** Registers a local service with an agent's admin API and fails the test when it is refused. */
export async function registerWith(agent: AgentProc, body: Record<string, unknown>): Promise<string> {
  const r = await postJson(agent.adminPort, '/v1/services', body);
  if (r.status !== 201) throw new Error(`registration refused (${r.status}): ${JSON.stringify(r.json)}`);
  return String(r.json.id);
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Services as the control plane's HTTP API lists them: name -> instance ids. */
export async function servicesAtControlPlane(cp: ControlPlaneProc): Promise<Map<string, string[]>> {
  const data = await getJson<{ services: { name: string; instances: { instanceId: string }[] }[] }>(cp.httpPort, '/v1/services');
  return new Map(data.services.map((s) => [s.name, s.instances.map((i) => i.instanceId)]));
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** An echo service: answers with the method, path, headers and a hash of the body it received. */
export function echoHandler(instance: string): http.RequestListener {
  return (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-served-by', instance);
      res.end(JSON.stringify({ instance, method: req.method, url: req.url, headers: req.headers, bytes, sha256: hash.digest('hex') }));
    });
  };
}

/** Runs the weft CLI; resolves with its exit code and output (never rejects). */
export function runWeft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEFT_BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
