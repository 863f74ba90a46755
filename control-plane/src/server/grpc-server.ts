/**
 * The control plane's gRPC server: Registry, Discovery, Trust and Telemetry services from
 * proto/weft/v1, served on Weft's own HTTP/2 codec (grpc/codec-server.ts says why).
 * Keepalive pings find dead agents behind half-open TCP connections, so their
 * streams close and their leases start running out.
 */
import type { BlockList } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { Logger, MetricsRegistry } from '@weft/shared';
import { loadWeftProto } from '@weft/shared';
import type { ServerIdentity } from '../ca/server-identity.js';
import { type MeshSettingsSource, meshSettingsEntry } from '../registry/mesh-settings.js';
import type { PolicyRegistry } from '../registry/policy-registry.js';
import type { Registry } from '../registry/registry.js';
import type { StatsWindow } from '../registry/stats-window.js';
import type { AgentTrustStatus } from './agent-status.js';
import { guardService } from './authz.js';
import { type Authenticator, insecureAuthenticator } from './caller.js';
import { createDiscoveryHandlers } from './discovery-service.js';
import type { StreamObserver } from './discovery-stream.js';
import { cachingResponseSerializer } from './encoded-response.js';
import { GrpcCodecServer } from './grpc/codec-server.js';
import { createPolicyHandlers } from './policy-service.js';
import { createRegistryHandlers } from './registry-service.js';
import { RejectedVersions } from './rejected-versions.js';
import { shuttingDownError } from './status.js';
import { StreamTable } from './stream-table.js';
import { createTelemetryHandlers } from './telemetry-service.js';
import { createTrustHandlers, type TrustServiceDeps } from './trust-service.js';

export interface GrpcServerOptions {
  /** Addresses beyond an agent's own host its instances may have (registry-service.ts); default none. */
  remoteInstances?: BlockList | 'any';
  host: string;
  port: number;
  registry: Registry;
  logger: Logger;
  /** How long close() waits for calls to finish before cutting connections. */
  shutdownGraceMs?: number;
  /** Per-agent rejected versions (shared with the HTTP API); a fresh one when omitted. */
  rejections?: RejectedVersions;
  observer?: StreamObserver;
  /** Traffic policy: the config calls and "policy/<service>" resources. */
  policies: PolicyRegistry;
  /** "mesh/settings" (the default access decision); default: the defaults of mesh-settings.ts. */
  settings?: MeshSettingsSource;
  /** TLS for the port (its certificate follows renewals and CA rotation); plaintext when omitted (--insecure and unit tests). */
  identity?: ServerIdentity;
  /** Who is calling (authz.ts enforces it per method); everyone is allowed when omitted. */
  authn?: Authenticator;
  /** The Trust service and the "trust/..." resources; absent with --insecure. */
  trust?: Omit<TrustServiceDeps, 'registry' | 'streams' | 'logger'>;
  /** Certificate and revocation per agent for ListAgents. */
  trustStatus?: () => Map<string, AgentTrustStatus>;
  /** Where Telemetry reports go (the golden metrics); the Telemetry service is not offered without it. */
  stats?: StatsWindow;
  /** Where the Telemetry service counts reports (the control plane's /metrics). */
  metricsRegistry?: MetricsRegistry;
}

export interface RunningGrpcServer {
  readonly port: number;
  readonly streams: StreamTable;
  readonly rejections: RejectedVersions;
  close(): Promise<void>;
}

/** The Discovery service definition with a response serializer that encodes each resource once. */
function discoveryServiceWithEncodingCache(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const stream = service.Stream;
  return { ...service, Stream: { ...stream, responseSerialize: cachingResponseSerializer(stream.responseSerialize) } };
}

const constant =
  <T>(v: T) =>
  () =>
    v;

/** "host:port" with IPv6 literals in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningGrpcServer> {
  const proto = loadWeftProto();
  const streams = new StreamTable();
  const server = new GrpcCodecServer({ logger: opts.logger, tls: opts.identity?.current() });
  const rejections = opts.rejections ?? new RejectedVersions();
  const settings = opts.settings ?? { entry: constant(meshSettingsEntry()) };
  const deps = {
    registry: opts.registry,
    streams,
    logger: opts.logger,
    rejections,
    observer: opts.observer,
    policies: opts.policies,
    settings,
    trust: opts.trust?.authority,
    trustStatus: opts.trustStatus,
    remoteInstances: opts.remoteInstances,
    externals: opts.policies.externals,
  };
  const guard = {
    authn: opts.authn ?? insecureAuthenticator(),
    isRevoked: (agentId: string) => opts.trust?.authority.isRevoked(agentId) ?? false,
    logger: opts.logger,
  };
  server.addService(
    proto.Registry.service,
    guardService('Registry', { ...createRegistryHandlers(deps), ...createPolicyHandlers(opts.policies, opts.logger) }, guard),
  );
  server.addService(
    discoveryServiceWithEncodingCache(proto.Discovery.service),
    guardService('Discovery', createDiscoveryHandlers(deps), guard),
  );
  if (opts.stats)
    server.addService(
      proto.Telemetry.service,
      guardService('Telemetry', createTelemetryHandlers(opts.stats, opts.logger, opts.metricsRegistry), guard),
    );
  if (opts.trust) {
    server.addService(
      proto.Trust.service,
      guardService('Trust', createTrustHandlers({ ...opts.trust, registry: opts.registry, streams, logger: opts.logger }), guard),
    );
  }

  const address = hostPort(opts.host, opts.port);
  const port = await server.listen(opts.host, opts.port).catch((err: Error) => {
    throw new Error(`gRPC port: cannot listen on ${address}: ${err.message}`);
  });
  const stopTlsUpdates = opts.identity?.onUpdate((material) => server.setTls(material));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (!closing) {
      // Streams never end by themselves: end them first so a graceful shutdown can complete.
      for (const handle of streams.all()) handle.end(shuttingDownError());
      stopTlsUpdates?.();
      closing = server.close(opts.shutdownGraceMs ?? 2000);
    }
    return closing;
  };
  return { port, streams, rejections, close };
}
