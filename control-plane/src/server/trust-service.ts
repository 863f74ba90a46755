/**
 * gRPC handlers of the Trust service (proto/weft/v1/trust.proto): enrolment
 * and renewal for agents, tokens, revocation and CA rotation for operators.
 * The auth guard (authz.ts) has run before any of these.
 */
import type * as grpc from '@grpc/grpc-js';
import { type Logger, tokenKindFromProto, tokenKindToProto, ValidationError, validateInstanceId, validateServiceName } from '@weft/shared';
import type { IssuedCertificate } from '@weft/shared/generated/weft/v1/IssuedCertificate';
import type { ListRootsResponse } from '@weft/shared/generated/weft/v1/ListRootsResponse';
import type { TokenInfo } from '@weft/shared/generated/weft/v1/TokenInfo';
import type { TrustHandlers } from '@weft/shared/generated/weft/v1/Trust';
import type { MeshCa } from '../ca/mesh-ca.js';
import type { Registry } from '../registry/registry.js';
import type { StoredToken } from '../store/store-contract.js';
import type { Tokens } from '../trust/tokens.js';
import type { IssuedAgentCertificate, TrustAuthority } from '../trust/trust-authority.js';
import { actingAgent } from './authz.js';
import { agentRevokedError, isInternal, toGrpcError } from './status.js';
import type { StreamTable } from './stream-table.js';

export interface TrustServiceDeps {
  authority: TrustAuthority;
  tokens: Tokens;
  ca: MeshCa;
  registry: Registry;
  streams: StreamTable;
  logger: Logger;
}

function unary<Req, Res>(
  method: string,
  log: Logger,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (isInternal(err)) log.error('trust call failed', { method, err });
          else log.info('trust call refused', { method, err });
          callback(toGrpcError(err));
        },
      );
  };
}

function issuedToProto(c: IssuedAgentCertificate): IssuedCertificate {
  return {
    spiffe_id: c.spiffeId,
    agent_id: c.agentId,
    certificate_pem: c.certificatePem,
    ca_bundle_pem: c.caBundlePem,
    serial: c.serial,
    expires_at_ms: String(c.notAfterMs),
    trust_domain: c.trustDomain,
    service: c.service ?? '',
  };
}

/** A token's record for `weft token list`: never the secret's hash. */
function tokenInfo(t: StoredToken): TokenInfo {
  return {
    token_id: t.tokenId,
    kind: tokenKindToProto(t.kind),
    created_at_ms: String(t.createdAtMs),
    expires_at_ms: String(t.expiresAtMs ?? 0),
    uses_left: t.usesLeft ?? -1,
    agent_id: t.agentId ?? '',
    description: t.description,
  };
}

function ms(v: string | number | null | undefined, field: string): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new ValidationError(field, 'must be a non-negative number of milliseconds');
  return n;
}

export function createTrustHandlers(deps: TrustServiceDeps): TrustHandlers {
  const { authority, tokens, ca, registry, streams } = deps;
  const log = deps.logger;
  const roots = (): ListRootsResponse => ({
    trust_domain: ca.trustDomain,
    roots: ca.list().map((r) => ({
      fingerprint: r.fingerprint,
      subject: r.subject,
      not_after_ms: String(r.notAfterMs),
      active: r.active,
      certificate_pem: r.certificatePem,
    })),
  });
  return {
    Enrol: unary('Enrol', log, async (req) => {
      if (!req.csr_pem) throw new ValidationError('csr_pem', 'is required');
      return issuedToProto(await authority.enrol(req.join_token ?? '', req.agent_id ?? '', req.csr_pem));
    }),

    RenewCertificate: unary('RenewCertificate', log, async (req, call) => {
      const agentId = actingAgent(call, '', 'agent');
      if (!req.csr_pem) throw new ValidationError('csr_pem', 'is required');
      return issuedToProto(await authority.renew(agentId, req.csr_pem));
    }),

    IssueServiceCertificate: unary('IssueServiceCertificate', log, async (req, call) => {
      const agentId = actingAgent(call, '', 'agent');
      const service = validateServiceName(req.service, 'service');
      if (!req.csr_pem) throw new ValidationError('csr_pem', 'is required');
      const hosts = (agent: string, name: string) => registry.service(name)?.endpoints.some((e) => e.agentId === agent) === true;
      return issuedToProto(await authority.certifyService(agentId, service, req.csr_pem, hosts));
    }),

    CreateToken: unary('CreateToken', log, async (req) => {
      const kind = tokenKindFromProto(req.kind);
      if (!kind) throw new ValidationError('kind', 'must be join, operator or read');
      const { token, record } = await tokens.create({
        kind,
        ttlMs: ms(req.ttl_ms, 'ttl_ms'),
        uses: kind === 'join' && req.uses ? req.uses : undefined,
        agentId: kind === 'join' && req.agent_id ? validateInstanceId(req.agent_id, 'agent_id') : undefined,
        description: (req.description ?? '').slice(0, 200),
      });
      log.info('token created', {
        token: record.tokenId,
        kind,
        expiresAtMs: record.expiresAtMs,
        uses: record.usesLeft,
        agent: record.agentId,
      });
      return { token, token_id: record.tokenId, expires_at_ms: String(record.expiresAtMs ?? 0) };
    }),

    ListTokens: unary('ListTokens', log, async () => ({ tokens: (await tokens.list()).map(tokenInfo) })),

    RevokeToken: unary('RevokeToken', log, async (req) => {
      const record = await tokens.revoke(req.token_id ?? '', 'token_id');
      log.warn('token revoked', { token: record.tokenId, kind: record.kind });
      return { token: tokenInfo(record) };
    }),

    RevokeAgent: unary('RevokeAgent', log, async (req) => {
      const agentId = validateInstanceId(req.agent_id, 'agent_id');
      const { serials } = await authority.revoke(agentId, (req.reason ?? '').slice(0, 200));
      const stream = streams.get(agentId);
      stream?.end(agentRevokedError(agentId));
      const removed = await registry.removeAgent(agentId);
      return { serials, instances_removed: removed, stream_closed: stream !== undefined };
    }),

    RotateRoot: unary('RotateRoot', log, async (req) => {
      switch (String(req.step)) {
        case 'STEP_ADD':
          await ca.addRoot();
          break;
        case 'STEP_ACTIVATE':
          ca.activateRoot(req.fingerprint ?? '');
          break;
        case 'STEP_REMOVE':
          ca.removeRoot(req.fingerprint ?? '');
          break;
        default:
          throw new ValidationError('step', 'must be add, activate or remove');
      }
      return roots();
    }),

    ListRoots: unary('ListRoots', log, () => roots()),
  };
}
