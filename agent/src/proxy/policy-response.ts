import { REQUEST_ID_HEADER } from '@weft/shared';
import type { Http1Response } from '../http1/server-message.js';
import type { PolicyAnswer } from './route-policy.js';

/** Writes the traffic policy's own answer (rate limit, fault, redirect, direct response) with the request id. */
export function sendPolicyResponse(res: Http1Response, answer: PolicyAnswer, requestId: string): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const headers: Record<string, string | number> = { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) };
  if (requestId) headers[REQUEST_ID_HEADER] = requestId;
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}
