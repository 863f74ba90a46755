/**
 * A small real gRPC server speaking weft.v1 Discovery and Registry, for the
 * agent's tests (the real control plane lives in another package). It
 * records every request, lets a test send responses by hand, and can answer
 * new subscriptions by itself from `services`. It checks the stream rules it
 * relies on: the first request carries `agent`, and ACK nonces are ones it sent.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { loadWeftProto } from '@weft/shared';
import type { DeregisterRequest__Output } from '@weft/shared/generated/weft/v1/DeregisterRequest';
import type { DiscoveryRequest__Output } from '@weft/shared/generated/weft/v1/DiscoveryRequest';
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { Endpoint } from '@weft/shared/generated/weft/v1/Endpoint';
import type { RegisterRequest__Output } from '@weft/shared/generated/weft/v1/RegisterRequest';
import type { Resource } from '@weft/shared/generated/weft/v1/Resource';
import type { SetHealthRequest__Output } from '@weft/shared/generated/weft/v1/SetHealthRequest';

export interface TestStream {
  readonly call: grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>;
  readonly requests: DiscoveryRequest__Output[];
  readonly sentNonces: string[];
  ended: boolean;
}

export type CallError = { code: grpc.status; details: string };

export class TestControlPlane {
  readonly streams: TestStream[] = [];
  readonly registerCalls: RegisterRequest__Output[] = [];
  readonly deregisterCalls: DeregisterRequest__Output[] = [];
  readonly setHealthCalls: SetHealthRequest__Output[] = [];
  /** Protocol violations seen (a test asserts this stays empty). */
  readonly violations: string[] = [];
  /** When set, new subscriptions are answered at once from `services`. */
  autoAnswer = false;
  readonly services = new Map<string, { version: string; endpoints: Endpoint[] }>();
  /** When set, Register calls fail with this status. */
  registerError: CallError | undefined;
  private nonce = 0;
  private revision = 0;
  private readonly events = new EventEmitter();

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
  ) {
    this.events.setMaxListeners(100);
  }

  static async start(port = 0): Promise<TestControlPlane> {
    const proto = loadWeftProto();
    const server = new grpc.Server();
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const cp = new TestControlPlane(server, bound);
    server.addService(proto.Discovery.service, { Stream: (call: TestStream['call']) => cp.onStream(call) });
    server.addService(proto.Registry.service, {
      Register: (call: grpc.ServerUnaryCall<RegisterRequest__Output, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        cp.registerCalls.push(call.request);
        cp.events.emit('change');
        if (cp.registerError) cb({ code: cp.registerError.code, details: cp.registerError.details });
        else cb(null, { revision: String(++cp.revision), instance_ids: call.request.instances.map((i) => i.instance_id) });
      },
      Deregister: (call: grpc.ServerUnaryCall<DeregisterRequest__Output, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        cp.deregisterCalls.push(call.request);
        cp.events.emit('change');
        cb(null, { revision: String(++cp.revision), removed: call.request.instance_ids.length });
      },
      SetHealth: (call: grpc.ServerUnaryCall<SetHealthRequest__Output, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        cp.setHealthCalls.push(call.request);
        cp.events.emit('change');
        cb(null, { revision: String(++cp.revision) });
      },
      ListServices: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { revision: String(cp.revision), services: [] }),
      ListAgents: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { revision: String(cp.revision), agents: [] }),
    });
    return cp;
  }

  /** The newest stream (open or not). */
  latest(): TestStream | undefined {
    return this.streams.at(-1);
  }

  /** Sends a response on `stream` (default: the newest) and returns its nonce. */
  send(response: Omit<DiscoveryResponse, 'nonce'>, stream = this.latest()): string {
    if (!stream) throw new Error('no stream');
    const nonce = String(++this.nonce);
    stream.sentNonces.push(nonce);
    stream.call.write({ revision: String(this.revision), ...response, nonce });
    return nonce;
  }

  /**
   * Resolves with check()'s first value that is not undefined/false,
   * re-checking on every recorded event and every 20 ms (agent-side state
   * changes without a server event).
   */
  waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 4_000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let checking = false;
      const test = async () => {
        if (settled || checking) return;
        checking = true;
        try {
          const v = await check();
          if (!settled && v !== undefined && v !== false) {
            done();
            resolve(v);
          }
        } catch (err) {
          if (!settled) {
            done();
            reject(err);
          }
        } finally {
          checking = false;
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(() => void test(), 20);
      const onChange = () => void test();
      const done = () => {
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        this.events.off('change', onChange);
      };
      this.events.on('change', onChange);
      void test();
    });
  }

  /** Closes every stream and the server at once (a crashed control plane). */
  async stop(): Promise<void> {
    this.server.forceShutdown();
    for (const s of this.streams) s.ended = true;
    this.events.emit('change');
  }

  private onStream(call: TestStream['call']): void {
    const stream: TestStream = { call, requests: [], sentNonces: [], ended: false };
    this.streams.push(stream);
    call.on('data', (req: DiscoveryRequest__Output) => {
      if (stream.requests.length === 0 && !req.agent) this.violations.push('first request without agent');
      if (req.response_nonce && !stream.sentNonces.includes(req.response_nonce))
        this.violations.push(`unknown nonce ${req.response_nonce}`);
      stream.requests.push(req);
      if (this.autoAnswer && req.subscribe.length > 0) this.answer(stream, req.subscribe);
      this.events.emit('change');
    });
    const end = () => {
      stream.ended = true;
      this.events.emit('change');
    };
    call.on('end', () => {
      end();
      call.end();
    });
    call.on('error', end);
    call.on('cancelled', end);
    this.events.emit('change');
  }

  private answer(stream: TestStream, names: string[]): void {
    const resources: Resource[] = [];
    const notFound: string[] = [];
    for (const name of names) {
      const service = name.replace(/^endpoints\//, '');
      const s = this.services.get(service);
      if (s) resources.push({ name, version: s.version, endpoints: { service, endpoints: s.endpoints } });
      else notFound.push(name);
    }
    this.send({ resources, not_found: notFound }, stream);
  }
}

/** A valid wire endpoint for tests. */
export function testEndpoint(instanceId: string, overrides: Partial<Endpoint> = {}): Endpoint {
  return {
    instance_id: instanceId,
    agent_id: 'agent-b',
    agent_address: '127.0.0.1',
    agent_port: 15006,
    address: '127.0.0.1',
    port: 8080,
    zone: '',
    weight: 1,
    tags: [],
    metadata: {},
    health: 'HEALTH_PASSING',
    ...overrides,
  };
}
