/**
 * gRPC facts the proxy needs: which requests are gRPC, the status codes,
 * what each mesh failure is as a gRPC status (the one table), and the
 * `grpc-timeout` header (the caller's deadline) read and written.
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
 */
import { MeshErrorCode, meshHttpStatus } from '@weft/shared';

export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

export const GRPC_STATUS_HEADER = 'grpc-status';
export const GRPC_MESSAGE_HEADER = 'grpc-message';
export const GRPC_TIMEOUT_HEADER = 'grpc-timeout';

/** True for a gRPC request or response (`application/grpc`, `application/grpc+proto`, ...). */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  return (
    typeof value === 'string' && value.startsWith('application/grpc') && (value.length === 16 || value[16] === '+' || value[16] === ';')
  );
}

/**
 * The gRPC status of each mesh answer. Chosen so a gRPC client's own retry
 * and error handling do the right thing: UNAVAILABLE for "try again, maybe
 * elsewhere" (nothing reached the app, or the app is unreachable),
 * DEADLINE_EXCEEDED for the deadline, RESOURCE_EXHAUSTED for limits on the
 * caller, UNIMPLEMENTED for an unknown service (what gRPC's own HTTP mapping
 * gives a 404, and what a client sees from a server without the service).
 * Codes not listed (added later) fall back to their HTTP status.
 */
const MESH_GRPC_STATUS: Partial<Record<string, GrpcStatus>> = {
  [MeshErrorCode.unknownService]: GrpcStatus.UNIMPLEMENTED,
  [MeshErrorCode.noHealthyEndpoint]: GrpcStatus.UNAVAILABLE,
  [MeshErrorCode.upstreamConnectFailed]: GrpcStatus.UNAVAILABLE,
  [MeshErrorCode.upstreamTimeout]: GrpcStatus.DEADLINE_EXCEEDED,
  [MeshErrorCode.upstreamReset]: GrpcStatus.UNAVAILABLE,
  [MeshErrorCode.controlPlaneUnavailable]: GrpcStatus.UNAVAILABLE,
  [MeshErrorCode.unknownInstance]: GrpcStatus.UNAVAILABLE,
  [MeshErrorCode.badRequest]: GrpcStatus.INTERNAL,
  [MeshErrorCode.bodyTooLarge]: GrpcStatus.RESOURCE_EXHAUSTED,
  [MeshErrorCode.shuttingDown]: GrpcStatus.UNAVAILABLE,
  [MeshErrorCode.circuitOpen]: GrpcStatus.UNAVAILABLE,
  [MeshErrorCode.rateLimited]: GrpcStatus.RESOURCE_EXHAUSTED,
  [MeshErrorCode.upstreamProtocolError]: GrpcStatus.INTERNAL,
  [MeshErrorCode.upgradeNotSupported]: GrpcStatus.INTERNAL,
  // The instance cannot take a gRPC call at all (it speaks HTTP/1.1): as a server without the service.
  [MeshErrorCode.protocolNotTranslatable]: GrpcStatus.UNIMPLEMENTED,
  [MeshErrorCode.internal]: GrpcStatus.INTERNAL,
  // Access policy (enforced where the request lands).
  forbidden: GrpcStatus.PERMISSION_DENIED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  [MeshErrorCode.proxyAuthInvalid]: GrpcStatus.UNAUTHENTICATED,
};

/** The gRPC status for an HTTP status (gRPC's own mapping, doc/http-grpc-status-mapping.md). */
export function grpcStatusOfHttp(status: number): GrpcStatus {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The gRPC status of a mesh answer with `code` (`httpStatus`: a policy answer's own status, e.g. a fault abort's). */
export function grpcStatusOf(code: string, httpStatus?: number): GrpcStatus {
  const s = MESH_GRPC_STATUS[code];
  if (s !== undefined) return s;
  if (httpStatus !== undefined) return grpcStatusOfHttp(httpStatus);
  const known = Object.values(MeshErrorCode) as string[];
  return known.includes(code) ? grpcStatusOfHttp(meshHttpStatus(code as MeshErrorCode)) : GrpcStatus.UNKNOWN;
}

/** grpc-message is percent-encoded (spec: bytes outside 0x20-0x7E, and '%'). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/** `grpc-timeout` in ms: 1-8 digits and a unit; undefined when absent, NaN when malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,8}[HMSmun]$/.test(value)) return Number.NaN;
  return Number(value.slice(0, -1)) * (UNIT_MS[value[value.length - 1]!] ?? Number.NaN);
}

/** `ms` as a `grpc-timeout` value (whole milliseconds, at least 1; seconds once ms would need more than 8 digits). */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole <= 99_999_999 ? `${whole}m` : `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}
