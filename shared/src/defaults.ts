/** Default ports and timings, chosen once and used everywhere (DESIGN.md). */
export const DefaultPorts = {
  controlPlaneGrpc: 15010,
  controlPlaneHttp: 15014,
  agentAdmin: 15000,
  agentOutbound: 15001,
  agentInbound: 15006,
} as const;

export const Defaults = {
  /** How long an agent's instances outlive its last stream. */
  leaseTtlMs: 15_000,
  /** After a control-plane restart, leases loaded from disk get this long to reconnect. */
  restartGraceMs: 30_000,
  /** Whole-request deadline, retries included. */
  requestTimeoutMs: 15_000,
  /** How long a first request waits for the control plane to answer a new subscription. */
  subscribeWaitMs: 5_000,
  /** An agent unsubscribes from a service it has not called for this long. */
  subscriptionIdleTimeoutMs: 3_600_000,
  healthIntervalMs: 5_000,
  healthTimeoutMs: 2_000,
  dataDir: '.weft',
} as const;

/** Header naming the instance an outbound agent picked; the inbound agent hands the request to it. */
export const INSTANCE_HEADER = 'x-weft-instance';
export const ERROR_HEADER = 'x-weft-error';
/**
 * Set by an agent's inbound listener on the answers it makes itself (and
 * removed from every answer an app sends): the calling agent believes a
 * peer's x-weft-error only when this is present on a response from a peer
 * agent's inbound listener, never from an app.
 */
export const ANSWERED_BY_HEADER = 'x-weft-answered-by';
export const REQUEST_ID_HEADER = 'x-request-id';
