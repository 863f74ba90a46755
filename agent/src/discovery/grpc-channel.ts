/**
 * How the agent dials the control plane. Discovery and Registry clients use
 * the same target and options, so grpc-js shares one HTTP/2 connection.
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import { CONTROL_PLANE_TLS_OPTIONS } from '@weft/shared';

/** The one gRPC target for the control plane's addresses (control-plane-addresses.ts). */
export { controlPlaneTarget } from './control-plane-addresses.js';

export const CHANNEL_OPTIONS: ChannelOptions = {
  // grpc-js defaults to 1 s .. 120 s between connection attempts; an agent
  // should find a restarted control plane within a few seconds.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
  // Detects a control plane that vanished without closing the connection
  // (host down, network partition) so the agent reconnects elsewhere.
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  ...CONTROL_PLANE_TLS_OPTIONS,
};
