/**
 * gRPC handlers of the Registry service. Each handler parses and validates its
 * whole request first (parse.ts), then makes one registry change; errors become
 * statuses in status.ts only. Callers passed the auth guard (authz.ts);
 * the agent a write acts for is the caller's certificate identity.
 */
import type { BlockList } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@weft/shared';
import { healthFromProto, validateInstanceId } from '@weft/shared';
import type { RegistryHandlers } from '@weft/shared/generated/weft/v1/Registry';
import type { Registry } from '../registry/registry.js';
import { type AgentTrustStatus, agentStatus } from './agent-status.js';
import { actingAgent, callerOf } from './authz.js';
import { checkInstanceAddresses } from './instance-addresses.js';
import { parseAgentInfo, parseInstanceIds, parseInstances } from './parse.js';
import type { PolicyHandlers } from './policy-service.js';
import type { RejectedVersions } from './rejected-versions.js';
import { isInternal, toGrpcError } from './status.js';
import type { StreamTable } from './stream-table.js';
import { serviceSummary } from './translate.js';

export interface RegistryServiceDeps {
  registry: Registry;
  streams: StreamTable;
  logger: Logger;
  /** Shown in ListAgents (also for names the agent's current stream does not subscribe to). */
  rejections?: RejectedVersions;
  /** Certificate and revocation per agent, shown in ListAgents. */
  trustStatus?: () => Map<string, AgentTrustStatus>;
  /**
   * Addresses beyond an agent's own host its instances may have (instance-addresses.ts);
   * undefined: none. Not checked for an --insecure control plane (no identities).
   */
  remoteInstances?: BlockList | 'any';
}

/**
 * Wraps a handler: its (awaited) return value is the response, a throw or a
 * rejection becomes a status. Writes resolve only after their group commit.
 */
function unary<Req, Res>(
  method: string,
  log: Logger,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  const fail = (callback: grpc.sendUnaryData<Res>, err: unknown) => {
    if (isInternal(err)) log.error('registry call failed', { method, err });
    else log.debug('registry call refused', { method, err });
    callback(toGrpcError(err));
  };
  return (call, callback) => {
    try {
      const out = fn(call.request, call);
      if (out instanceof Promise)
        out.then(
          (res) => callback(null, res),
          (err: unknown) => fail(callback, err),
        );
      else callback(null, out);
    } catch (err) {
      fail(callback, err);
    }
  };
}

export function createRegistryHandlers(deps: RegistryServiceDeps): Omit<RegistryHandlers, keyof PolicyHandlers> {
  const { registry, streams } = deps;
  const log = deps.logger;
  return {
    Register: unary('Register', log, async (req, call) => {
      const agentId = actingAgent(call, req.agent?.agent_id, 'agent.agent_id');
      const agent = parseAgentInfo(req.agent && { ...req.agent, agent_id: agentId }, 'agent');
      const instances = parseInstances(req.instances, 'instances');
      if (callerOf(call).kind === 'agent') checkInstanceAddresses(agent, instances, deps.remoteInstances);
      const { revision } = await registry.register(agent, instances, req.replace_all === true);
      log.debug('registered', {
        agent: agent.agentId,
        instances: instances.map((i) => `${i.service}/${i.instanceId}`),
        replaceAll: req.replace_all === true,
        revision,
      });
      return { revision: String(revision), instance_ids: instances.map((i) => i.instanceId) };
    }),

    Deregister: unary('Deregister', log, async (req, call) => {
      const agentId = validateInstanceId(actingAgent(call, req.agent_id, 'agent_id'), 'agent_id');
      const ids = parseInstanceIds(req.instance_ids, 'instance_ids');
      const { revision, removed } = await registry.deregister(agentId, ids);
      log.debug('deregistered', { agent: agentId, instances: ids, revision });
      return { revision: String(revision), removed };
    }),

    SetHealth: unary('SetHealth', log, async (req, call) => {
      const agentId = validateInstanceId(actingAgent(call, req.agent_id, 'agent_id'), 'agent_id');
      const instanceId = validateInstanceId(req.instance_id, 'instance_id');
      const health = healthFromProto(req.health);
      const { revision } = await registry.setHealth(agentId, instanceId, health);
      log.debug('health changed', { agent: agentId, instance: instanceId, health, output: req.output?.slice(0, 512), revision });
      return { revision: String(revision) };
    }),

    ListServices: unary('ListServices', log, () => ({
      revision: String(registry.revision()),
      services: registry.services().map(serviceSummary),
    })),

    ListAgents: unary('ListAgents', log, () => {
      const trust = deps.trustStatus?.();
      return {
        revision: String(registry.revision()),
        agents: registry
          .agentRecords()
          .map((r) =>
            agentStatus(
              r,
              streams.get(r.info.agentId)?.stream.status(),
              deps.rejections?.ofAgent(r.info.agentId) ?? [],
              trust?.get(r.info.agentId),
            ),
          ),
      };
    }),
  };
}
