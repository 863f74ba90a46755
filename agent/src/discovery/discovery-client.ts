/**
 * The agent's end of the discovery stream (proto/weft/v1/discovery.proto):
 * one bidirectional stream, reopened with jittered backoff for as long as the
 * client is open. Every response is validated resource by resource, the
 * valid ones are applied to the ConfigView in one step, and the response is
 * answered once by nonce (ACK, or NACK listing the rejected resources).
 *
 * While disconnected the view keeps serving what it holds; each new stream's
 * first request carries the agent identity, every subscription and the
 * versions held, so the control plane sends only what differs.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type AgentInfo,
  agentInfoToProto,
  Backoff,
  type BackoffOptions,
  type Logger,
  loadWeftProto,
  messageOf,
  RESOURCE_TYPE_ENDPOINTS,
  serviceOfResource,
} from '@weft/shared';
import type { DiscoveryClient as DiscoveryGrpcClient } from '@weft/shared/generated/weft/v1/Discovery';
import type { DiscoveryRequest } from '@weft/shared/generated/weft/v1/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ResourceError } from '@weft/shared/generated/weft/v1/ResourceError';
import type { ServiceSnapshot } from '../contracts.js';
import type { ConfigUpdate, ConfigView, SubscriptionLink } from './config-view.js';
import { type ControlPlaneAddresses, describeControlPlane } from './control-plane-addresses.js';
import { CHANNEL_OPTIONS, controlPlaneTarget } from './grpc-channel.js';
import { decodeResource } from './resource-decode.js';

export interface DiscoveryClientOptions {
  controlPlane: ControlPlaneAddresses;
  agent: AgentInfo;
  view: ConfigView;
  logger: Logger;
  /** Delay between stream attempts; defaults to 200 ms growing to 5 s, with full jitter. */
  backoff?: BackoffOptions;
  /** How long one attempt waits for a connection before backing off. */
  connectTimeoutMs?: number;
  /** Handles resource types other than endpoints (the traffic policy, trust); returns its NACK errors. */
  companion?: CompanionHandler;
  /** TLS with the agent's certificate (identity/); plaintext when omitted (--insecure, tests). */
  credentials?: grpc.ChannelCredentials;
  /** Names subscribed on every stream, whatever the view needs ("trust/revocations", "trust/bundle"). */
  alwaysSubscribe?: readonly string[];
}

/** A handler of the names it owns in a response (e.g. "policy/..."): validates, applies, returns per-resource errors. */
export interface CompanionHandler {
  owns(name: string): boolean;
  apply(resources: readonly Resource__Output[], removed: readonly string[], notFound: readonly string[]): ResourceError[];
}

type Call = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;

export class DiscoveryClient implements SubscriptionLink {
  private readonly client: DiscoveryGrpcClient;
  private readonly backoff: Backoff;
  private readonly logger: Logger;
  private readonly connectListeners: (() => void)[] = [];
  private call: Call | undefined;
  /** Bumped per attempt so events of an abandoned stream are ignored. */
  private generation = 0;
  private connected = false;
  private closed = false;
  private started = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;

  constructor(private readonly options: DiscoveryClientOptions) {
    const proto = loadWeftProto();
    this.client = new proto.Discovery(
      controlPlaneTarget(options.controlPlane),
      options.credentials ?? grpc.credentials.createInsecure(),
      CHANNEL_OPTIONS,
    );
    this.backoff = new Backoff({ baseMs: 200, maxMs: 5_000, ...options.backoff });
    this.logger = options.logger.child({ component: 'discovery' });
    options.view.attach(this);
  }

  /** Opens the first stream; never throws, the client keeps retrying in the background. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.attempt();
  }

  /** Called every time a stream opens (first connect and each reconnect). */
  onConnect(listener: () => void): void {
    this.connectListeners.push(listener);
  }

  isConnected(): boolean {
    return this.connected;
  }

  subscribe(names: string[]): void {
    if (names.length > 0) this.write({ subscribe: names });
  }

  unsubscribe(names: string[]): void {
    if (names.length > 0) this.write({ unsubscribe: names });
  }

  /** Ends the stream and stops reconnecting. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.setDisconnected(null);
    const call = this.call;
    this.call = undefined;
    if (call) {
      call.end();
      call.cancel();
    }
    this.client.close();
  }

  private attempt(): void {
    if (this.closed) return;
    const gen = ++this.generation;
    this.awaitReady(gen, Date.now() + (this.options.connectTimeoutMs ?? 5_000));
  }

  /**
   * Waits for the channel to be READY (grpc-js keeps dialing with its own
   * backoff meanwhile), recording a failed dial in the view's connection
   * state so /config shows why the agent is not connected.
   */
  private awaitReady(gen: number, deadline: number): void {
    const channel = this.client.getChannel();
    const state = channel.getConnectivityState(true);
    if (state === grpc.connectivityState.READY) {
      this.openStream(gen);
      return;
    }
    if (state === grpc.connectivityState.TRANSIENT_FAILURE) {
      this.options.view.markDisconnected(
        `control plane ${describeControlPlane(this.options.controlPlane)} unreachable (connection failed)`,
      );
    }
    channel.watchConnectivityState(state, deadline, (err) => {
      if (gen !== this.generation || this.closed) return;
      if (err)
        this.failed(gen, `control plane ${describeControlPlane(this.options.controlPlane)} unreachable: no connection within the deadline`);
      else this.awaitReady(gen, deadline);
    });
  }

  private openStream(gen: number): void {
    const call = this.client.Stream();
    this.call = call;
    call.on('data', (res: DiscoveryResponse__Output) => {
      if (gen === this.generation) this.onResponse(res);
    });
    // 'status' always follows; 'error' only needs a listener so it cannot crash the process.
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      if (gen !== this.generation || this.closed) return;
      this.failed(gen, `stream ended: ${grpc.status[status.code] ?? status.code} ${status.details}`.trim());
    });
    const view = this.options.view;
    call.write({
      agent: agentInfoToProto(this.options.agent),
      subscribe: [...view.subscriptions(), ...(this.options.alwaysSubscribe ?? [])],
      initial_versions: view.versions(),
    });
    this.connected = true;
    this.failedAttempts = 0;
    view.markConnected();
    this.logger.info('control plane connected', {
      target: describeControlPlane(this.options.controlPlane),
      // The replica this stream (and every other call of this agent) went to.
      peer: peerOf(call),
      subscriptions: view.subscriptions().length,
      held: Object.keys(view.versions()).length,
    });
    for (const listener of this.connectListeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error('connect listener failed', { error: messageOf(err) });
      }
    }
  }

  private failed(gen: number, reason: string): void {
    if (gen !== this.generation) return;
    this.generation++;
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    const wasConnected = this.connected;
    this.setDisconnected(reason);
    this.failedAttempts++;
    const delay = this.backoff.next();
    if (wasConnected || this.failedAttempts === 1) this.logger.warn('control plane disconnected; retrying', { reason, retryInMs: delay });
    else this.logger.debug('control plane still unreachable', { reason, attempts: this.failedAttempts, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.attempt(), delay);
    this.retryTimer.unref();
  }

  private setDisconnected(reason: string | null): void {
    this.connected = false;
    this.options.view.markDisconnected(reason);
  }

  private onResponse(res: DiscoveryResponse__Output): void {
    this.backoff.reset();
    const view = this.options.view;
    view.markResponse(res.revision);
    const snapshots: ServiceSnapshot[] = [];
    const errors: ResourceError[] = [];
    const rejected: NonNullable<ConfigUpdate['rejected']> = [];
    const companion = this.options.companion;
    if (companion) {
      // Applied before the endpoints, so a request waiting for a new service sees its policy too.
      const owned = (names: readonly string[]) => names.filter((n) => companion.owns(n));
      errors.push(
        ...companion.apply(
          res.resources.filter((r) => companion.owns(r.name)),
          owned(res.removed),
          owned(res.not_found),
        ),
      );
    }
    for (const resource of res.resources) {
      if (companion?.owns(resource.name)) continue;
      const decoded = decodeResource(resource);
      if (decoded.ok) {
        snapshots.push(decoded.snapshot);
        continue;
      }
      errors.push({ name: resource.name, version: resource.version, message: decoded.message });
      if (decoded.service) rejected.push({ service: decoded.service, message: decoded.message });
    }
    const removed = this.servicesOf(res.removed, 'removed');
    const notFound = this.servicesOf(res.not_found, 'not_found');
    view.apply({ snapshots, removed, notFound, rejected });
    this.write({ response_nonce: res.nonce, errors });
    if (errors.length > 0) this.logger.warn('rejected config (NACK)', { nonce: res.nonce, errors });
    this.logger.debug('applied config', {
      nonce: res.nonce,
      revision: res.revision,
      updated: snapshots.map((s) => `${s.service}@${s.version}`),
      removed,
      notFound,
    });
  }

  private servicesOf(names: readonly string[], field: string): string[] {
    const out: string[] = [];
    for (const name of names) {
      if (this.options.companion?.owns(name)) continue;
      const service = serviceOfResource(name, RESOURCE_TYPE_ENDPOINTS);
      if (service) out.push(service);
      else this.logger.warn('ignoring unsupported resource name', { field, name });
    }
    return out;
  }

  private write(req: DiscoveryRequest): void {
    const call = this.call;
    if (!call || !this.connected) return;
    try {
      call.write(req);
    } catch (err) {
      this.logger.debug('stream write failed', { error: messageOf(err) });
    }
  }
}

/** The address of the replica a call went to ("" when grpc-js cannot tell yet). */
function peerOf(call: Call): string {
  try {
    return call.getPeer();
  } catch {
    return '';
  }
}
