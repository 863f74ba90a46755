/**
 * Where an enrolled agent may register instances: on its own host, that is
 * at a loopback address, `localhost`, or the address it advertises (the one
 * other agents reach its inbound listener on), unless the operator allowed
 * the address (`weft control-plane --allow-remote-instances`). The agent
 * hands mesh traffic for an instance to the instance's address; a remote one
 * would make it a relay (and a prober) of another host under a service name
 * of its choosing. The agent's admin API refuses such registrations on its
 * own (`weft agent --allow-remote-registrations`); this is the control
 * plane's check, which an agent that skips its own cannot get past.
 * Hostnames other than `localhost` are remote: they are never resolved here.
 */
import type { BlockList } from 'node:net';
import {
  type AgentInfo,
  addressAllowed,
  canonicalIp,
  type InstanceSpec,
  isLoopbackIp,
  isLoopbackName,
  PermissionDeniedError,
} from '@weft/shared';

/** Throws PermissionDeniedError naming `instances[i].address` for the first instance not on `agent`'s host nor allowed. */
export function checkInstanceAddresses(agent: AgentInfo, instances: readonly InstanceSpec[], allowed: BlockList | 'any' | undefined): void {
  const own = canonicalIp(agent.address);
  instances.forEach((instance, i) => {
    const ip = canonicalIp(instance.address);
    const onHost = ip === undefined ? isLoopbackName(instance.address) : isLoopbackIp(ip) || ip === own;
    if (onHost || addressAllowed(allowed, instance.address)) return;
    throw new PermissionDeniedError(
      `instances[${i}].address: ${JSON.stringify(instance.address)} is not on agent ${JSON.stringify(agent.agentId)}'s host ` +
        `(loopback, localhost or its advertised address ${agent.address}); the control plane allows instances elsewhere only ` +
        'at the addresses its operator gave with --allow-remote-instances',
    );
  });
}
