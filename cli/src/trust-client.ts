/** The Trust service calls the operator commands make (token, agent revoke, ca). */
import { CONTROL_PLANE_TLS_OPTIONS, loadWeftProto } from '@weft/shared';
import type { CreateTokenRequest } from '@weft/shared/generated/weft/v1/CreateTokenRequest';
import type { CreateTokenResponse__Output } from '@weft/shared/generated/weft/v1/CreateTokenResponse';
import type { ListRootsResponse__Output } from '@weft/shared/generated/weft/v1/ListRootsResponse';
import type { ListTokensResponse__Output } from '@weft/shared/generated/weft/v1/ListTokensResponse';
import type { RevokeAgentResponse__Output } from '@weft/shared/generated/weft/v1/RevokeAgentResponse';
import type { RevokeTokenResponse__Output } from '@weft/shared/generated/weft/v1/RevokeTokenResponse';
import type { RotateRootRequest } from '@weft/shared/generated/weft/v1/RotateRootRequest';
import { controlPlaneClient } from './control-plane-auth.js';

const CALL_TIMEOUT_MS = 10_000;

export interface TrustCalls {
  createToken(req: CreateTokenRequest): Promise<CreateTokenResponse__Output>;
  listTokens(): Promise<ListTokensResponse__Output>;
  revokeToken(tokenId: string): Promise<RevokeTokenResponse__Output>;
  revokeAgent(agentId: string, reason: string): Promise<RevokeAgentResponse__Output>;
  listRoots(): Promise<ListRootsResponse__Output>;
  rotateRoot(req: RotateRootRequest): Promise<ListRootsResponse__Output>;
  close(): void;
}

export function connectTrust(address: string): TrustCalls {
  const { call, close } = controlPlaneClient(
    address,
    (creds) => new (loadWeftProto().Trust)(address, creds, CONTROL_PLANE_TLS_OPTIONS),
    CALL_TIMEOUT_MS,
  );
  return {
    createToken: (req) => call('CreateToken', (c, md, o, cb) => c.CreateToken(req, md, o, cb)),
    listTokens: () => call('ListTokens', (c, md, o, cb) => c.ListTokens({}, md, o, cb)),
    revokeToken: (token_id) => call('RevokeToken', (c, md, o, cb) => c.RevokeToken({ token_id }, md, o, cb)),
    revokeAgent: (agent_id, reason) => call('RevokeAgent', (c, md, o, cb) => c.RevokeAgent({ agent_id, reason }, md, o, cb)),
    listRoots: () => call('ListRoots', (c, md, o, cb) => c.ListRoots({}, md, o, cb)),
    rotateRoot: (req) => call('RotateRoot', (c, md, o, cb) => c.RotateRoot(req, md, o, cb)),
    close,
  };
}
