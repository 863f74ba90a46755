/**
 * Parse-and-validate of raw input (JSON bodies, gRPC messages) into typed
 * domain objects, done once at the edge. Every error names the field path,
 * e.g. `instances[0].port: must be 1..65535`.
 */
import { isIP } from 'node:net';
import { Defaults } from './defaults.js';
import { parseDuration } from './duration.js';
import { ValidationError } from './errors.js';
import {
  HEALTH_VALUES,
  type Health,
  type HealthCheckSpec,
  type InstanceSpec,
  type LocalServiceSpec,
  PROTOCOLS,
  type Protocol,
} from './types.js';

export const Limits = {
  serviceName: 63,
  instanceId: 128,
  zone: 64,
  tags: 32,
  tag: 128,
  metadataKeys: 64,
  metadataKey: 128,
  metadataValue: 1024,
  metadataBytes: 8192,
  weightMax: 10_000,
} as const;

const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const ZONE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9._:=/-]*$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const at = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `a string` : `a ${typeof v}`;
}

export function requireObject(v: unknown, path: string): Record<string, unknown> {
  if (!isObject(v)) throw new ValidationError(path, `must be an object, got ${describe(v)}`);
  return v;
}

/** Fails on keys outside `allowed`, so a typo is reported instead of ignored. */
export function rejectUnknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ValidationError(at(path, key), `unknown field (expected one of: ${allowed.join(', ')})`);
  }
}

export function validateServiceName(v: unknown, field: string): string {
  if (v === undefined || v === null || v === '') throw new ValidationError(field, 'is required');
  if (typeof v !== 'string') throw new ValidationError(field, `must be a string, got ${describe(v)}`);
  if (v.length > Limits.serviceName) throw new ValidationError(field, `must be at most ${Limits.serviceName} characters`);
  if (!SERVICE_NAME.test(v)) {
    throw new ValidationError(
      field,
      `invalid service name ${JSON.stringify(v)}: use lowercase letters, digits and '-', starting and ending with a letter or digit`,
    );
  }
  return v;
}

export function validatePort(v: unknown, field: string): number {
  if (v === undefined || v === null) throw new ValidationError(field, 'is required');
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ValidationError(field, `must be an integer, got ${describe(v)}`);
  if (v < 1 || v > 65535) throw new ValidationError(field, 'must be 1..65535');
  return v;
}

export function validateAddress(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw new ValidationError(field, 'must be an IP address or hostname');
  if (isIP(v) === 0 && !HOSTNAME.test(v)) throw new ValidationError(field, `invalid address ${JSON.stringify(v)}`);
  return v;
}

export function validateInstanceId(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw new ValidationError(field, 'is required');
  if (v.length > Limits.instanceId || !INSTANCE_ID.test(v)) {
    throw new ValidationError(
      field,
      `invalid instance id ${JSON.stringify(v)}: up to ${Limits.instanceId} of letters, digits, '.', '_', ':' and '-'`,
    );
  }
  return v;
}

export function validateZone(v: unknown, field: string): string {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') throw new ValidationError(field, `must be a string, got ${describe(v)}`);
  if (v.length > Limits.zone || !ZONE.test(v)) throw new ValidationError(field, `invalid zone ${JSON.stringify(v)}`);
  return v;
}

/** Weight 0 / absent means the default of 1 (proto3 cannot tell them apart). */
export function validateWeight(v: unknown, field: string): number {
  if (v === undefined || v === null || v === 0) return 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > Limits.weightMax) {
    throw new ValidationError(field, `must be an integer 1..${Limits.weightMax}`);
  }
  return v;
}

export function validateTags(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ValidationError(field, `must be an array of strings, got ${describe(v)}`);
  if (v.length > Limits.tags) throw new ValidationError(field, `at most ${Limits.tags} tags`);
  return v.map((t, i) => {
    if (typeof t !== 'string') throw new ValidationError(`${field}[${i}]`, `must be a string, got ${describe(t)}`);
    if (t.length === 0 || t.length > Limits.tag || !TAG.test(t))
      throw new ValidationError(`${field}[${i}]`, `invalid tag ${JSON.stringify(t)}`);
    return t;
  });
}

export function validateMetadata(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new ValidationError(field, `must be an object of string values, got ${describe(v)}`);
  const entries = Object.entries(v);
  if (entries.length > Limits.metadataKeys) throw new ValidationError(field, `at most ${Limits.metadataKeys} keys`);
  let bytes = 0;
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > Limits.metadataKey)
      throw new ValidationError(`${field}.${key.slice(0, 40)}`, `key must be 1..${Limits.metadataKey} characters`);
    if (typeof value !== 'string') throw new ValidationError(`${field}.${key}`, `must be a string, got ${describe(value)}`);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
    if (bytes > Limits.metadataBytes) throw new ValidationError(field, `too large: more than ${Limits.metadataBytes} bytes in total`);
    if (value.length > Limits.metadataValue)
      throw new ValidationError(`${field}.${key}`, `value must be at most ${Limits.metadataValue} characters`);
    out[key] = value;
  }
  return out;
}

export function validateProtocol(v: unknown, field: string): Protocol {
  if (v === undefined || v === null || v === '') return 'http';
  if (typeof v !== 'string' || !PROTOCOLS.includes(v as Protocol)) {
    throw new ValidationError(field, `must be one of ${PROTOCOLS.join(', ')}`);
  }
  return v as Protocol;
}

export function validateHealth(v: unknown, field: string): Health {
  if (v === undefined || v === null || v === '') return 'unknown';
  if (typeof v !== 'string' || !HEALTH_VALUES.includes(v as Health)) {
    throw new ValidationError(field, `must be one of ${HEALTH_VALUES.join(', ')}`);
  }
  return v as Health;
}

/** Validates an instance as the control plane receives it (already in domain field names). */
export function validateInstanceSpec(raw: unknown, path: string): InstanceSpec {
  const o = requireObject(raw, path);
  return {
    service: validateServiceName(o.service, at(path, 'service')),
    instanceId: validateInstanceId(o.instanceId, at(path, 'instance_id')),
    address: validateAddress(o.address, at(path, 'address')),
    port: validatePort(o.port, at(path, 'port')),
    zone: validateZone(o.zone, at(path, 'zone')),
    weight: validateWeight(o.weight, at(path, 'weight')),
    tags: validateTags(o.tags, at(path, 'tags')),
    metadata: validateMetadata(o.metadata, at(path, 'metadata')),
    health: validateHealth(o.health, at(path, 'health')),
    protocol: validateProtocol(o.protocol, at(path, 'protocol')),
  };
}

const HEALTH_CHECK_KEYS = ['http', 'tcp', 'interval', 'timeout'] as const;

/** `{"http": "/healthz", "interval": "5s"}` or `{"tcp": true}`. */
export function parseHealthCheck(raw: unknown, path: string): HealthCheckSpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  const o = requireObject(raw, path);
  rejectUnknownKeys(o, HEALTH_CHECK_KEYS, path);
  const intervalMs = o.interval === undefined ? Defaults.healthIntervalMs : parseDuration(o.interval, at(path, 'interval'));
  if (intervalMs < 100) throw new ValidationError(at(path, 'interval'), 'must be at least 100ms');
  const timeoutMs =
    o.timeout === undefined ? Math.min(Defaults.healthTimeoutMs, intervalMs) : parseDuration(o.timeout, at(path, 'timeout'));
  if (o.http !== undefined && o.tcp !== undefined) throw new ValidationError(path, 'give either "http" or "tcp", not both');
  if (typeof o.http === 'string') {
    if (!o.http.startsWith('/')) throw new ValidationError(at(path, 'http'), 'must be a path starting with "/"');
    return { kind: 'http', path: o.http, intervalMs, timeoutMs };
  }
  if (o.http !== undefined) throw new ValidationError(at(path, 'http'), `must be a path string, got ${describe(o.http)}`);
  if (o.tcp === true) return { kind: 'tcp', intervalMs, timeoutMs };
  if (o.tcp !== undefined) throw new ValidationError(at(path, 'tcp'), 'must be true');
  throw new ValidationError(path, 'needs "http": "/path" or "tcp": true');
}

const LOCAL_SERVICE_KEYS = ['name', 'port', 'address', 'id', 'zone', 'weight', 'tags', 'metadata', 'health', 'protocol'] as const;

/** The JSON body of `POST /v1/services` on the agent's admin API. */
export function parseLocalServiceSpec(raw: unknown): LocalServiceSpec {
  const o = requireObject(raw, '');
  rejectUnknownKeys(o, LOCAL_SERVICE_KEYS, '');
  return {
    name: validateServiceName(o.name, 'name'),
    port: validatePort(o.port, 'port'),
    address: o.address === undefined ? '127.0.0.1' : validateAddress(o.address, 'address'),
    id: o.id === undefined ? undefined : validateInstanceId(o.id, 'id'),
    zone: o.zone === undefined ? undefined : validateZone(o.zone, 'zone'),
    weight: validateWeight(o.weight, 'weight'),
    tags: validateTags(o.tags, 'tags'),
    metadata: validateMetadata(o.metadata, 'metadata'),
    health: parseHealthCheck(o.health, 'health'),
    protocol: validateProtocol(o.protocol, 'protocol'),
  };
}

/** "host:port" of a control plane or agent, as given on the command line. */
export function parseHostPort(v: string, field: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v.trim());
  if (!m) throw new ValidationError(field, `expected HOST:PORT, got ${JSON.stringify(v)}`);
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  return { host, port: validatePort(Number(m[2]), field) };
}
