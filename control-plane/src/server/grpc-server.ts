/**
 * The control plane's gRPC server: Registry and Discovery services from
 * proto/weft/v1. Keepalive pings find dead agents behind half-open TCP
 * connections, so their streams close and their leases start running out.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@weft/shared';
import { loadWeftProto } from '@weft/shared';
import type { Registry } from '../registry/registry.js';
import { createDiscoveryHandlers } from './discovery-service.js';
import { createRegistryHandlers } from './registry-service.js';
import { shuttingDownError } from './status.js';
import { StreamTable } from './stream-table.js';

export interface GrpcServerOptions {
  host: string;
  port: number;
  registry: Registry;
  logger: Logger;
  /** How long close() waits for calls to finish before cutting connections. */
  shutdownGraceMs?: number;
}

export interface RunningGrpcServer {
  readonly port: number;
  readonly streams: StreamTable;
  close(): Promise<void>;
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
  const deps = { registry: opts.registry, streams, logger: opts.logger };
  server.addService(proto.Registry.service, createRegistryHandlers(deps));
  server.addService(proto.Discovery.service, createDiscoveryHandlers(deps));

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
  return { port, streams, close };
}
