/**
 * Helpers for this package's tests: a control plane in a temp dir on port 0,
 * and gRPC clients built from loadWeftProto() the way agents build them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { DefaultAccess, InstanceSpec, Logger } from '@weft/shared';
import { loadWeftProto, silentLogger } from '@weft/shared';
import type { DiscoveryClient } from '@weft/shared/generated/weft/v1/Discovery';
import type { DiscoveryRequest } from '@weft/shared/generated/weft/v1/DiscoveryRequest';
import type { DiscoveryResponse, DiscoveryResponse__Output } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { Instance } from '@weft/shared/generated/weft/v1/Instance';
import type { RegistryClient } from '@weft/shared/generated/weft/v1/Registry';
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from './control-plane.js';

export function tempDir(prefix = 'weft-cp-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A non-loopback IPv4 address of this host (to call a control plane as another host would), if it has one. */
export function nonLoopbackAddress(): string | undefined {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

/** A control plane with trust on (its CA, bootstrap token, TLS gRPC), listening on every interface, in `dataDir`. */
export function startOnAllInterfaces(dataDir: string, extra: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
  return startControlPlane({
    dataDir,
    host: '0.0.0.0',
    grpcPort: 0,
    httpPort: 0,
    leaseTtlMs: 60_000,
    restartGraceMs: 60_000,
    logger: silentLogger,
    ...extra,
  });
}

export interface Harness {
  cp: ControlPlane;
  dataDir: string;
  registry: RegistryClient;
  discovery: DiscoveryClient;
  call<Res>(method: keyof RegistryClient & string, req: object): Promise<Res>;
  /** Closes clients and the control plane; removes the data dir unless `keepDir`. */
  close(keepDir?: boolean): Promise<void>;
}

export async function startHarness(
  opts: {
    dataDir?: string;
    /** A postgres:// URL (see pg-test-support.ts); default the SQLite file in the data dir. */
    store?: string;
    leaseTtlMs?: number;
    restartGraceMs?: number;
    logger?: Logger;
    defaultAccess?: DefaultAccess;
  } = {},
): Promise<Harness> {
  const dir = opts.dataDir ? { path: opts.dataDir, remove: () => {} } : tempDir();
  const cp = await startControlPlane({
    dataDir: dir.path,
    store: opts.store,
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    leaseTtlMs: opts.leaseTtlMs ?? 60_000,
    restartGraceMs: opts.restartGraceMs ?? 60_000,
    logger: opts.logger ?? silentLogger,
    defaultAccess: opts.defaultAccess,
    // These tests exercise the registry and the stream protocol; trust has its own tests (trust.test.ts, test/).
    insecure: true,
  });
  const proto = loadWeftProto();
  const addr = `127.0.0.1:${cp.grpcPort}`;
  const registry = new proto.Registry(addr, grpc.credentials.createInsecure());
  const discovery = new proto.Discovery(addr, grpc.credentials.createInsecure());
  return {
    cp,
    dataDir: dir.path,
    registry,
    discovery,
    call: <Res>(method: string, req: object) =>
      new Promise<Res>((resolve, reject) => {
        const fn = (registry as unknown as Record<string, (r: object, cb: (e: grpc.ServiceError | null, v: Res) => void) => void>)[method];
        fn.call(registry, req, (err, res) => (err ? reject(err) : resolve(res)));
      }),
    close: async (keepDir = false) => {
      registry.close();
      discovery.close();
      await cp.close();
      if (!keepDir) dir.remove();
    },
  };
}

export function agentInfo(agentId: string, inboundPort = 15006, address = '10.0.0.1') {
  return { agent_id: agentId, hostname: `${agentId}.local`, address, inbound_port: inboundPort, zone: 'z1', version: 'test' };
}

export function instance(service: string, instanceId: string, extra: Partial<Instance> = {}): Instance {
  return { service, instance_id: instanceId, address: '127.0.0.1', port: 8080, ...extra };
}

/** An instance as the registry takes it (domain form): health unknown, http, on 127.0.0.1:8080 unless `extra` says otherwise. */
export function instanceSpec(service: string, instanceId: string, extra: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    service,
    instanceId,
    address: '127.0.0.1',
    port: 8080,
    zone: '',
    weight: 1,
    tags: [],
    metadata: {},
    health: 'unknown',
    protocol: 'http',
    ...extra,
  };
}

/** One client discovery stream with a queue of received responses. */
export class TestStream {
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;
  private readonly queue: DiscoveryResponse__Output[] = [];
  private waiter: ((r: DiscoveryResponse__Output) => void) | undefined;
  private statusWaiter: ((s: grpc.StatusObject) => void) | undefined;
  status: grpc.StatusObject | undefined;

  constructor(client: DiscoveryClient) {
    this.call = client.Stream();
    this.call.on('data', (r: DiscoveryResponse__Output) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w(r);
      else this.queue.push(r);
    });
    this.call.on('status', (s: grpc.StatusObject) => {
      this.status = s;
      this.statusWaiter?.(s);
    });
    this.call.on('error', () => {});
  }

  send(req: DiscoveryRequest): this {
    this.call.write(req);
    return this;
  }

  ack(nonce: string, errors: DiscoveryRequest['errors'] = []): this {
    return this.send({ response_nonce: nonce, errors });
  }

  /** The next response; fails after `timeoutMs`. */
  next(timeoutMs = 3000): Promise<DiscoveryResponse__Output> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no discovery response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  /** Responses received but not yet taken. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves with the call's final status. */
  ended(timeoutMs = 3000): Promise<grpc.StatusObject> {
    if (this.status) return Promise.resolve(this.status);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('stream did not end')), timeoutMs);
      this.statusWaiter = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
    });
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

/**
 * A fake discovery transport for DiscoveryStream tests that checks the stream
 * rules (proto/weft/v1/discovery.proto) on EVERY send, go-control-plane style:
 * - nonces increase within a stream;
 * - at most one response is unanswered;
 * - every name in a response is one the stream subscribes to;
 * - a version this agent rejected is never sent again (across its streams);
 * - a version the agent holds is never sent again (no resend of unchanged).
 * A violation is recorded in `violations` (and thrown from send), so a test
 * fails even when the stream swallows the error.
 */
export class CheckedAgent {
  /** name -> version the agent holds (ACKed), kept across streams like a real agent. */
  readonly held = new Map<string, string>();
  /** name -> versions this agent rejected, across streams. */
  readonly rejected = new Map<string, Set<string>>();
  readonly violations: string[] = [];
  /** Versions it holds that were sent again (should stay 0). */
  resentUnchanged = 0;

  constructor(readonly agentId: string) {}

  /** A transport for one new stream of this agent. */
  stream(): CheckedStream {
    return new CheckedStream(this);
  }
}

export class CheckedStream {
  readonly responses: DiscoveryResponse[] = [];
  readonly subscribed = new Set<string>();
  private lastNonce = 0;
  private unanswered: DiscoveryResponse | null = null;

  constructor(readonly agent: CheckedAgent) {}

  /** Pass as DiscoveryStreamOptions.send. */
  readonly send = (r: DiscoveryResponse): void => {
    const fail = (msg: string) => {
      this.agent.violations.push(msg);
      throw new Error(`protocol violation: ${msg}`);
    };
    const nonce = Number(r.nonce);
    if (!(nonce > this.lastNonce)) fail(`nonce ${r.nonce} after ${this.lastNonce}`);
    this.lastNonce = nonce;
    if (this.unanswered) fail(`response ${r.nonce} sent while ${this.unanswered.nonce} is unanswered`);
    for (const name of [...(r.resources ?? []).map((x) => x.name ?? ''), ...(r.removed ?? []), ...(r.not_found ?? [])]) {
      if (!this.subscribed.has(name)) fail(`${name} sent to a stream not subscribed to it`);
    }
    for (const res of r.resources ?? []) {
      const name = res.name ?? '';
      const version = res.version ?? '';
      if (this.agent.rejected.get(name)?.has(version)) fail(`rejected ${name}@${version} resent`);
      if (this.agent.held.get(name) === version) {
        this.agent.resentUnchanged++;
        fail(`held ${name}@${version} resent`);
      }
    }
    this.responses.push(r);
    this.unanswered = r;
  };

  /** The request that subscribes (and records the names as subscribed). */
  subscribe(...names: string[]) {
    for (const n of names) this.subscribed.add(n);
    return { subscribe: names, unsubscribe: [], initial_versions: {}, response_nonce: '', errors: [] };
  }

  /** Drops names (and, like the agent, what it held of them). */
  unsubscribe(...names: string[]) {
    for (const n of names) {
      this.subscribed.delete(n);
      this.agent.held.delete(n);
    }
    return { subscribe: [], unsubscribe: names, initial_versions: {}, response_nonce: '', errors: [] };
  }

  /** The first request of a reconnect: what the agent holds, plus its subscriptions. */
  resume(...names: string[]) {
    for (const n of [...names, ...this.agent.held.keys()]) this.subscribed.add(n);
    return { subscribe: names, unsubscribe: [], initial_versions: Object.fromEntries(this.agent.held), response_nonce: '', errors: [] };
  }

  /** Answers the unanswered response: NACKs `reject` names, ACKs the rest (like the agent). */
  answer(reject: readonly string[] = []) {
    const r = this.unanswered;
    if (!r) throw new Error('nothing to answer');
    this.unanswered = null;
    const errors = [];
    for (const res of r.resources ?? []) {
      const name = res.name ?? '';
      const version = res.version ?? '';
      if (reject.includes(name)) {
        errors.push({ name, version, message: 'test rejects it' });
        let set = this.agent.rejected.get(name);
        if (!set) {
          set = new Set();
          this.agent.rejected.set(name, set);
        }
        set.add(version);
      } else this.agent.held.set(name, version);
    }
    for (const name of r.removed ?? []) this.agent.held.delete(name);
    return { subscribe: [], unsubscribe: [], initial_versions: {}, response_nonce: r.nonce ?? '', errors };
  }

  get pendingResponse(): DiscoveryResponse | null {
    return this.unanswered;
  }

  /** Resources received on this stream. */
  get resourcesSent(): number {
    return this.responses.reduce((n, r) => n + (r.resources?.length ?? 0), 0);
  }
}
