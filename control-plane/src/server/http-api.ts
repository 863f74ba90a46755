/**
 * Read-only HTTP API for operators and health checks (JSON, domain field names):
 *   GET /healthz       -> {"status":"ok","revision":"N"}
 *   GET /v1/services   -> services with their instances
 *   GET /v1/agents     -> agents with lease, per-resource stream state and remembered rejections
 *   GET /v1/stats, /v1/stats/series -> golden metrics per service and edge (stats-routes.ts)
 *   GET /v1/config, /v1/config/history -> traffic policy and its history (http-config.ts)
 *   GET /v1/events     -> server-sent events naming what changed (http-events.ts)
 *   GET /metrics       -> Prometheus text format
 *   GET /ui/…          -> the dashboard's static files (ui-assets.ts)
 * Anything else is a JSON error with `x-weft-error`; a bad request never
 * crashes the process. Reads from this host (loopback) need no token; from
 * other hosts they need a read or operator token (`authorization: Bearer`),
 * except /healthz and the dashboard's static files, which hold no mesh data
 * (docs/security.md, docs/dashboard.md).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger, MetricsRegistry } from '@weft/shared';
import { ERROR_HEADER, NotFoundError, PROMETHEUS_CONTENT_TYPE } from '@weft/shared';
import type { PolicyRegistry } from '../registry/policy-registry.js';
import type { Registry } from '../registry/registry.js';
import type { StatsWindow } from '../registry/stats-window.js';
import { type AgentTrustStatus, resourceStatuses } from './agent-status.js';
import { ChangeFeed, type ChangeFeedOptions } from './change-feed.js';
import { feedSources } from './feed-sources.js';
import { configRoutes, type QueryRoute } from './http-config.js';
import { EventStreams } from './http-events.js';
import type { RejectedVersions } from './rejected-versions.js';
import { statsRoutes } from './stats-routes.js';
import { toHttpError } from './status.js';
import type { StreamTable } from './stream-table.js';
import { UiAssets } from './ui-assets.js';

export interface HttpApiOptions {
  host: string;
  port: number;
  registry: Registry;
  streams: StreamTable;
  logger: Logger;
  rejections?: RejectedVersions;
  metrics?: MetricsRegistry;
  /** Certificate and revocation per agent, shown in /v1/agents. */
  trustStatus?: () => Map<string, AgentTrustStatus>;
  /**
   * Throws or rejects (UnauthenticatedError, PermissionDeniedError) when a request may
   * not read; /healthz is always open.
   */
  authorizeRead?: (req: IncomingMessage) => void | Promise<void>;
  /** The golden metrics served at /v1/stats; those paths are 404 without it. */
  stats?: StatsWindow;
  /** Traffic policy for /v1/config and /v1/config/history (absent: those paths are 404). */
  policies?: PolicyRegistry;
  /** Where the built dashboard is; default control-plane/dist/ui. */
  uiDir?: string;
  /** Timing of /v1/events (tests shorten it). */
  feed?: ChangeFeedOptions;
}

export interface RunningHttpApi {
  readonly port: number;
  close(): Promise<void>;
}

type Route = QueryRoute;

function routes(
  registry: Registry,
  streams: StreamTable,
  rejections: RejectedVersions | undefined,
  trustStatus: (() => Map<string, AgentTrustStatus>) | undefined,
): Record<string, Route> {
  return {
    '/healthz': () => ({ status: 'ok', revision: String(registry.revision()) }),
    '/v1/services': () => ({
      revision: String(registry.revision()),
      services: registry.services().map((s) => ({
        name: s.service,
        version: s.version,
        instances: s.endpoints.map((e) => ({
          instanceId: e.instanceId,
          service: e.service,
          agentId: e.agentId,
          address: e.address,
          port: e.port,
          zone: e.zone,
          weight: e.weight,
          protocol: e.protocol,
          tags: e.tags,
          metadata: e.metadata,
          health: e.health,
          agentAddress: e.agentAddress,
          agentPort: e.agentPort,
        })),
      })),
    }),
    '/v1/agents': () => {
      const trust = trustStatus?.();
      return {
        revision: String(registry.revision()),
        agents: registry.agentRecords().map((r) => {
          const stream = streams.get(r.info.agentId)?.stream.status();
          const cert = trust?.get(r.info.agentId);
          return {
            ...r.info,
            connected: r.connected,
            leaseExpiresAtMs: r.leaseExpiresAtMs,
            disconnectedAtMs: r.disconnectedAtMs,
            instances: r.instances,
            stream: stream?.streamId ?? null,
            pendingNonce: stream?.pendingNonce ?? '',
            resources: resourceStatuses(stream, rejections?.ofAgent(r.info.agentId) ?? []),
            certSerial: cert?.certSerial ?? '',
            certExpiresAtMs: cert?.certExpiresAtMs ?? 0,
            revoked: cert?.revoked ?? false,
          };
        }),
      };
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, errorCode?: string): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  if (errorCode) res.setHeader(ERROR_HEADER, errorCode);
  res.end(text);
}

function refuseMethod(res: ServerResponse, method: string | undefined, path: string, allow: string): void {
  res.setHeader('allow', allow);
  sendJson(res, 405, { error: 'bad_request', message: `${method} is not allowed on ${path}: the API is read-only` }, 'bad_request');
}

export async function startHttpApi(opts: HttpApiOptions): Promise<RunningHttpApi> {
  const table = {
    ...routes(opts.registry, opts.streams, opts.rejections, opts.trustStatus),
    ...(opts.stats ? statsRoutes(opts.stats) : {}),
    ...(opts.policies && configRoutes(opts.policies)),
  };
  const log = opts.logger;
  const feed = new ChangeFeed(feedSources(opts), opts.feed);
  const events = new EventStreams(feed);
  const ui = new UiAssets(opts.uiDir);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const fail = (err: unknown): void => {
      const e = toHttpError(err);
      if (e.status >= 500) log.error('http request failed', { url: req.url, err });
      if (!res.headersSent) sendJson(res, e.status, e.body, e.code);
      else res.destroy();
    };
    try {
      const url = new URL(req.url ?? '/', 'http://control-plane');
      const path = url.pathname;
      if (UiAssets.owns(path)) {
        if (req.method === 'GET' || req.method === 'HEAD') ui.serve(path, req.headers['if-none-match'], res, req.method === 'HEAD');
        else refuseMethod(res, req.method, path, 'GET, HEAD');
        return;
      }
      // The token check may read the store (a token made on another replica): then it answers later.
      const allowed = path === '/healthz' ? undefined : opts.authorizeRead?.(req);
      if (allowed instanceof Promise) allowed.then(() => serve(req, res, url, path, fail)).catch(fail);
      else serve(req, res, url, path, fail);
    } catch (err) {
      fail(err);
    }
  };

  /** Answers a request that may read; a throw is the caller's to answer as an error. */
  const serve = (req: IncomingMessage, res: ServerResponse, url: URL, path: string, fail: (err: unknown) => void): void => {
    if (path === '/v1/events') {
      if (req.method === 'GET') events.handle(req, res);
      else refuseMethod(res, req.method, path, 'GET');
      return;
    }
    if (path === '/metrics' && opts.metrics && (req.method === 'GET' || req.method === 'HEAD')) {
      res.statusCode = 200;
      res.setHeader('content-type', PROMETHEUS_CONTENT_TYPE);
      res.setHeader('cache-control', 'no-store');
      res.end(opts.metrics.render());
      return;
    }
    const route = Object.hasOwn(table, path) ? table[path] : undefined;
    if (!route)
      throw new NotFoundError(
        `no such endpoint: ${req.method} ${path} (try /healthz, /v1/services, /v1/agents, /v1/stats, /v1/config, /v1/config/history, /v1/events, /metrics, /ui/)`,
      );
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      refuseMethod(res, req.method, path, 'GET, HEAD');
      return;
    }
    const body = route(url.searchParams);
    // A route that reads the store (the config history) answers later; the rest answer now.
    if (body instanceof Promise) body.then((b) => sendJson(res, 200, b), fail);
    else sendJson(res, 200, body);
  };

  const server = createServer(handle);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        feed.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
