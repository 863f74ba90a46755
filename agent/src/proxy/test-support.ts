/**
 * Helpers for the proxy tests: real node:http upstreams on port 0, a plain
 * HTTP client, and hand-built EndpointSource / LocalInstances objects (the
 * proxy's seams are plain interfaces, so these are real implementations).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Endpoint, Health } from '@weft/shared';
import type { EndpointSource, LocalInstance, LocalInstances, ServiceSnapshot } from '../contracts.js';

export interface Upstream {
  port: number;
  server: Server;
  /** Requests seen so far (head only). */
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startUpstream(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

let seq = 0;
export function endpoint(fields: Partial<Endpoint> & { port: number }): Endpoint {
  seq++;
  return {
    service: 'orders',
    instanceId: `orders-${seq}`,
    address: '127.0.0.1',
    zone: 'z1',
    weight: 1,
    tags: [],
    metadata: {},
    health: 'passing' as Health,
    protocol: 'http',
    agentId: 'agent-a',
    agentAddress: '127.0.0.1',
    agentPort: 1,
    ...fields,
  };
}

/** An EndpointSource over a fixed map; unknown names reject like the config view does. */
export function staticSource(services: Record<string, Endpoint[]>, unknown?: (service: string) => Error): EndpointSource {
  return {
    resolve(service: string): ServiceSnapshot | Promise<ServiceSnapshot> {
      const endpoints = services[service];
      if (endpoints === undefined) return Promise.reject(unknown?.(service) ?? new Error(`no ${service}`));
      return { service, version: '1', endpoints };
    },
  };
}

export function localInstances(list: LocalInstance[]): LocalInstances {
  const byId = new Map(list.map((i) => [i.instanceId, i]));
  return { get: (id) => byId.get(id) };
}

export interface ClientResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ClientRequest {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
}

/** One request on a fresh connection (no agent: nothing lingers after the test). */
export function send(r: ClientRequest): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: r.port, path: r.path, method: r.method ?? 'GET', headers: r.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
