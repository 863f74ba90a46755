/**
 * gRPC over HTTP/2 facts both the agent's proxy and the control plane's
 * gRPC server need: the status codes, which requests are gRPC,
 * `grpc-message`'s percent-encoding and the `grpc-timeout` deadline, read and
 * written. (Also exported by the package's index, through errors.ts.)
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
 */

/** The gRPC status codes (values from the gRPC spec). */
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
