/**
 * gRPC clients for the benchmark, built straight from the wire contract
 * (proto/weft/v1) so the tool does not depend on the TypeScript build.
 *
 * The Discovery client's responses are read by lazy-response.mjs (only what a
 * simulated agent needs; the first CHECKED_RESPONSES are also decoded in full
 * and must agree), and carry `__bytes`: the exact size of the protobuf
 * encoding as it came off the wire (gRPC's 5-byte message prefix and HTTP/2
 * framing excluded).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeDiscoveryResponse } from './lazy-response.mjs';

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
  let checked = 0;
  const counted = {
    ...streamDef,
    responseDeserialize: (buf) => {
      const msg = decodeDiscoveryResponse(buf);
      // The first responses are also decoded in full and compared: the lazy reader must agree with protobufjs.
      if (checked < CHECKED_RESPONSES) {
        checked++;
        agreeWithFullDecode(msg, streamDef.responseDeserialize(buf));
      }
      return msg;
    },
  };
  const Discovery = grpc.makeGenericClientConstructor({ Stream: counted }, 'weft.v1.Discovery');
  const Registry = grpc.loadPackageDefinition(def).weft.v1.Registry;
  // proto-loader's method definitions (path, serializers): what h2-unary.mjs calls with.
  return { Discovery, Registry, registryMethods: def['weft.v1.Registry'] };
}

const CHECKED_RESPONSES = 200;

/** Throws unless the lazily read response says what the full decode says (names, versions, every endpoint's weight and health). */
function agreeWithFullDecode(lazy, full) {
  const fail = (what) => {
    throw new Error(`lazy-response.mjs disagrees with protobufjs on ${what}`);
  };
  if (lazy.nonce !== full.nonce || lazy.revision !== full.revision) fail('nonce or revision');
  if (lazy.removed.join() !== full.removed.join() || lazy.not_found.join() !== full.not_found.join()) fail('removed or not_found');
  if (lazy.resources.length !== full.resources.length) fail('the resource count');
  for (const [i, r] of full.resources.entries()) {
    const l = lazy.resources[i];
    if (l.name !== r.name || l.version !== r.version) fail(`resource ${r.name}`);
    if (!r.endpoints) continue;
    if (l.endpoints?.service !== r.endpoints.service) fail(`the service of ${r.name}`);
    for (const e of r.endpoints.endpoints) {
      const found = l.endpoints.find(e.instance_id);
      if (found?.weight !== e.weight || found?.health !== e.health) fail(`endpoint ${e.instance_id} of ${r.name}`);
    }
  }
}

/** Promisified unary call with a deadline. */
export function unary(client, method, request, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export { grpc };
