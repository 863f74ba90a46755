/**
 * What counts as "this host" for the admin API: loopback addresses and names,
 * and the addresses of the host's interfaces. IP literals are compared in one
 * canonical form (IPv6 compressed and lower-case, IPv4-mapped IPv6 as IPv4,
 * zone ids dropped), so `::ffff:127.0.0.1`, `0:0:0:0:0:0:0:1` and `::1` are
 * recognised for what they are. Hostnames are never resolved here: a name
 * resolved now may resolve elsewhere later (the DNS-rebinding problem again).
 */
import { isIP } from 'node:net';
import os from 'node:os';

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

/** The canonical IPs of every interface of this host, loopback included; read at each call, since interfaces come and go. */
export function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      const ip = canonicalIp(a.address);
      if (ip) out.push(ip);
    }
  }
  return out;
}
