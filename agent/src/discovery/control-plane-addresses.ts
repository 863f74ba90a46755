/**
 * Where the control plane is: one HOST:PORT, or several replicas
 * (`--control-plane a:15010,b:15010,c:15010`), any of which may be a DNS name
 * with several addresses.
 *
 * The agent talks to one replica at a time. Every client of the agent
 * (discovery stream, registrations, certificate renewal) dials the same
 * gRPC target, so they share one connection and hence one replica (the
 * replica holding an agent's stream holds its lease). Which replica: the
 * resolver below gives each agent process its own random but fixed order of
 * the addresses, and grpc-js's pick_first connects to the first that
 * answers. When that connection goes, the stream fails, the discovery
 * client waits its jittered backoff, and pick_first walks the same order
 * again, skipping the replicas that do not answer. Agents spread over the
 * replicas, and all clients of one agent land on the same one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { parseHostPort, ValidationError } from '@weft/shared';

export interface ControlPlaneAddress {
  host: string;
  port: number;
}

/** What the agent's options accept: one address (as before) or the list of replicas. */
export type ControlPlaneAddresses = ControlPlaneAddress | readonly ControlPlaneAddress[];

export const MAX_CONTROL_PLANE_ADDRESSES = 16;
/** The grpc-js name-resolution scheme for a list of replicas (or a DNS name standing for several). */
export const CONTROL_PLANE_SCHEME = 'weft-cp';
/** Re-resolution after a lost connection is not repeated more often than this. */
const MIN_RESOLVE_INTERVAL_MS = 1_000;

/** Parses `--control-plane`: HOST:PORT[,HOST:PORT…]; duplicates are refused, the message names the field. */
export function parseControlPlaneAddresses(value: string, field: string): ControlPlaneAddress[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length > MAX_CONTROL_PLANE_ADDRESSES) throw new ValidationError(field, `at most ${MAX_CONTROL_PLANE_ADDRESSES} addresses`);
  const seen = new Set<string>();
  return parts.map((part, i) => {
    const name = parts.length > 1 ? `${field}[${i}]` : field;
    if (part === '') throw new ValidationError(name, 'empty address (expected HOST:PORT)');
    const address = parseHostPort(part, name);
    const key = hostPort(address);
    if (seen.has(key)) throw new ValidationError(name, `${key} is listed twice`);
    seen.add(key);
    return address;
  });
}

export function addressList(cp: ControlPlaneAddresses): readonly ControlPlaneAddress[] {
  return Array.isArray(cp) ? cp : [cp as ControlPlaneAddress];
}

/** "host:port", IPv6 literals bracketed. */
export function hostPort(a: ControlPlaneAddress): string {
  return a.host.includes(':') && !a.host.startsWith('[') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** For logs and error messages: "a:15010" or "a:15010,b:15010". */
export function describeControlPlane(cp: ControlPlaneAddresses): string {
  return addressList(cp).map(hostPort).join(',');
}

/**
 * The gRPC target for the addresses: plain "ip:port" for a single IP
 * (grpc-js dials it directly), else a weft-cp target resolved below.
 */
export function controlPlaneTarget(cp: ControlPlaneAddresses): string {
  const list = addressList(cp);
  const only = list.length === 1 ? list[0] : undefined;
  if (only && isIP(only.host)) return hostPort(only);
  registerControlPlaneResolver();
  return `${CONTROL_PLANE_SCHEME}:///${list.map(hostPort).join(',')}`;
}

/** Per agent process: the random part of the address order, so agents spread while each agent's clients agree. */
const processSeed = randomBytes(16).toString('hex');

/** The order this process tries addresses in: fixed for the process, random across processes. */
export function preferenceOrder<T>(items: readonly T[], key: (item: T) => string): T[] {
  const rank = (item: T) => createHash('sha256').update(processSeed).update(key(item)).digest('hex');
  return [...items]
    .map((item) => ({ item, rank: rank(item) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : 1))
    .map((x) => x.item);
}

type Endpoint = grpc.experimental.Endpoint;

class ControlPlaneResolver implements grpc.experimental.Resolver {
  private readonly entries: ControlPlaneAddress[] = [];
  private readonly parseError: string | undefined;
  private running = false;
  private destroyed = false;
  private lastResolvedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    try {
      this.entries = parseControlPlaneAddresses(target.path, 'control plane target');
    } catch (err) {
      this.parseError = err instanceof Error ? err.message : String(err);
    }
  }

  updateResolution(): void {
    this.destroyed = false;
    if (this.running || this.timer) return;
    const wait = this.lastResolvedAt + MIN_RESOLVE_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.updateResolution();
      }, wait);
      this.timer.unref();
      return;
    }
    this.running = true;
    void this.resolve().then((result) => {
      this.running = false;
      this.lastResolvedAt = Date.now();
      if (this.destroyed) return;
      if (typeof result === 'string') {
        this.listener(
          grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details: result, metadata: new grpc.Metadata() }),
          {},
          null,
          '',
        );
      } else this.listener(grpc.experimental.statusOrFromValue(result), {}, null, '');
    });
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return target.path.split(',')[0] ?? target.path;
  }

  /** Every address of every entry in this process's order, or why there is none. */
  private async resolve(): Promise<Endpoint[] | string> {
    if (this.parseError) return this.parseError;
    const failures: string[] = [];
    const resolved = await Promise.all(
      this.entries.map(async (entry) => {
        if (isIP(entry.host)) return [entry];
        try {
          const found = await lookup(entry.host, { all: true });
          return found.map((f) => ({ host: f.address, port: entry.port }));
        } catch (err) {
          failures.push(`${hostPort(entry)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
          return [];
        }
      }),
    );
    const unique = new Map(resolved.flat().map((a) => [hostPort(a), a]));
    if (unique.size === 0) return `no control plane address resolves (${failures.join('; ')})`;
    return preferenceOrder([...unique.values()], hostPort).map((a) => ({ addresses: [a] }));
  }
}

let registered = false;
function registerControlPlaneResolver(): void {
  if (registered) return;
  registered = true;
  grpc.experimental.registerResolver(CONTROL_PLANE_SCHEME, ControlPlaneResolver);
}
