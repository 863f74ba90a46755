/** The Trust service calls the operator commands make (token, agent revoke, ca). */
import type * as grpc from '@grpc/grpc-js';
import { CONTROL_PLANE_TLS_OPTIONS, loadWeftProto } from '@weft/shared';
import type { CreateTokenRequest } from '@weft/shared/generated/weft/v1/CreateTokenRequest';
import type { CreateTokenResponse__Output } from '@weft/shared/generated/weft/v1/CreateTokenResponse';
import type { ListRootsResponse__Output } from '@weft/shared/generated/weft/v1/ListRootsResponse';
import type { RevokeAgentResponse__Output } from '@weft/shared/generated/weft/v1/RevokeAgentResponse';
import type { RotateRootRequest } from '@weft/shared/generated/weft/v1/RotateRootRequest';
import type { TrustClient } from '@weft/shared/generated/weft/v1/Trust';
import { connectControlPlane, describeCallError } from './control-plane-auth.js';

const CALL_TIMEOUT_MS = 10_000;

export interface TrustCalls {
  createToken(req: CreateTokenRequest): Promise<CreateTokenResponse__Output>;
  revokeAgent(agentId: string, reason: string): Promise<RevokeAgentResponse__Output>;
  listRoots(): Promise<ListRootsResponse__Output>;
  rotateRoot(req: RotateRootRequest): Promise<ListRootsResponse__Output>;
  close(): void;
}

export function connectTrust(address: string): TrustCalls {
  const conn = connectControlPlane(address).then((c) => ({
    ...c,
    client: new (loadWeftProto().Trust)(address, c.credentials, CONTROL_PLANE_TLS_OPTIONS),
  }));
  conn.catch(() => {});
  type Invoke<T> = (c: TrustClient, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: T) => void) => void;
  const call = <T>(name: string, invoke: Invoke<T>) =>
    conn.then(
      (c) =>
        new Promise<T>((resolve, reject) =>
          invoke(c.client, c.metadata, { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) }, (err, res) =>
            err ? reject(describeCallError(err, address, name)) : resolve(res as T),
          ),
        ),
    );
  return {
    createToken: (req) => call('CreateToken', (c, md, o, cb) => c.CreateToken(req, md, o, cb)),
    revokeAgent: (agent_id, reason) => call('RevokeAgent', (c, md, o, cb) => c.RevokeAgent({ agent_id, reason }, md, o, cb)),
    listRoots: () => call('ListRoots', (c, md, o, cb) => c.ListRoots({}, md, o, cb)),
    rotateRoot: (req) => call('RotateRoot', (c, md, o, cb) => c.RotateRoot(req, md, o, cb)),
    close: () =>
      void conn.then(
        ({ client }) => client.close(),
        () => {},
      ),
  };
}
