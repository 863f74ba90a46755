/**
 * A small promise wrapper around the control plane's Registry gRPC client for
 * the read-only commands, with errors turned into one-line messages.
 */
import { CONTROL_PLANE_TLS_OPTIONS, loadWeftProto } from '@weft/shared';
import type { ListAgentsResponse__Output } from '@weft/shared/generated/weft/v1/ListAgentsResponse';
import type { ListServicesResponse__Output } from '@weft/shared/generated/weft/v1/ListServicesResponse';
import { controlPlaneClient } from './control-plane-auth.js';

const CALL_TIMEOUT_MS = 5000;

export interface RegistryReader {
  listServices(): Promise<ListServicesResponse__Output>;
  listAgents(): Promise<ListAgentsResponse__Output>;
  close(): void;
}

export function connectRegistry(address: string): RegistryReader {
  const { call, close } = controlPlaneClient(
    address,
    (creds) => new (loadWeftProto().Registry)(address, creds, CONTROL_PLANE_TLS_OPTIONS),
    CALL_TIMEOUT_MS,
  );
  return {
    listServices: () => call('ListServices', (c, md, o, cb) => c.ListServices({}, md, o, cb)),
    listAgents: () => call('ListAgents', (c, md, o, cb) => c.ListAgents({}, md, o, cb)),
    close,
  };
}
