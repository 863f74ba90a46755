/**
 * What counts as "this host" for the admin API besides loopback (whose
 * addresses and name are in @weft/shared's ip-address.ts): the addresses of
 * the host's interfaces. Hostnames are never resolved here: a name resolved
 * now may resolve elsewhere later (the DNS-rebinding problem again).
 */
import os from 'node:os';
import { canonicalIp } from '@weft/shared';

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
