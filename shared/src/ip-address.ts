/**
 * IP literals and address allowances, shared by the agent (where its admin
 * API lets a registration point) and the control plane (which addresses an
 * agent may register instances at). IP literals are compared in one canonical
 * form (IPv6 compressed and lower-case, IPv4-mapped IPv6 as IPv4, zone ids
 * dropped), so `::ffff:127.0.0.1`, `0:0:0:0:0:0:0:1` and `::1` are recognised
 * for what they are. Hostnames are never resolved here: a name resolved now
 * may resolve elsewhere later.
 */
import { BlockList, isIP } from 'node:net';
import { ValidationError } from './errors.js';

/** The canonical form of an IP literal, or undefined when `address` is not one (a hostname). */
export function canonicalIp(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const unzoned = bare.split('%')[0];
  const family = isIP(unzoned);
  if (family === 4) return unzoned;
  if (family !== 6) return undefined;
  const compressed = new URL(`http://[${unzoned}]`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (!mapped) return compressed;
  const hi = Number.parseInt(mapped[1], 16);
  const lo = Number.parseInt(mapped[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** 127.0.0.0/8 or ::1 (in any spelling canonicalIp understands). */
export function isLoopbackIp(address: string): boolean {
  const ip = canonicalIp(address);
  return ip !== undefined && (ip === '::1' || (isIP(ip) === 4 && ip.startsWith('127.')));
}

/** 0.0.0.0 or ::: "any address", which a connection turns into this host. */
export function isUnspecifiedIp(address: string): boolean {
  const ip = canonicalIp(address);
  return ip === '0.0.0.0' || ip === '::';
}

/** `localhost` exactly (no `*.localhost`: not every resolver keeps those off the network). */
export function isLoopbackName(name: string): boolean {
  return name.toLowerCase() === 'localhost';
}

/** `'any'`, or IP addresses and CIDR blocks (`10.0.0.0/8`, `fd00::/8`). */
export type AddressAllowance = 'any' | readonly string[];

/** Validates an allowance (`'any'` or addresses / CIDR blocks), naming `field` on error. */
export function parseAddressAllowance(allow: AddressAllowance, field: string): BlockList | 'any' {
  if (allow === 'any') return 'any';
  const list = new BlockList();
  allow.forEach((entry, i) => {
    const [addr, bits, extra] = entry.trim().split('/');
    const ip = canonicalIp(addr);
    const family = ip === undefined ? 0 : isIP(ip);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
    if (ip === undefined || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new ValidationError(`${field}[${i}]`, `expected an IP address or CIDR block (10.0.0.0/8), got ${JSON.stringify(entry)}`);
    }
    list.addSubnet(ip, prefix, family === 6 ? 'ipv6' : 'ipv4');
  });
  return list;
}

/** True when `address` (an IP literal in any spelling; never a hostname) is in `allowed`. */
export function addressAllowed(allowed: BlockList | 'any' | undefined, address: string): boolean {
  if (allowed === 'any') return true;
  const ip = canonicalIp(address);
  if (allowed === undefined || ip === undefined) return false;
  return allowed.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}
