/**
 * Keeps the control plane's copy of this agent's instances equal to the
 * agent's own (local-api owns the truth). Every change is sent as it happens
 * (Register / Deregister / SetHealth); whenever that fails for a reason other
 * than bad input, the change stays local and a full `replace_all` Register
 * re-sends everything on the next (re)connect or retry. A registration is
 * therefore never lost, only delayed.
 *
 * All calls go through one queue so the control plane sees changes in the
 * order the agent made them.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type AgentInfo,
  agentInfoToProto,
  Backoff,
  GrpcStatus,
  type Health,
  healthToProto,
  type InstanceSpec,
  instanceToProto,
  type Logger,
  loadWeftProto,
  MeshError,
  MeshErrorCode,
  messageOf,
  ValidationError,
} from '@weft/shared';
import type { RegistryClient } from '@weft/shared/generated/weft/v1/Registry';
import type { ControlPlaneAddresses } from './control-plane-addresses.js';
import { CHANNEL_OPTIONS, controlPlaneTarget } from './grpc-channel.js';

/** Where the sync reads the instances that should exist and records their sync state. */
export interface RegistrationSource {
  /** Every local instance as the control plane should hold it now (current health included). */
  instances(): InstanceSpec[];
  /** Records whether the control plane holds the current state of these instances. */
  markSynced(instanceIds: readonly string[], synced: boolean, error?: string): void;
}

export interface RegistrationSyncOptions {
  controlPlane: ControlPlaneAddresses;
  agent: AgentInfo;
  source: RegistrationSource;
  logger: Logger;
  /** Whether the discovery stream is up; retries wait for it instead of spinning. */
  isConnected: () => boolean;
  /** Deadline of one control-plane call. */
  rpcTimeoutMs?: number;
  /** TLS with the agent's certificate (the same object as the discovery client's, so they share a connection). */
  credentials?: grpc.ChannelCredentials;
}

type Unary<Req, Res> = (req: Req, options: grpc.CallOptions, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

export class RegistrationSync {
  private readonly client: RegistryClient;
  private readonly logger: Logger;
  private readonly rpcTimeoutMs: number;
  private readonly retryBackoff = new Backoff({ baseMs: 500, maxMs: 10_000 });
  private queue: Promise<unknown> = Promise.resolve();
  private needsFullSync = true;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: RegistrationSyncOptions) {
    const proto = loadWeftProto();
    this.client = new proto.Registry(
      controlPlaneTarget(options.controlPlane),
      options.credentials ?? grpc.credentials.createInsecure(),
      CHANNEL_OPTIONS,
    );
    this.logger = options.logger.child({ component: 'registration-sync' });
    this.rpcTimeoutMs = options.rpcTimeoutMs ?? 3_000;
  }

  /** True when every local change has reached the control plane. */
  inSync(): boolean {
    return !this.needsFullSync;
  }

  /** Sends every local instance with replace_all (call on each stream (re)connect). */
  fullSync(): Promise<boolean> {
    return this.enqueue(() => this.doFullSync());
  }

  /**
   * Registers or updates one instance. `commit` stores it locally; it runs
   * inside the queue before the next call starts, unless the control plane
   * rejected the instance as invalid (then this throws a ValidationError
   * naming the local field and nothing is kept).
   * Resolves with whether the control plane acknowledged it.
   */
  register(instance: InstanceSpec, commit: () => void): Promise<boolean> {
    return this.enqueue(async () => {
      if (this.needsFullSync) {
        commit();
        return this.fullSyncIfConnected([instance.instanceId]);
      }
      const outcome = await this.rpc(this.client.Register, {
        agent: agentInfoToProto(this.options.agent),
        instances: [instanceToProto(instance)],
        replace_all: false,
      });
      if (refusesInstance(outcome)) throw localValidationError(outcome.message);
      commit();
      return this.settle([instance.instanceId], outcome, 'register');
    });
  }

  /** Removes instances; `commit` removes them locally first, so they are never re-sent. */
  deregister(instanceIds: readonly string[], commit: () => void): Promise<boolean> {
    return this.enqueue(async () => {
      commit();
      if (this.needsFullSync) return this.fullSyncIfConnected();
      const outcome = await this.rpc(this.client.Deregister, { agent_id: this.options.agent.agentId, instance_ids: [...instanceIds] });
      // NOT_FOUND: the control plane already lacks them, which is what we want.
      if (outcome.code === GrpcStatus.NOT_FOUND) return true;
      return this.settle([], outcome, 'deregister');
    });
  }

  /** Reports a health change; the caller has already stored it locally. */
  setHealth(instanceId: string, health: Health, output: string): Promise<boolean> {
    return this.enqueue(async () => {
      if (this.needsFullSync) return this.fullSyncIfConnected([instanceId]);
      const outcome = await this.rpc(this.client.SetHealth, {
        agent_id: this.options.agent.agentId,
        instance_id: instanceId,
        health: healthToProto(health),
        output: output.slice(0, 1024),
      });
      return this.settle([instanceId], outcome, 'set-health');
    });
  }

  /**
   * Graceful shutdown: removes all of this agent's instances at the control
   * plane (bounded by `timeoutMs`, not queued behind a stuck call), then
   * stops. The local registrations stay, so a restart re-registers them.
   */
  async close(deregister: boolean, timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    const ids = this.options.source.instances().map((i) => i.instanceId);
    if (deregister && ids.length > 0) {
      // Fail fast when the stream is down: the lease will remove them anyway.
      const outcome = await this.rpc(
        this.client.Deregister,
        { agent_id: this.options.agent.agentId, instance_ids: ids },
        timeoutMs,
        this.options.isConnected(),
      );
      if (outcome.code === GrpcStatus.OK) this.logger.info('deregistered local instances', { count: ids.length });
      else this.logger.warn('could not deregister at the control plane; the lease will expire them', { error: outcome.message });
    }
    this.client.close();
  }

  /**
   * While the stream is down the control plane is unreachable: answer at
   * once and leave the change to the full sync that follows the reconnect.
   */
  private fullSyncIfConnected(pending: readonly string[] = []): Promise<boolean> {
    if (this.options.isConnected()) return this.doFullSync();
    // Say why these are not synced yet (an operator reading `weft services` on this host would otherwise see
    // "not synced" with no reason).
    if (pending.length > 0) {
      this.options.source.markSynced(pending, false, 'no stream to the control plane; sent when it reconnects');
    }
    return Promise.resolve(false);
  }

  private async doFullSync(): Promise<boolean> {
    let instances = this.options.source.instances();
    // A control plane that rejects one instance must not keep the others from syncing.
    for (let tries = 0; tries <= instances.length; tries++) {
      const outcome = await this.rpc(this.client.Register, {
        agent: agentInfoToProto(this.options.agent),
        instances: instances.map((i) => instanceToProto(i)),
        replace_all: true,
      });
      if (refusesInstance(outcome)) {
        const index = /^instances\[(\d+)\]/.exec(outcome.message);
        const bad = index ? instances[Number(index[1])] : undefined;
        this.logger.error('control plane rejected a local instance', { instanceId: bad?.instanceId, error: outcome.message });
        if (!bad) break;
        this.options.source.markSynced([bad.instanceId], false, outcome.message);
        instances = instances.filter((i) => i !== bad);
        continue;
      }
      const ok = this.settle(
        instances.map((i) => i.instanceId),
        outcome,
        'full-sync',
      );
      if (ok) {
        this.needsFullSync = false;
        this.retryBackoff.reset();
        this.logger.info('registrations synced', { instances: instances.length });
      }
      return ok;
    }
    return false;
  }

  /** Records the outcome; on failure falls back to a full sync later. */
  private settle(ids: readonly string[], outcome: { code: number; message: string }, what: string): boolean {
    if (outcome.code === GrpcStatus.OK) {
      if (ids.length > 0) this.options.source.markSynced(ids, true);
      return true;
    }
    if (ids.length > 0) this.options.source.markSynced(ids, false, outcome.message);
    this.logger.warn('control plane call failed; will re-send all registrations', { call: what, error: outcome.message });
    this.needsFullSync = true;
    this.scheduleRetry();
    return false;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // When the stream is down, its reconnect triggers the full sync instead.
      if (!this.closed && this.needsFullSync && this.options.isConnected()) void this.fullSync();
    }, this.retryBackoff.next());
    this.retryTimer.unref();
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new MeshError(MeshErrorCode.shuttingDown, 'the agent is shutting down'));
    const run = this.queue.then(op);
    this.queue = run.catch(() => {});
    return run;
  }

  /** One unary call as data: { code, message }; never throws. */
  private rpc<Req, Res>(
    method: Unary<Req, Res>,
    req: Req,
    timeoutMs = this.rpcTimeoutMs,
    waitForReady = true,
  ): Promise<{ code: number; message: string }> {
    return new Promise((resolve) => {
      try {
        // waitForReady: a call right after the stream reconnected waits for this
        // client's channel to catch up instead of failing fast; the deadline bounds it.
        method.call(this.client, req, { deadline: Date.now() + timeoutMs, waitForReady }, (err) => {
          if (!err) resolve({ code: GrpcStatus.OK, message: '' });
          else resolve({ code: err.code ?? GrpcStatus.INTERNAL, message: err.details || err.message });
        });
      } catch (err) {
        resolve({ code: GrpcStatus.INTERNAL, message: messageOf(err) });
      }
    });
  }
}

const PROTO_TO_LOCAL_FIELD: Record<string, string> = { service: 'name', instance_id: 'id' };

/**
 * The control plane refused an instance itself (so re-sending it can never
 * succeed): it is invalid (INVALID_ARGUMENT), or not this agent's to register
 * there (PERMISSION_DENIED naming `instances[i]`, e.g. an address beyond this
 * host the control plane does not allow). Other refusals (a revoked agent, a
 * store outage) are about the call, and the sync retries.
 */
function refusesInstance(outcome: { code: number; message: string }): boolean {
  if (outcome.code === GrpcStatus.INVALID_ARGUMENT) return true;
  return outcome.code === GrpcStatus.PERMISSION_DENIED && /^instances\[\d+\]/.test(outcome.message);
}

/** `instances[0].port: must be 1..65535` -> ValidationError('port', 'must be 1..65535'), the admin API's field names. */
function localValidationError(message: string): ValidationError {
  const m = /^instances\[\d+\]\.([A-Za-z_]+)([^:]*): (.*)$/s.exec(message);
  if (!m) return new ValidationError('', message);
  const field = (PROTO_TO_LOCAL_FIELD[m[1]] ?? m[1]) + m[2];
  return new ValidationError(field, m[3]);
}
