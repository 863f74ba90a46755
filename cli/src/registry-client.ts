/**
 * A small promise wrapper around the control plane's Registry gRPC client for
 * the read-only commands, with errors turned into one-line messages.
 */
import type * as grpc from '@grpc/grpc-js';
import { CONTROL_PLANE_TLS_OPTIONS, loadWeftProto } from '@weft/shared';
import type { ListAgentsResponse__Output } from '@weft/shared/generated/weft/v1/ListAgentsResponse';
import type { ListServicesResponse__Output } from '@weft/shared/generated/weft/v1/ListServicesResponse';
import type { RegistryClient } from '@weft/shared/generated/weft/v1/Registry';
import { connectControlPlane, describeCallError } from './control-plane-auth.js';

const CALL_TIMEOUT_MS = 5000;

export interface RegistryReader {
  listServices(): Promise<ListServicesResponse__Output>;
  listAgents(): Promise<ListAgentsResponse__Output>;
  close(): void;
}

export function connectRegistry(address: string): RegistryReader {
  const proto = loadWeftProto();
  const conn = connectControlPlane(address).then((c) => ({
    ...c,
    client: new proto.Registry(address, c.credentials, CONTROL_PLANE_TLS_OPTIONS),
  }));
  conn.catch(() => {});
  const call = <T>(
    name: string,
    invoke: (client: RegistryClient, md: grpc.Metadata, deadline: Date, cb: (err: grpc.ServiceError | null, res?: T) => void) => void,
  ) =>
    conn.then(
      ({ client, metadata }) =>
        new Promise<T>((resolve, reject) => {
          invoke(client, metadata, new Date(Date.now() + CALL_TIMEOUT_MS), (err, res) => {
            if (err) reject(describeCallError(err, address, name));
            else resolve(res as T);
          });
        }),
    );
  return {
    listServices: () => call('ListServices', (c, md, deadline, cb) => c.ListServices({}, md, { deadline }, cb)),
    listAgents: () => call('ListAgents', (c, md, deadline, cb) => c.ListAgents({}, md, { deadline }, cb)),
    close: () =>
      void conn.then(
        ({ client }) => client.close(),
        () => {},
      ),
  };
}
