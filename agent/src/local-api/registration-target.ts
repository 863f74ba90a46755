/**
 * Where a registration may point. The agent forwards mesh traffic for a
 * local instance to its address and port, and probes it there; so a
 * registration aimed at the agent's own listeners would hand callers the
 * admin API (or loop traffic through the proxy) under a service's name, and one
 * aimed at another host would make this agent a relay to it.
 *
 * - The agent's own ports (admin, outbound, inbound) are refused on every
 *   address of this host, and for every hostname (a name may resolve to this
 *   host, and `127.1` or `2130706433` are names to the validator but
 *   127.0.0.1 to the resolver).
 * - The address must be this host's: loopback, `localhost`, an interface
 *   address or the advertised address; unless the agent allows remote
 *   registrations (all of them, or a list of addresses and CIDR blocks).
 * - 0.0.0.0 and :: are refused outright: they name no host a service can be
 *   reached on, and connect to this one.
 */
import type { BlockList } from 'node:net';
import {
  type AddressAllowance,
  addressAllowed,
  canonicalIp,
  isLoopbackIp,
  isLoopbackName,
  isUnspecifiedIp,
  parseAddressAllowance,
  ValidationError,
} from '@weft/shared';
import { interfaceAddresses } from './host-addresses.js';

/** `'any'`, or IP addresses and CIDR blocks (`10.0.0.0/8`, `fd00::/8`). */
export type RemoteRegistrations = AddressAllowance;

export interface RegistrationTargetOptions {
  /** The agent's listener ports by name (`admin`, `outbound`, `inbound`), read at each check. */
  ownPorts: () => Readonly<Record<string, number | undefined>>;
  /** Remote addresses a registration may use; default none. */
  allowRemote?: RemoteRegistrations;
  /** This host's addresses besides loopback; default: the interfaces' and nothing else. */
  hostAddresses?: () => readonly string[];
}

export class RegistrationTargets {
  private readonly remote: BlockList | 'any' | undefined;
  private readonly hostAddresses: () => readonly string[];

  constructor(private readonly options: RegistrationTargetOptions) {
    this.remote = options.allowRemote === undefined ? undefined : parseAddressAllowance(options.allowRemote, 'allowRemoteRegistrations');
    this.hostAddresses = options.hostAddresses ?? interfaceAddresses;
  }

  /** Throws a ValidationError naming `address` or `port` when the registration may not point there. */
  check(target: { address: string; port: number }): void {
    const { address, port } = target;
    if (isUnspecifiedIp(address)) {
      throw new ValidationError(
        'address',
        `${address} is not an address a service can be reached on; use the service's own address, e.g. 127.0.0.1`,
      );
    }
    const ip = canonicalIp(address);
    const local = ip === undefined ? isLoopbackName(address) : isLoopbackIp(ip) || this.isHostAddress(ip);
    if (!local && !this.remoteAllowed(ip)) {
      const how =
        this.remote === undefined
          ? '; the agent registers only services on this host unless started with --allow-remote-registrations'
          : ", nor one the agent's --allow-remote-registrations list allows (hostnames never are)";
      throw new ValidationError(
        'address',
        `${JSON.stringify(address)} is not an address of this host (loopback or an interface address)${how}`,
      );
    }
    if (local || ip === undefined) {
      for (const [name, own] of Object.entries(this.options.ownPorts())) {
        if (own === port) {
          throw new ValidationError(
            'port',
            `${port} is this agent's own ${name} port; a registration must point at the service, not at the agent`,
          );
        }
      }
    }
  }

  private isHostAddress(ip: string): boolean {
    return this.hostAddresses().some((a) => canonicalIp(a) === ip);
  }

  private remoteAllowed(ip: string | undefined): boolean {
    return ip !== undefined ? addressAllowed(this.remote, ip) : this.remote === 'any';
  }
}
