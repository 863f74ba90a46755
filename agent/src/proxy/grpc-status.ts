/**
 * gRPC facts the proxy needs: the status codes and what each mesh failure
 * is as a gRPC status (the one table). The header facts (content type,
 * grpc-message, grpc-timeout) are shared with the control plane's gRPC
 * server (shared/src/grpc-wire.ts) and re-exported here.
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
 */
import { MeshErrorCode, meshHttpStatus } from '@weft/shared';

import { GrpcStatus } from '@weft/shared/grpc-wire';

export {
  encodeGrpcMessage,
  formatGrpcTimeout,
  GRPC_MESSAGE_HEADER,
  GRPC_STATUS_HEADER,
  GRPC_TIMEOUT_HEADER,
  GrpcStatus,
  isGrpcContentType,
  parseGrpcTimeout,
} from '@weft/shared/grpc-wire';

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
