/**
 * The one place where control-plane failures become gRPC statuses (and HTTP
 * error bodies). Handlers throw domain errors (ValidationError,
 * NotFoundError); the edge calls these functions.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_HEADER, GrpcStatus, grpcStatusOf, httpStatusOf, messageOf } from '@weft/shared';

export interface GrpcError {
  code: number;
  details: string;
  metadata: grpc.Metadata;
}

/** The stable code carried in `x-weft-error` (gRPC trailer / HTTP header). */
export function errorCodeOf(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return 'internal';
}

function withCode(code: number, details: string, weftCode: string): GrpcError {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_HEADER, weftCode);
  return { code, details, metadata };
}

/** Domain error -> gRPC status: ValidationError = INVALID_ARGUMENT, NotFoundError = NOT_FOUND, else INTERNAL. */
export function toGrpcError(err: unknown): GrpcError {
  return withCode(grpcStatusOf(err), messageOf(err), errorCodeOf(err));
}

export function isInternal(err: unknown): boolean {
  return grpcStatusOf(err) === GrpcStatus.INTERNAL;
}

/** Ends a discovery stream whose agent opened a newer one. */
export function streamReplacedError(): GrpcError {
  return withCode(grpc.status.ABORTED, 'replaced by a newer stream of the same agent', 'stream_replaced');
}

/** Ends every discovery stream when the control plane stops; agents reconnect with backoff. */
export function shuttingDownError(): GrpcError {
  return withCode(grpc.status.UNAVAILABLE, 'control plane is shutting down', 'shutting_down');
}

/** Domain error -> HTTP status and JSON body `{"error": code, "message": text}`. */
export function toHttpError(err: unknown): { status: number; code: string; body: { error: string; message: string } } {
  const code = errorCodeOf(err);
  return { status: httpStatusOf(err), code, body: { error: code, message: messageOf(err) } };
}

/** Ends the discovery stream of an agent that was revoked; it must not reconnect. */
export function agentRevokedError(agentId: string): GrpcError {
  return withCode(grpc.status.PERMISSION_DENIED, `agent ${JSON.stringify(agentId)} is revoked`, 'agent_revoked');
}
