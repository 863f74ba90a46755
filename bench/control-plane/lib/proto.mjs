/**
 * gRPC clients for the benchmark, built straight from the wire contract
 * (proto/weft/v1) so the tool does not depend on the TypeScript build.
 *
 * The Discovery client's response deserializer is wrapped so every received
 * DiscoveryResponse carries `__bytes`: the exact size of its protobuf
 * encoding as it came off the wire (gRPC's 5-byte message prefix and HTTP/2
 * framing excluded).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [join(REPO, 'proto')],
};

/** Same reconnect/keepalive options as the real agent (agent/src/discovery/grpc-channel.ts). */
export const AGENT_CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // Each channel gets its own HTTP/2 connection (grpc-js otherwise shares
  // subchannels between channels with the same target and options).
  'grpc.use_local_subchannel_pool': 1,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

export function loadClients() {
  const def = protoLoader.loadSync(['weft/v1/discovery.proto', 'weft/v1/registry.proto'], LOADER_OPTIONS);
  const streamDef = def['weft.v1.Discovery'].Stream;
  const counted = {
    ...streamDef,
    responseDeserialize: (buf) => {
      const msg = streamDef.responseDeserialize(buf);
      msg.__bytes = buf.length;
      return msg;
    },
  };
  const Discovery = grpc.makeGenericClientConstructor({ Stream: counted }, 'weft.v1.Discovery');
  const Registry = grpc.loadPackageDefinition(def).weft.v1.Registry;
  return { Discovery, Registry };
}

/** Promisified unary call with a deadline. */
export function unary(client, method, request, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export { grpc };
