/**
 * Small helpers for the admin API's JSON over node:http: a bounded body
 * reader and one way to write answers. Errors the agent generates carry
 * `x-weft-error: <code>` like every other response the mesh makes itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_HEADER } from '@weft/shared';

/**
 * Far above any valid registration (metadata alone is capped at 8 KiB), so an
 * oversized field is answered with a 400 naming it; only absurd bodies get 413.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Thrown when a body exceeds the limit; answered with 413. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body: larger than the ${limit}-byte (${limit / 1024} KiB) limit`);
  }
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** An error answer: `{"error": code, "field"?: ..., "message": ...}` plus the x-weft-error header. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: code, ...extra, message }, { [ERROR_HEADER]: code, ...headers });
}
