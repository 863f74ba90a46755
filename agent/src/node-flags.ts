/**
 * The node (V8) flags the agent is meant to run under, and a check that it does.
 *
 * `--min-semi-space-size=16` starts V8's young generation at its full size
 * (16 MiB per semi-space, the size V8 grows it to anyway under sustained
 * load) instead of 1 MiB. A proxy allocates a few KiB per request that die
 * young; with 1 MiB semi-spaces the agent scavenges every few hundred
 * requests, and on a host where it has one core the parallel scavenger's
 * helper threads wait for that same core, so each scavenge stalls every
 * request in flight for milliseconds. Measured (docs/protocols.md, "V8's young
 * generation"): gRPC unary calls through one agent cost about half the CPU
 * and their p99 at one call in flight fell about 2x; large streams got
 * slower (still above their target; see there). The price in memory is what
 * the agent reaches under load anyway: up to ~32 MiB more RSS when idle.
 *
 * These are V8 flags: node takes them on its command line only (not from
 * NODE_OPTIONS, not once running), so whoever starts the agent passes them:
 * the systemd unit (deploy/systemd/weft-agent.service), `weft demo`, the
 * proxy benchmark. An agent started without them logs how to add them.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];

/**
 * True when node was started with every flag of AGENT_NODE_FLAGS on its command
 * line (process.execArgv; V8's own statistics cannot tell: loading the agent's
 * modules already grows the young generation past its initial size).
 */
export function startedWithAgentNodeFlags(execArgv: readonly string[] = process.execArgv): boolean {
  return AGENT_NODE_FLAGS.every((flag) => execArgv.includes(flag));
}
