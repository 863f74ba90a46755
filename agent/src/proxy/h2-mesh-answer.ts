/**
 * An answer of the mesh itself on an HTTP/2 stream that needs fields beyond
 * the code (a 407's proxy-authenticate, a 403's `forbidden; policy=<rule>`),
 * in the traffic policy's answer shape, so the h2 pipeline writes it as it
 * writes a policy's answer: on gRPC, the code's status (forbidden ->
 * PERMISSION_DENIED, proxy_auth_invalid -> UNAUTHENTICATED), else the HTTP
 * status with a readable body; x-weft-error as given.
 */
import { ERROR_HEADER, type MeshErrorCode } from '@weft/shared';
import type { PolicyAnswer } from './route-policy.js';

export function meshAnswer(
  code: MeshErrorCode,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
  errorValue: string = code,
  ruleId?: string,
): PolicyAnswer {
  return {
    respond: true,
    status,
    headers: { ...headers, [ERROR_HEADER]: errorValue, 'content-type': 'text/plain; charset=utf-8' },
    body: `${message}\n`,
    code,
    ruleId,
  };
}

/** The first value of an HTTP/2 header. */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
