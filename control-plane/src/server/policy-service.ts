/**
 * gRPC handlers of the traffic-policy calls of the Registry service
 * (ApplyConfig, GetConfig, DeleteConfig, ConfigHistory, RollbackConfig).
 * Validation errors become INVALID_ARGUMENT naming source and field; the
 * mapping to statuses stays in status.ts.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@weft/shared';
import { ValidationError } from '@weft/shared';
import type { RegistryHandlers } from '@weft/shared/generated/weft/v1/Registry';
import { type PolicyRegistry, type PolicyResult, parseConfigDocuments } from '../registry/policy-registry.js';
import type { PolicyChange } from '../store/store-contract.js';
import { isInternal, toGrpcError } from './status.js';

export type PolicyHandlers = Pick<RegistryHandlers, 'ApplyConfig' | 'GetConfig' | 'DeleteConfig' | 'ConfigHistory' | 'RollbackConfig'>;

function unary<Req, Res>(method: string, log: Logger, fn: (req: Req) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err) => {
          if (isInternal(err)) log.error('config call failed', { method, err });
          else log.info('config call refused', { method, err });
          callback(toGrpcError(err));
        },
      );
  };
}

function changeToProto(c: PolicyChange) {
  return { service: c.service, kind: c.kind, action: c.action, before_json: c.beforeJson, after_json: c.afterJson };
}

function resultToProto(r: PolicyResult) {
  return { revision: String(r.revision), changes: r.changes.map(changeToProto), warnings: r.warnings, dry_run: r.dryRun };
}

export function createPolicyHandlers(policies: PolicyRegistry, log: Logger): PolicyHandlers {
  return {
    ApplyConfig: unary('ApplyConfig', log, async (req) =>
      resultToProto(await policies.apply(parseConfigDocuments(req.documents ?? []), req.dry_run === true)),
    ),
    GetConfig: unary('GetConfig', log, (req) => ({
      revision: String(policies.revision()),
      documents: policies.list(req.service || undefined, req.kind || undefined).map((p) => ({
        service: p.service,
        kind: p.kind,
        json: p.json,
        revision: String(p.revision),
      })),
    })),
    DeleteConfig: unary('DeleteConfig', log, async (req) =>
      resultToProto(await policies.delete(req.service, req.kind ?? '', req.dry_run === true)),
    ),
    ConfigHistory: unary('ConfigHistory', log, async (req) => ({
      revision: String(policies.revision()),
      revisions: (await policies.history(req.service || undefined, req.limit ?? 0)).map((r) => ({
        revision: String(r.revision),
        applied_at: r.appliedAt,
        description: r.description,
        changes: r.changes.map(changeToProto),
      })),
    })),
    RollbackConfig: unary('RollbackConfig', log, async (req) => {
      const n = Number(req.revision);
      if (req.revision === '' || !Number.isInteger(n))
        throw new ValidationError('revision', `must be a revision number, got ${JSON.stringify(req.revision)}`);
      return resultToProto(await policies.rollback(n, req.dry_run === true));
    }),
  };
}
