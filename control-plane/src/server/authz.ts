/**
 * What each call needs, in one table, and the wrapper that enforces it before
 * any handler runs. Handlers read the authenticated caller with callerOf().
 *
 *   none      Trust.Enrol (the join token in the request is the credential)
 *   agent     an agent certificate whose agent is not revoked
 *   read      a read or operator token
 *   operator  an operator token
 */
import type * as grpc from '@grpc/grpc-js';
import { type Logger, PermissionDeniedError, UnauthenticatedError } from '@weft/shared';
import type { Authenticator, Caller, CallWithAuth } from './caller.js';
import { toGrpcError } from './status.js';

export type Requirement = 'none' | 'agent' | 'read' | 'operator';

export const METHOD_REQUIREMENTS: Record<string, Requirement> = {
  'Registry.Register': 'agent',
  'Registry.Deregister': 'agent',
  'Registry.SetHealth': 'agent',
  'Registry.ListServices': 'read',
  'Registry.ListAgents': 'read',
  'Registry.GetConfig': 'read',
  'Registry.ConfigHistory': 'read',
  'Registry.ApplyConfig': 'operator',
  'Registry.DeleteConfig': 'operator',
  'Registry.RollbackConfig': 'operator',
  'Discovery.Stream': 'agent',
  'Trust.Enrol': 'none',
  'Trust.RenewCertificate': 'agent',
  'Trust.IssueServiceCertificate': 'agent',
  'Trust.ListRoots': 'read',
  'Trust.CreateToken': 'operator',
  'Trust.ListTokens': 'operator',
  'Trust.RevokeToken': 'operator',
  'Trust.RevokeAgent': 'operator',
  'Trust.RotateRoot': 'operator',
  'Telemetry.Report': 'agent',
};

const callers = new WeakMap<object, Caller>();

/** The caller of a call that passed the guard. */
export function callerOf(call: object): Caller {
  const c = callers.get(call);
  if (!c) throw new Error('callerOf: call did not pass the auth guard');
  return c;
}

/**
 * The agent a request acts for: the caller's own agent id. A request field
 * naming an agent may be empty or must equal it. In --insecure mode the
 * field is taken as given.
 */
export function actingAgent(call: object, claimed: string | null | undefined, field: string): string {
  const caller = callerOf(call);
  if (caller.kind === 'insecure') return claimed ?? '';
  if (caller.kind !== 'agent') throw new PermissionDeniedError('only an agent may do this');
  if (claimed && claimed !== caller.agentId)
    throw new PermissionDeniedError(
      `${field}: ${JSON.stringify(claimed)} is not the caller (certificate of agent ${JSON.stringify(caller.agentId)})`,
    );
  return caller.agentId;
}

export function authorize(caller: Caller, need: Requirement, isRevoked: (agentId: string) => boolean): void {
  if (need === 'none' || caller.kind === 'insecure') return;
  if (caller.kind === 'anonymous') throw new UnauthenticatedError(`credentials required (${caller.why})`);
  if (need === 'agent') {
    if (caller.kind !== 'agent') throw new PermissionDeniedError('this call needs an agent certificate');
    if (isRevoked(caller.agentId)) throw new PermissionDeniedError(`agent ${JSON.stringify(caller.agentId)} is revoked`, 'agent_revoked');
    return;
  }
  if (need === 'operator' && caller.kind !== 'operator')
    throw new PermissionDeniedError(
      caller.kind === 'read' ? 'a read token cannot write: this call needs an operator token' : 'this call needs an operator token',
    );
  if (need === 'read' && caller.kind !== 'operator' && caller.kind !== 'read')
    throw new PermissionDeniedError('this call needs a read or operator token');
}

export interface GuardOptions {
  authn: Authenticator;
  isRevoked: (agentId: string) => boolean;
  logger: Logger;
}

/** Wraps every handler of `service` with its requirement from METHOD_REQUIREMENTS (a method missing there is refused). */
export function guardService<H extends object>(service: string, handlers: H, opts: GuardOptions): H {
  const out: Record<string, unknown> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const need = METHOD_REQUIREMENTS[`${service}.${method}`];
    out[method] = (call: CallWithAuth & { emit?: (e: string, v: unknown) => void }, callback?: (err: unknown) => void) => {
      const refuse = (err: unknown): void => {
        opts.logger.info('call refused', { method: `${service}.${method}`, err });
        const status = toGrpcError(err);
        if (callback) callback(status);
        else (call as unknown as grpc.ServerDuplexStream<unknown, unknown>).emit('error', status);
      };
      /** Authorizes the caller, then runs the handler (outside the try: its own errors are its own). */
      const admit = (caller: Caller): void => {
        try {
          authorize(caller, need!, opts.isRevoked);
          callers.set(call, caller);
        } catch (err) {
          refuse(err);
          return;
        }
        (handler as (c: unknown, cb?: unknown) => void)(call, callback);
      };
      let caller: Caller | Promise<Caller>;
      try {
        if (need === undefined) throw new PermissionDeniedError(`${service}.${method} has no access rule`);
        caller = opts.authn.identify(call);
      } catch (err) {
        refuse(err);
        return;
      }
      // A token looked up in the store (made on another replica) admits the call a little later; only unary
      // calls carry tokens (agents' streams authenticate with certificates, which are checked in place).
      if (caller instanceof Promise)
        caller
          .then(admit, refuse)
          .catch((err: unknown) => opts.logger.error('call handler threw', { method: `${service}.${method}`, err }));
      else admit(caller);
    };
  }
  return out as H;
}
