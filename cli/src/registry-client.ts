/**
 * A small promise wrapper around the control plane's Registry gRPC client for
 * the read-only commands, with errors turned into one-line messages.
 */
import * as grpc from '@grpc/grpc-js';
import { loadWeftProto } from '@weft/shared';
import type { ListAgentsResponse__Output } from '@weft/shared/generated/weft/v1/ListAgentsResponse';
import type { ListServicesResponse__Output } from '@weft/shared/generated/weft/v1/ListServicesResponse';
import { CliError } from './cli-error.js';

const CALL_TIMEOUT_MS = 5000;

export interface RegistryReader {
  listServices(): Promise<ListServicesResponse__Output>;
  listAgents(): Promise<ListAgentsResponse__Output>;
  close(): void;
}

export function connectRegistry(address: string): RegistryReader {
  const proto = loadWeftProto();
  const client = new proto.Registry(address, grpc.credentials.createInsecure());
  const call = <T>(name: string, invoke: (deadline: Date, cb: (err: grpc.ServiceError | null, res?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      invoke(new Date(Date.now() + CALL_TIMEOUT_MS), (err, res) => {
        if (err) reject(describe(err, address, name));
        else resolve(res as T);
      });
    });
  return {
    listServices: () => call('ListServices', (deadline, cb) => client.ListServices({}, { deadline }, cb)),
    listAgents: () => call('ListAgents', (deadline, cb) => client.ListAgents({}, { deadline }, cb)),
    close: () => client.close(),
  };
}

function describe(err: grpc.ServiceError, address: string, method: string): CliError {
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
    return new CliError(`cannot reach the control plane at ${address} (is it running? set --control-plane HOST:PORT)`);
  }
  return new CliError(`${method} failed: ${err.details || err.message}`);
}
