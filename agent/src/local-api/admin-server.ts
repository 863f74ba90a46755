/**
 * The agent's admin/local API (loopback only, node:http):
 *
 *   POST   /v1/services        register or update a local instance (201; with the app's proxy credential
 *                              and proxyUrl, a new one on each registration: docs/security.md "Local apps")
 *   GET    /v1/services        local registrations with health and sync state
 *   GET    /v1/services/{id}   one registration
 *   DELETE /v1/services/{id}   deregister (200, or 404)
 *   GET    /ready              200 once listeners are up and config is held (from the control plane, or a persisted snapshot: "source"); 503 before
 *   GET    /config             the config the agent holds, subscriptions, connection state
 *   GET    /healthz            200 while the process runs
 *   GET    /metrics            Prometheus text: proxy requests, latency, retries, ejections, circuit breaking
 *   GET    /v1/explain         what this agent does with a request (agent/src/policy/policy-explain.ts)
 *   GET    /v1/policies        the traffic policies held, with versions and rejections
 *   GET    /v1/certificates    the agent's certificate and each hosted service's (SPIFFE ID, serial, issuer,
 *                              validity; identity/certificate-status.ts); never a key
 *   GET    /v1/upstreams       local upstream ports (TCP services), POST to add one, DELETE /v1/upstreams/{service}
 *                              to remove it (local-upstreams.ts)
 *
 * Bad input gets a 4xx JSON answer naming the field; nothing a client sends
 * can crash the agent. Before any route runs, admin-guard.ts refuses what a
 * web page could make a local browser send (DNS rebinding, cross-site
 * writes), and a registration may not point at the agent's own ports nor,
 * unless allowed, at another host (registration-target.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, MeshError, messageOf, PROMETHEUS_CONTENT_TYPE, parseLocalServiceSpec, ValidationError } from '@weft/shared';
import type { ConfigView } from '../discovery/config-view.js';
import { RequestLog } from '../proxy/request-log.js';
import { refuseAdminRequest } from './admin-guard.js';
import { BodyTooLargeError, MAX_BODY_BYTES, readBody, sendError, sendJson } from './http-json.js';
import { healthCheckToJson, type LocalRegistration } from './local-registry.js';
import type { LocalServices } from './local-services.js';
import { type LocalUpstreams, upstreamHandlers } from './local-upstreams.js';
import { RegistrationExistsError } from './registration-changes.js';
import { RegistrationTargets, type RemoteRegistrations } from './registration-target.js';

export interface AdminServerOptions {
  host?: string;
  port: number;
  agentId: string;
  services: LocalServices;
  view: ConfigView;
  logger: Logger;
  /** Whether the proxy listeners are accepting (part of readiness). */
  listenersUp: () => boolean;
  /** The agent's metrics (a MetricsRegistry from @weft/shared), served at /metrics. */
  metrics?: { render(): string };
  /** Hosts outside the mesh the agent knows declared or not (ExternalService), shown in /config. */
  externals?: { dump(): Record<string, unknown> };
  /** Traffic policy: explain a request (throws ValidationError naming the parameter) and list what is held. */
  policy?: { explain(params: URLSearchParams): Promise<Record<string, unknown>>; dump(): Record<string, unknown> };
  /**
   * The agent's proxy listener ports, which a registration may not point at
   * (the admin port itself is always refused).
   */
  proxyPorts?: { outbound?: number; inbound?: number };
  /** Remote addresses registrations may use (`--allow-remote-registrations`); default none. */
  allowRemoteRegistrations?: RemoteRegistrations;
  /** This host's addresses besides loopback; default: its interfaces' (os.networkInterfaces()). */
  hostAddresses?: () => readonly string[];
  /** The certificates the agent holds (identity/certificate-status.ts); absent: the route answers 404. */
  certificates?: () => object;
  /** Local upstream ports for TCP services (`weft upstream`); absent: the routes answer 404. */
  upstreams?: LocalUpstreams;
}

export interface AdminServer {
  readonly port: number;
  readonly address: string;
  /** Where registrations may point; the agent checks restored registrations with it too. */
  readonly registrationTargets: RegistrationTargets;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, param: string) => Promise<void> | void;

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const logger = options.logger.child({ component: 'admin' });
  // The admin port is known once listening (it may be 0 until then); routes only run after that.
  let adminPort = 0;
  const targets = new RegistrationTargets({
    ownPorts: () => ({ admin: adminPort, ...options.proxyPorts }),
    allowRemote: options.allowRemoteRegistrations,
    hostAddresses: options.hostAddresses,
  });
  const routes = makeRoutes(options, targets);
  // A page can make a browser send refused requests as fast as it likes: a few lines per cause and window, then a count.
  const refusals = new RequestLog(logger);
  const server = http.createServer((req, res) => {
    const refused = refuseAdminRequest(req);
    if (refused) {
      refusals.log('admin request refused', refused.code, {
        method: req.method,
        url: req.url,
        header: refused.header,
        peer: req.socket.remoteAddress,
      });
      // Closing: the rest of a refused request's body is not worth reading.
      sendError(res, refused.status, refused.code, refused.message, { header: refused.header }, { connection: 'close' });
      return;
    }
    dispatch(routes, req, res).catch((err) => {
      logger.error('admin request failed', { method: req.method, url: req.url, error: messageOf(err) });
      sendError(res, 500, 'internal', `internal error: ${messageOf(err)}`);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  adminPort = address.port;
  return {
    port: address.port,
    address: address.address,
    registrationTargets: targets,
    close: () =>
      new Promise<void>((resolve) => {
        refusals.close();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Admin calls are short; do not let a stuck client hold shutdown.
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      }),
  };
}

interface Route {
  method: string;
  /** Exact path, or a prefix ending in '/' whose remainder is the parameter. */
  path: string;
  handler: Handler;
}

function makeRoutes(o: AdminServerOptions, targets: RegistrationTargets): Route[] {
  return [
    { method: 'GET', path: '/healthz', handler: (_q, res) => sendJson(res, 200, { status: 'ok', agentId: o.agentId }) },
    { method: 'GET', path: '/ready', handler: (_q, res) => ready(o, res) },
    { method: 'GET', path: '/metrics', handler: (_q, res) => metrics(o, res) },
    {
      method: 'GET',
      path: '/config',
      handler: (_q, res) => sendJson(res, 200, { agentId: o.agentId, ...o.view.dump(), externals: o.externals?.dump() ?? {} }),
    },
    {
      method: 'GET',
      path: '/v1/services',
      handler: (_q, res) => sendJson(res, 200, { agentId: o.agentId, services: o.services.list().map(describe) }),
    },
    { method: 'POST', path: '/v1/services', handler: (req, res) => register(o, targets, req, res) },
    {
      method: 'GET',
      path: '/v1/policies',
      handler: (_q, res) => sendJson(res, 200, { agentId: o.agentId, policies: o.policy?.dump() ?? {} }),
    },
    {
      method: 'GET',
      path: '/v1/explain',
      handler: async (req, res) => {
        if (!o.policy) return sendError(res, 404, 'not_found', 'explain is not available on this agent');
        try {
          sendJson(res, 200, { agentId: o.agentId, ...(await o.policy.explain(new URL(req.url ?? '/', 'http://admin').searchParams)) });
        } catch (err) {
          if (err instanceof ValidationError) sendError(res, 400, 'invalid_argument', err.message, { field: err.field });
          else throw err;
        }
      },
    },
    {
      method: 'GET',
      path: '/v1/certificates',
      handler: (_q, res) => {
        if (!o.certificates) return sendError(res, 404, 'not_found', 'certificates are not available on this agent');
        sendJson(res, 200, { agentId: o.agentId, ...o.certificates() });
      },
    },
    ...(o.upstreams === undefined ? [] : upstreamRoutes(o.agentId, o.upstreams)),
    {
      method: 'GET',
      path: '/v1/services/',
      handler: (_q, res, id) => {
        const found = o.services.list().find((e) => e.spec.id === id);
        if (found) sendJson(res, 200, describe(found));
        else sendError(res, 404, 'not_found', `instance "${id}" is not registered on this agent`);
      },
    },
    {
      method: 'DELETE',
      path: '/v1/services/',
      handler: async (_q, res, id) => {
        let outcome: { removed: boolean; synced: boolean };
        try {
          outcome = await o.services.deregister(id);
        } catch (err) {
          if (err instanceof MeshError) return sendError(res, err.httpStatus, err.code, err.message);
          throw err;
        }
        const { removed, synced } = outcome;
        if (removed) sendJson(res, 200, { id, removed: true, synced });
        else sendError(res, 404, 'not_found', `instance "${id}" is not registered on this agent`);
      },
    },
  ];
}

function upstreamRoutes(agentId: string, u: LocalUpstreams): Route[] {
  return [
    { method: 'GET', path: '/v1/upstreams', handler: (_q, res) => upstreamHandlers.list(u, agentId, res) },
    { method: 'POST', path: '/v1/upstreams', handler: (req, res) => upstreamHandlers.add(u, req, res) },
    { method: 'DELETE', path: '/v1/upstreams/', handler: (_q, res, service) => upstreamHandlers.remove(u, service, res) },
  ];
}

async function dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  let pathMatched = false;
  for (const route of routes) {
    const isPrefix = route.path.endsWith('/');
    let param = '';
    if (isPrefix) {
      if (!path.startsWith(route.path) || path.length === route.path.length) continue;
      try {
        param = decodeURIComponent(path.slice(route.path.length));
      } catch {
        sendError(res, 400, 'invalid_argument', 'id: invalid URL encoding', { field: 'id' });
        return;
      }
      if (param.includes('/')) continue;
    } else if (path !== route.path) continue;
    pathMatched = true;
    if (route.method === req.method) {
      await route.handler(req, res, param);
      return;
    }
  }
  if (pathMatched) sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${path}`);
  else sendError(res, 404, 'not_found', `no such endpoint: ${req.method} ${path}`);
}

async function register(o: AdminServerOptions, targets: RegistrationTargets, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      sendError(res, 413, 'payload_too_large', err.message, { field: '', limitBytes: MAX_BODY_BYTES }, { connection: 'close' });
    } else sendError(res, 400, 'invalid_argument', `body: could not read: ${messageOf(err)}`, { field: '' });
    return;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch (err) {
    sendError(res, 400, 'invalid_argument', `body: invalid JSON (${messageOf(err)})`, { field: '' });
    return;
  }
  try {
    const spec = parseLocalServiceSpec(raw);
    targets.check(spec);
    // `?replace=false`: refuse (409) a registration that would change one held under the same id.
    const replace = new URL(req.url ?? '/', 'http://admin').searchParams.get('replace') !== 'false';
    const result = await o.services.register(spec, { replace });
    // The app's proxy URL with its credential (docs/security.md "Local apps"): HTTP_PROXY for any proxy-aware client.
    const outbound = o.proxyPorts?.outbound;
    const proxyUrl =
      result.credential === undefined || outbound === undefined
        ? undefined
        : `http://${result.service}:${result.credential}@127.0.0.1:${outbound}`;
    sendJson(res, 201, { ...result, ...(proxyUrl !== undefined && { proxyUrl }) });
  } catch (err) {
    if (err instanceof ValidationError) sendError(res, 400, 'invalid_argument', err.message, { field: err.field });
    else if (err instanceof RegistrationExistsError)
      sendError(res, 409, err.code, err.message, { instanceId: err.instanceId, changes: err.changes });
    else if (err instanceof MeshError) sendError(res, err.httpStatus, err.code, err.message);
    else throw err;
  }
}

function metrics(o: AdminServerOptions, res: ServerResponse): void {
  const body = o.metrics?.render() ?? '';
  res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function ready(o: AdminServerOptions, res: ServerResponse): void {
  const conn = o.view.connection();
  const listeners = o.listenersUp();
  // Once it holds config from the control plane, an agent stays ready through
  // control-plane outages (it keeps serving what it has). An agent that starts
  // while the control plane is unreachable is ready on its persisted snapshot
  // (static stability), and says so with "source": "snapshot".
  const configured = conn.connected || conn.responsesReceived > 0 || conn.source === 'snapshot';
  const body = {
    agentId: o.agentId,
    listeners,
    connected: conn.connected,
    source: conn.source,
    responsesReceived: conn.responsesReceived,
  };
  if (listeners && configured) sendJson(res, 200, { ready: true, ...body });
  else sendJson(res, 503, { ready: false, reason: listeners ? 'control plane not connected' : 'listeners not up', ...body });
}

function describe(e: LocalRegistration): Record<string, unknown> {
  const i = e.instance;
  return {
    id: e.spec.id,
    service: i.service,
    address: i.address,
    port: i.port,
    zone: i.zone,
    weight: i.weight,
    protocol: i.protocol,
    tags: i.tags,
    metadata: i.metadata,
    health: i.health,
    healthOutput: e.healthOutput,
    check: e.spec.health ? healthCheckToJson(e.spec.health) : null,
    synced: e.synced,
    syncError: e.syncError ?? null,
    registeredAt: e.registeredAt,
  };
}
