/**
 * Wires one agent: config view <- discovery client (+ persisted snapshot),
 * local registrations -> registration sync, the proxy's inbound and outbound
 * listeners, and the admin API. startAgent never waits for the control
 * plane: the agent serves what it has and keeps reconnecting.
 */
import os from 'node:os';
import { type AgentInfo, Counter, Defaults, MetricsRegistry, messageOf } from '@weft/shared';
import { type AgentOptions, detectAdvertiseAddress, ensureDataDir, loadAgentId, validateAgentOptions } from './config.js';
import type { Listener } from './contracts.js';
import { combineCompanions } from './discovery/companions.js';
import { ConfigView } from './discovery/config-view.js';
import { type CompanionHandler, DiscoveryClient } from './discovery/discovery-client.js';
import { ExternalView } from './discovery/external-view.js';
import { IdleSubscriptions } from './discovery/idle-subscriptions.js';
import { RegistrationSync } from './discovery/registration-sync.js';
import { SnapshotStore } from './discovery/snapshot-store.js';
import {
  type AgentIdentity,
  CertificateRenewal,
  certificatesStatus,
  controlPlaneCredentials,
  loadOrEnrol,
  ServiceCertificates,
  TRUST_SUBSCRIPTIONS,
  trustResourceHandler,
} from './identity/index.js';
import { type AdminServer, startAdminServer } from './local-api/admin-server.js';
import { interfaceAddresses } from './local-api/host-addresses.js';
import { LocalRegistry } from './local-api/local-registry.js';
import { LocalServices } from './local-api/local-services.js';
import { LocalUpstreams } from './local-api/local-upstreams.js';
import { ProxyCredentials } from './local-api/proxy-credentials.js';
import { AccessView } from './policy/policy-access-view.js';
import { explainRequest, parseExplainQuery } from './policy/policy-explain.js';
import { OutboundPolicy } from './policy/policy-outbound.js';
import { PolicyView } from './policy/policy-view.js';
import { AccessLog } from './proxy/access-log.js';
import { AccessLogWriter } from './proxy/access-log-writer.js';
import { EdgeStatsTable } from './proxy/edge-stats.js';
import { startInboundListener, startOutboundListener } from './proxy/index.js';
import { MeshTls } from './proxy/mesh-tls.js';
import { LocalCallers } from './proxy/proxy-auth.js';
import { ProxyMetrics } from './proxy/proxy-metrics.js';
import { resolveResilience } from './proxy/resilience-options.js';
import { DEFAULT_STATS_INTERVAL_MS, StatsReporter } from './telemetry/stats-reporter.js';

export const AGENT_VERSION = '0.1.0';

export interface Agent {
  readonly agentId: string;
  /** The agent's certificate identity and deny list; undefined with --insecure. */
  readonly identity: AgentIdentity | undefined;
  readonly advertiseAddress: string;
  readonly adminPort: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
  /**
   * Graceful stop: deregisters this agent's instances at the control plane
   * (bounded ~2 s), stops health checks, closes the listeners (draining
   * in-flight requests), then the stream and the admin API. Idempotent.
   */
  close(): Promise<void>;
  /** Opens the access-log file again (after logrotate moved it: the CLI's SIGHUP); no-op without one, or on stdout. */
  reopenAccessLog(): void;
}

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  validateAgentOptions(opts);
  const accessLogDropped = new Counter(
    'weft_access_log_dropped_total',
    'Access-log lines dropped: the buffer was full (a slow disk or reader) or a write failed.',
  );
  accessLogDropped.inc(0); // rendered as 0 from the start, not only after the first drop
  // Opened first: a path that cannot be opened fails the start before a join token is spent.
  const accessLogWriter =
    opts.accessLog &&
    new AccessLogWriter({
      target: opts.accessLog.target,
      logger: opts.logger,
      maxBufferBytes: opts.accessLog.maxBufferBytes,
      onDropped: (n) => accessLogDropped.inc(n),
    });
  const accessLog = accessLogWriter && new AccessLog(accessLogWriter, opts.accessLog?.sampleRate ?? 1);
  try {
    return await startWithAccessLog(opts, accessLog, accessLogWriter, accessLogDropped);
  } catch (err) {
    await accessLogWriter?.close();
    throw err;
  }
}

async function startWithAccessLog(
  opts: AgentOptions,
  accessLog: AccessLog | undefined,
  accessLogWriter: AccessLogWriter | undefined,
  accessLogDropped: Counter,
): Promise<Agent> {
  await ensureDataDir(opts.dataDir);
  let agentId = await loadAgentId(opts.dataDir, opts.agentId, opts.logger);
  let identity: AgentIdentity | undefined;
  if (opts.insecure) {
    opts.logger.warn(
      'INSECURE MODE: plaintext to the control plane and between agents (no mTLS on the mesh hop), no certificate; local experiments only.',
      { insecure: true },
    );
  } else {
    identity = await loadOrEnrol({
      dataDir: opts.dataDir,
      controlPlane: opts.controlPlane,
      agentId,
      agentIdExplicit: opts.agentId !== undefined,
      joinToken: opts.joinToken,
      logger: opts.logger,
    });
    agentId = identity.current().agentId;
  }
  const credentials = identity && controlPlaneCredentials(identity);
  const logger = opts.logger.child({ agent: agentId });
  const advertiseAddress = opts.advertiseAddress ?? detectAdvertiseAddress();
  const zone = opts.zone ?? '';

  const policies = new PolicyView(logger);
  const outboundPolicy = new OutboundPolicy(policies);
  const externals = new ExternalView({ subscribeWaitMs: opts.subscribeWaitMs, logger });
  const companion = combineCompanions([policies, externals]);
  const view = new ConfigView({ subscribeWaitMs: opts.subscribeWaitMs, logger, companion });
  const snapshots = new SnapshotStore(opts.dataDir, view, logger, companion);
  const seeded = await snapshots.load();
  view.seed(seeded);
  if (seeded.length > 0) logger.info('loaded persisted config', { services: seeded.length });
  snapshots.follow();

  const registry = new LocalRegistry(opts.dataDir, logger);
  const persisted = await registry.load();
  // Local apps' proxy credentials (hashes; docs/security.md "Local apps"); none under --insecure.
  const proxyCredentials = identity && new ProxyCredentials(opts.dataDir, logger);
  await proxyCredentials?.load(new Map(persisted.map((spec) => [spec.id, spec.name])));

  // Everything started so far, closed in reverse if a later step fails.
  const cleanup: (() => Promise<void>)[] = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    // One registry for the whole agent, served by the admin API at /metrics.
    const metricsRegistry = new MetricsRegistry();
    metricsRegistry.register(accessLogDropped);
    const resilience = resolveResilience(opts.resilience);
    // A certificate per hosted service (spiffe://<td>/svc/<name>), asked for once the control plane holds its registration.
    const serviceCerts =
      identity && credentials
        ? new ServiceCertificates({ controlPlane: opts.controlPlane, credentials, logger, renewAt: opts.renewAt, dataDir: opts.dataDir })
        : undefined;
    cleanup.push(async () => serviceCerts?.close());
    // The certificates of the persisted registrations' services, held from the start (static stability, docs/security.md).
    if (identity && serviceCerts)
      await serviceCerts.restore(
        identity.current().trustDomain,
        persisted.map((spec) => spec.name),
      );
    // Agent to agent is mutual TLS, always (docs/security.md); --insecure keeps the plaintext hop for local experiments.
    const tls = identity && new MeshTls({ identity, logger, services: serviceCerts });
    cleanup.push(async () => tls?.close());
    const accessView = new AccessView(policies, view);
    // On by default; --insecure has no identities at all, so there it is off unless asked for (and then refuses everything).
    const enforceAccess = opts.access?.enforce ?? !opts.insecure;
    if (!enforceAccess)
      logger.warn('access policy NOT enforced here: AccessPolicy and the mesh default are ignored', {
        why: opts.insecure ? '--insecure (no identities)' : '--no-access-enforcement',
      });
    else if (!tls) logger.warn('access policy enforced with no authenticated source (--insecure): requests to local instances are refused');
    const callers = identity && proxyCredentials && new LocalCallers(identity.current().trustDomain, agentId, proxyCredentials);
    // Golden metrics of outbound requests, reported to the control plane (telemetry/stats-reporter.ts); off with interval 0.
    const statsIntervalMs = opts.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    const edges = statsIntervalMs > 0 ? new EdgeStatsTable() : undefined;
    const proxyOptions = {
      tls,
      agentId,
      endpoints: view,
      local: registry,
      logger,
      requestTimeoutMs: opts.requestTimeoutMs,
      resilience,
      metrics: new ProxyMetrics(metricsRegistry, { agentId, edges }),
      access: { enforce: enforceAccess, policy: accessView },
      callers,
      tunnels: opts.tunnels,
      accessLog,
    };
    const inbound: Listener = await startInboundListener({
      ...proxyOptions,
      host: opts.inboundHost ?? advertiseAddress,
      port: opts.inboundPort,
    });
    cleanup.push(() => inbound.close());
    const outbound = await startOutboundListener({
      ...proxyOptions,
      host: '127.0.0.1',
      port: opts.outboundPort,
      policy: outboundPolicy,
      externals,
    });
    cleanup.push(() => outbound.close());
    const upstreams = new LocalUpstreams(opts.dataDir, outbound.upstreams, logger);

    const agentInfo: AgentInfo = {
      agentId,
      hostname: os.hostname(),
      address: advertiseAddress,
      inboundPort: inbound.port,
      zone,
      version: AGENT_VERSION,
    };
    const trustHandler = identity && trustResourceHandler(identity, opts.dataDir, logger);
    const discovery = new DiscoveryClient({
      controlPlane: opts.controlPlane,
      agent: agentInfo,
      view,
      logger,
      companion: trustHandler ? bothCompanions(companion, trustHandler) : companion,
      credentials,
      alwaysSubscribe: identity ? TRUST_SUBSCRIPTIONS : [],
    });
    externals.attach(discovery);
    // Pinned: the services of local instances (inbound access decisions) and of local upstream ports.
    const idle = new IdleSubscriptions(
      view.idleTarget(),
      opts.subscriptionIdleTimeoutMs ?? Defaults.subscriptionIdleTimeoutMs,
      (s) => registry.list().some((e) => e.instance.service === s) || upstreams.list().some((u) => u.service === s),
    );
    idle.start();
    cleanup.push(async () => idle.close());
    cleanup.push(() => discovery.close());
    const stats =
      edges &&
      new StatsReporter({ table: edges, agentId, controlPlane: opts.controlPlane, credentials, intervalMs: statsIntervalMs, logger });
    cleanup.push(async () => stats?.close());
    const renewal =
      identity && credentials
        ? new CertificateRenewal({
            identity,
            dataDir: opts.dataDir,
            controlPlane: opts.controlPlane,
            credentials,
            logger,
            renewAt: opts.renewAt,
          })
        : undefined;
    cleanup.push(async () => renewal?.close());
    const sync = new RegistrationSync({
      controlPlane: opts.controlPlane,
      agent: agentInfo,
      source: registry,
      logger,
      isConnected: () => discovery.isConnected(),
      credentials,
    });
    cleanup.push(() => sync.close(false));
    const services = new LocalServices({ agentId, zone, registry, sync, logger, credentials: proxyCredentials });
    if (serviceCerts) {
      const unwatch = registry.onChange(() =>
        serviceCerts.setServices(
          registry.hostedServices(),
          registry.list().map((e) => e.instance.service),
        ),
      );
      cleanup.push(async () => unwatch());
    }
    cleanup.push(async () => services.close());
    discovery.onConnect(() => void sync.fullSync().catch(() => {}));

    let listenersUp = true;
    const admin: AdminServer = await startAdminServer({
      port: opts.adminPort,
      agentId,
      services,
      view,
      logger,
      listenersUp: () => listenersUp,
      proxyPorts: { outbound: outbound.port, inbound: inbound.port },
      allowRemoteRegistrations: opts.allowRemoteRegistrations,
      hostAddresses: () => [advertiseAddress, ...(opts.inboundHost ? [opts.inboundHost] : []), ...interfaceAddresses()],
      metrics: metricsRegistry,
      externals,
      upstreams,
      certificates: () => certificatesStatus(identity?.current(), serviceCerts?.list() ?? []),
      policy: {
        explain: async (params) => {
          const query = parseExplainQuery(params);
          const explained = await explainRequest(
            query,
            outboundPolicy,
            view,
            {
              requestTimeoutMs: opts.requestTimeoutMs,
              perTryTimeoutMs: resilience.perTryTimeoutMs,
              maxRetries: resilience.maxRetries,
            },
            { view: accessView, enforced: enforceAccess },
          );
          // An explain of a service the mesh does not have leaves no subscription behind, and says so.
          const service = (explained.request as { service?: string } | undefined)?.service;
          if (service === undefined || !view.isNotFound(service)) return explained;
          view.forget([service], 'explained, and unknown to the mesh');
          return { ...explained, unknownService: service };
        },
        dump: () => policies.dump(),
      },
    });
    cleanup.push(() => admin.close());
    // Restored once every port is known, so an earlier run's registration of one of them is dropped, not served.
    services.restore(
      persisted.filter((spec) => {
        try {
          admin.registrationTargets.check(spec);
          return true;
        } catch (err) {
          logger.warn('skipping persisted registration', { instanceId: spec.id, error: messageOf(err) });
          return false;
        }
      }),
    );
    await upstreams.restore();
    const started = {
      spiffeId: identity?.current().spiffeId,
      certExpiresAtMs: identity?.current().notAfterMs,
      agentId,
      adminPort: admin.port,
      outboundPort: outbound.port,
      inboundPort: inbound.port,
      advertiseAddress,
      meshHop: tls ? 'mTLS (TLS 1.3)' : 'plaintext (--insecure)',
    };
    // `ready` is logged when GET /ready turns 200 (config held: a stream to the control plane, or the persisted
    // snapshot), never before; until then `listening` carries the same fields (the ports, for scripts and tests).
    const readyNow = () => view.connection().source === 'snapshot' || view.connection().connected;
    let readyLogged = false;
    const logReady = () => {
      if (readyLogged || !readyNow()) return;
      readyLogged = true;
      logger.info('ready', { ...started, source: view.connection().source });
    };
    discovery.onConnect(logReady);
    discovery.start();
    renewal?.start();
    stats?.start();
    if (readyNow()) logReady();
    else logger.info('listening', { ...started, waitingFor: 'the control plane (GET /ready answers 503 until it connects)' });

    let closing: Promise<void> | undefined;
    const close = async () => {
      logger.info('agent stopping');
      services.close();
      await sync.close(true, 2_000);
      listenersUp = false;
      view.close();
      externals.close();
      await Promise.all(
        [inbound.close(), outbound.close()].map((p) => p.catch((err) => logger.warn('listener close failed', { error: messageOf(err) }))),
      );
      renewal?.close();
      serviceCerts?.close();
      tls?.close();
      await accessLogWriter?.close();
      // After the listeners drained: the last requests are in the last report.
      await stats?.close();
      await discovery.close();
      await Promise.all([snapshots.flush(), registry.flush(), proxyCredentials?.flush()]);
      await admin.close();
      logger.info('agent stopped');
    };
    return {
      agentId,
      identity,
      advertiseAddress,
      adminPort: admin.port,
      outboundPort: outbound.port,
      inboundPort: inbound.port,
      close: () => {
        closing ??= close();
        return closing;
      },
      reopenAccessLog: () => accessLogWriter?.reopen(),
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Two handlers of disjoint resource types as one companion of the discovery client. */
function bothCompanions(a: CompanionHandler, b: CompanionHandler): CompanionHandler {
  return {
    owns: (name) => a.owns(name) || b.owns(name),
    apply: (resources, removed, notFound) => [
      ...a.apply(
        resources.filter((r) => a.owns(r.name)),
        removed.filter((n) => a.owns(n)),
        notFound.filter((n) => a.owns(n)),
      ),
      ...b.apply(
        resources.filter((r) => b.owns(r.name)),
        removed.filter((n) => b.owns(n)),
        notFound.filter((n) => b.owns(n)),
      ),
    ],
  };
}
