/** @weft/agent: one per host; proxies mesh traffic and registers the host's services. */
export { AGENT_VERSION, type Agent, startAgent } from './agent.js';
export { type AgentOptions, detectAdvertiseAddress } from './config.js';
export {
  type ControlPlaneAddress,
  type ControlPlaneAddresses,
  describeControlPlane,
  parseControlPlaneAddresses,
} from './discovery/control-plane-addresses.js';
export { AgentIdentity, type IdentitySnapshot, type RevocationSnapshot } from './identity/index.js';
export type { RemoteRegistrations } from './local-api/registration-target.js';
export { AGENT_NODE_FLAGS, startedWithAgentNodeFlags } from './node-flags.js';
export { AccessLogOpenError } from './proxy/access-log-writer.js';
