/**
 * Errors with stable codes. A code never changes meaning once released: the
 * agent puts mesh error codes in the `x-weft-error` response header, and
 * validation errors become gRPC INVALID_ARGUMENT / HTTP 400 at the edge.
 * Mapping codes to HTTP and gRPC status happens here and nowhere else.
 */
import { GrpcStatus } from './grpc-wire.js';

/** Codes of responses the mesh generates itself (never a bare 502/503). */
export const MeshErrorCode = {
  unknownService: 'unknown_service',
  noHealthyEndpoint: 'no_healthy_endpoint',
  upstreamConnectFailed: 'upstream_connect_failed',
  upstreamTimeout: 'upstream_timeout',
  upstreamReset: 'upstream_reset',
  controlPlaneUnavailable: 'control_plane_unavailable',
  unknownInstance: 'unknown_instance',
  badRequest: 'bad_request',
  /** The request body is larger than the listener's maxRequestBodyBytes. */
  bodyTooLarge: 'body_too_large',
  shuttingDown: 'shutting_down',
  /** Circuit breaking: the destination service already has as many requests as its limit allows. */
  circuitOpen: 'circuit_open',
  /** Traffic policy: the service's local rate limit (ServicePolicy.rateLimit) is exhausted. */
  rateLimited: 'rate_limited',
  /** Traffic policy: a rule's fault.abort answered instead of the service (the status is the rule's; 503 by default). */
  faultInjected: 'fault_injected',
  /** The upstream's response broke HTTP/1.1 framing (conflicting or invalid lengths, bytes past its end, an oversized head); its connection is closed. */
  upstreamProtocolError: 'upstream_protocol_error',
  /** The request's protocol cannot be carried faithfully to the instance's (a gRPC call to an HTTP/1.1 instance: gRPC needs HTTP/2 trailers). */
  protocolNotTranslatable: 'protocol_not_translatable',
  /** The upstream switched protocols (101) to a request that did not ask to upgrade, or upgrades are not carried. */
  upgradeNotSupported: 'upgrade_not_supported',
  /** Access policy: the destination's AccessPolicy (or the mesh default) does not let this source call it. */
  forbidden: 'forbidden',
  /** Outbound listener: a Proxy-Authorization credential that is malformed or matches no local service's registration (407). */
  proxyAuthInvalid: 'proxy_auth_invalid',
  /** A bug in the mesh itself; logged with details. */
  internal: 'internal',
} as const;
export type MeshErrorCode = (typeof MeshErrorCode)[keyof typeof MeshErrorCode];

const MESH_HTTP_STATUS: Record<MeshErrorCode, number> = {
  unknown_service: 404,
  no_healthy_endpoint: 503,
  upstream_connect_failed: 502,
  upstream_timeout: 504,
  upstream_reset: 502,
  control_plane_unavailable: 503,
  unknown_instance: 503,
  bad_request: 400,
  shutting_down: 503,
  circuit_open: 503,
  rate_limited: 429,
  fault_injected: 503,
  upstream_protocol_error: 502,
  upgrade_not_supported: 502,
  protocol_not_translatable: 502,
  body_too_large: 413,
  forbidden: 403,
  proxy_auth_invalid: 407,
  internal: 500,
};

/** The HTTP status of a mesh answer with `code` (a policy's fault abort uses the rule's status instead). */
export function meshHttpStatus(code: MeshErrorCode): number {
  return MESH_HTTP_STATUS[code];
}

/**
 * A failure the mesh reports to the caller with `x-weft-error: <code>`.
 * It is an answer, not a bug: it carries no stack trace (capturing one
 * through the proxy's async chain costs more than the whole request, and
 * a failing request is exactly when the agent must stay cheap).
 */
export class MeshError extends Error {
  readonly code: MeshErrorCode;
  constructor(code: MeshErrorCode, message: string, options?: { cause?: unknown }) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message, options);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'MeshError';
    this.code = code;
  }
  get httpStatus(): number {
    return MESH_HTTP_STATUS[this.code];
  }
}

/** Bad input; `field` is the path of the offending field (`instances[0].port`). */
export class ValidationError extends Error {
  readonly code = 'invalid_argument';
  readonly field: string;
  constructor(field: string, problem: string) {
    super(field ? `${field}: ${problem}` : problem);
    this.name = 'ValidationError';
    this.field = field;
  }
}

/** A named thing that does not exist (instance id, service). */
export class NotFoundError extends Error {
  readonly code = 'not_found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The caller presented no credential, or one that is not valid (no certificate, unknown or expired token). */
export class UnauthenticatedError extends Error {
  readonly code = 'unauthenticated';
  constructor(message: string) {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

/** The caller is known but may not do this (a read token writing, an agent touching another agent's instances, a revoked agent). */
export class PermissionDeniedError extends Error {
  readonly code: string;
  constructor(message: string, code = 'permission_denied') {
    super(message);
    this.name = 'PermissionDeniedError';
    this.code = code;
  }
}

/**
 * A dependency the control plane needs for this call is down (its PostgreSQL
 * store): nothing was written, the caller may retry later. The message names
 * the dependency.
 */
export class UnavailableError extends Error {
  readonly code = 'store_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnavailableError';
  }
}

export { GrpcStatus };

export function grpcStatusOf(err: unknown): GrpcStatus {
  if (err instanceof ValidationError) return GrpcStatus.INVALID_ARGUMENT;
  if (err instanceof NotFoundError) return GrpcStatus.NOT_FOUND;
  if (err instanceof UnauthenticatedError) return GrpcStatus.UNAUTHENTICATED;
  if (err instanceof PermissionDeniedError) return GrpcStatus.PERMISSION_DENIED;
  if (err instanceof UnavailableError) return GrpcStatus.UNAVAILABLE;
  return GrpcStatus.INTERNAL;
}

export function httpStatusOf(err: unknown): number {
  if (err instanceof ValidationError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof UnauthenticatedError) return 401;
  if (err instanceof PermissionDeniedError) return 403;
  if (err instanceof UnavailableError) return 503;
  if (err instanceof MeshError) return err.httpStatus;
  return 500;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
