/**
 * The control plane's gRPC server: Registry and Discovery services from
 * proto/weft/v1. Keepalive pings find dead agents behind half-open TCP
 * connections, so their streams close and their leases start running out.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@weft/shared';
import { loadWeftProto } from '@weft/shared';
import type { PolicyRegistry } from '../registry/policy-registry.js';
import type { Registry } from '../registry/registry.js';
import { createDiscoveryHandlers } from './discovery-service.js';
import type { StreamObserver } from './discovery-stream.js';
import { cachingResponseSerializer } from './encoded-response.js';
import { createPolicyHandlers } from './policy-service.js';
import { createRegistryHandlers } from './registry-service.js';
import { RejectedVersions } from './rejected-versions.js';
import { shuttingDownError } from './status.js';
import { StreamTable } from './stream-table.js';

export interface GrpcServerOptions {
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

/** "host:port" with IPv6 literals in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningGrpcServer> {
  const proto = loadWeftProto();
  const streams = new StreamTable();
  const server = new grpc.Server({
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // Agents may ping an idle stream every 10 s without being told to go away.
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  const rejections = opts.rejections ?? new RejectedVersions();
  const deps = {
    registry: opts.registry,
    streams,
    logger: opts.logger,
    rejections,
    observer: opts.observer,
    policies: opts.policies,
    externals: opts.policies.externals,
  };
  server.addService(proto.Registry.service, { ...createRegistryHandlers(deps), ...createPolicyHandlers(opts.policies, opts.logger) });
  server.addService(discoveryServiceWithEncodingCache(proto.Discovery.service), createDiscoveryHandlers(deps));

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort(opts.host, opts.port), grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve(bound);
    });
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      // Streams never end by themselves: end them first so a graceful shutdown can complete.
      for (const handle of streams.all()) handle.end(shuttingDownError());
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, opts.shutdownGraceMs ?? 2000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return closing;
  };
  return { port, streams, rejections, close };
}
