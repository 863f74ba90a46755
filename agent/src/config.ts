/**
 * The agent's typed options and the defaults it works out for itself: the
 * address other agents reach it on, and a stable agent id persisted in the
 * data dir (so a restarted agent keeps its identity and its lease).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import {
  type Logger,
  messageOf,
  parseAddressAllowance,
  ValidationError,
  validateAddress,
  validateInstanceId,
  validateZone,
} from '@weft/shared';
import { readFileIfExists, writeFileAtomic } from './discovery/atomic-file.js';
import { addressList, type ControlPlaneAddresses, MAX_CONTROL_PLANE_ADDRESSES } from './discovery/control-plane-addresses.js';
import type { RemoteRegistrations } from './local-api/registration-target.js';
import { type ResilienceOptions, resolveResilience } from './proxy/resilience-options.js';
import type { TunnelOptions } from './proxy/tunnel-registry.js';

export interface AgentOptions {
  /** The control plane's gRPC address, or the addresses of its replicas (the agent uses one at a time). */
  controlPlane: ControlPlaneAddresses;
  /** Created if missing; holds agent-id, services.json and config-snapshot.json. */
  dataDir: string;
  /** Address other agents use for the mesh hop; default: first non-loopback IPv4, else 127.0.0.1. */
  advertiseAddress?: string;
  /** Bind address of the inbound listener; default: advertiseAddress. */
  inboundHost?: string;
  /** Admin API port on 127.0.0.1 (0 = OS picks). */
  adminPort: number;
  /** Outbound listener port on 127.0.0.1 (0 = OS picks). */
  outboundPort: number;
  /** Inbound listener port (0 = OS picks). */
  inboundPort: number;
  /** Default: persisted in <dataDir>/agent-id, else `${hostname}-${6 hex}`. */
  agentId?: string;
  zone?: string;
  requestTimeoutMs: number;
  subscribeWaitMs: number;
  /**
   * Unsubscribe from a service this agent has not called for this long
   * (discovery/idle-subscriptions.ts); 0 = never. Default 1 h.
   */
  subscriptionIdleTimeoutMs?: number;
  logger: Logger;
  /**
   * Addresses other than this host's that local registrations may point at:
   * `'any'`, or IP addresses and CIDR blocks. Default: none (only loopback,
   * `localhost`, the host's interface addresses and the advertise address).
   */
  allowRemoteRegistrations?: RemoteRegistrations;
  /** Retry, outlier and circuit-breaking settings; unset fields keep the defaults (agent/src/proxy/resilience-options.ts). */
  resilience?: Partial<ResilienceOptions>;
  /**
   * Access policy enforcement (docs/access-policy.md). On by default: every
   * request handed to a local instance is decided by the destination's
   * AccessPolicy or the mesh default, with the source identity from the
   * caller's certificate (mesh hop) or the local app's proxy credential.
   * `weft agent --no-access-enforcement` turns it off (then nothing is
   * decided or counted). Under --insecure no source is authenticated, so
   * the default there is off (enforcing would refuse every request to a
   * local instance); `enforce: true` does that all the same.
   */
  access?: { enforce: boolean };
  /** Enrols with this join token when the data dir holds no (valid) certificate. */
  joinToken?: string;
  /** Plaintext to the control plane, no certificate: local experiments only (logged loudly). */
  insecure?: boolean;
  /** Fraction of a certificate's life after which it is renewed; default 2/3. */
  renewAt?: number;
  /** Upgraded (WebSocket) and TCP connections: idle and absolute timeouts, drain after deregistration (proxy/tunnel-registry.ts). */
  tunnels?: Partial<TunnelOptions>;
  /**
   * The access log (proxy/access-log.ts): 'stdout' or a file opened for
   * append (reopened by Agent.reopenAccessLog, the CLI's SIGHUP); `sampleRate`
   * 0..1, default 1. Off when absent.
   */
  accessLog?: { target: string; sampleRate?: number; maxBufferBytes?: number };
  /** How often the golden metrics are reported to the control plane (telemetry/stats-reporter.ts); default 5 s, 0 = not aggregated, not reported. */
  statsIntervalMs?: number;
}

export const AGENT_ID_FILE = 'agent-id';

/** Fails with a ValidationError naming the option when one is out of range. */
export function validateAgentOptions(o: AgentOptions): void {
  const port = (v: number, field: string) => {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new ValidationError(field, 'must be 0..65535 (0 = any free port)');
  };
  port(o.adminPort, 'adminPort');
  port(o.outboundPort, 'outboundPort');
  port(o.inboundPort, 'inboundPort');
  const controlPlanes = addressList(o.controlPlane);
  if (controlPlanes.length === 0 || controlPlanes.length > MAX_CONTROL_PLANE_ADDRESSES)
    throw new ValidationError('controlPlane', `must list 1..${MAX_CONTROL_PLANE_ADDRESSES} addresses`);
  controlPlanes.forEach((cp, i) => {
    const field = Array.isArray(o.controlPlane) ? `controlPlane[${i}]` : 'controlPlane';
    if (!Number.isInteger(cp.port) || cp.port < 1 || cp.port > 65535) throw new ValidationError(`${field}.port`, 'must be 1..65535');
    validateAddress(cp.host, `${field}.host`);
  });
  if (o.advertiseAddress !== undefined) validateAddress(o.advertiseAddress, 'advertiseAddress');
  if (o.inboundHost !== undefined) validateAddress(o.inboundHost, 'inboundHost');
  if (o.agentId !== undefined) validateInstanceId(o.agentId, 'agentId');
  if (o.zone !== undefined) validateZone(o.zone, 'zone');
  if (!(o.requestTimeoutMs > 0)) throw new ValidationError('requestTimeoutMs', 'must be a positive number of milliseconds');
  if (!(o.subscribeWaitMs > 0)) throw new ValidationError('subscribeWaitMs', 'must be a positive number of milliseconds');
  if (!o.dataDir) throw new ValidationError('dataDir', 'is required');
  if (o.resilience !== undefined) resolveResilience(o.resilience);
  if (o.accessLog !== undefined) {
    if (!o.accessLog.target) throw new ValidationError('accessLog.target', "must be 'stdout' or a file path");
    const rate = o.accessLog.sampleRate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new ValidationError('accessLog.sampleRate', 'must be a number from 0 to 1');
  }
  if (o.statsIntervalMs !== undefined && !(Number.isFinite(o.statsIntervalMs) && o.statsIntervalMs >= 0))
    throw new ValidationError('statsIntervalMs', 'must be a number of milliseconds >= 0 (0 = off)');
  if (o.statsIntervalMs !== undefined && o.statsIntervalMs > 0 && o.statsIntervalMs < 100)
    throw new ValidationError('statsIntervalMs', 'must be at least 100 ms (or 0 = off)');
  for (const [k, v] of Object.entries(o.tunnels ?? {})) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0))
      throw new ValidationError(`tunnels.${k}`, 'must be a number of milliseconds >= 0 (0 = never)');
  }
  if (o.allowRemoteRegistrations !== undefined) parseAddressAllowance(o.allowRemoteRegistrations, 'allowRemoteRegistrations');
}

/** The first non-internal IPv4 address of this host, else 127.0.0.1. */
export function detectAdvertiseAddress(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}

/** `${hostname}-${6 hex}`, with the hostname reduced to characters an id may hold. */
export function generateAgentId(): string {
  const host =
    os
      .hostname()
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 60) || 'agent';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/**
 * The agent id: `explicit` when given; else the one persisted in
 * `<dataDir>/agent-id`; else a new one, persisted for the next start.
 */
export async function loadAgentId(dataDir: string, explicit: string | undefined, logger: Logger): Promise<string> {
  if (explicit) return explicit;
  const file = join(dataDir, AGENT_ID_FILE);
  const stored = (await readFileIfExists(file))?.trim();
  if (stored) {
    try {
      return validateInstanceId(stored, file);
    } catch (err) {
      logger.warn('ignoring invalid persisted agent id', { file, error: messageOf(err) });
    }
  }
  const id = generateAgentId();
  await writeFileAtomic(file, `${id}\n`);
  return id;
}

export async function ensureDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
}
