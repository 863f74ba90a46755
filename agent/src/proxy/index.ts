/**
 * The agent's data plane: the outbound listener local apps call through, and
 * the inbound listener other agents call into. Everything else in this folder
 * is an implementation detail composed by these two.
 */
export { startInboundListener } from './inbound-listener.js';
export { startOutboundListener } from './outbound-listener.js';
