/**
 * One try: stream a request to an upstream pool and hand back the response
 * head with its body still unread, or the reason there was no response.
 * Failures are data (a TryOutcome), not throws, so retries and outlier
 * detection can be composed around a try as small wrappers.
 *
 * Streaming: each try reads the request body through its own stream from a
 * ReplayableBody (undici destroys a body stream when a try fails; that stream
 * takes it, the client's request stays intact so we can still answer it or
 * replay a small body to the next try). The response body is piped
 * to the client with backpressure; a client that goes away aborts the upstream
 * request, an upstream that fails mid-body cuts the client's response.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Endpoint } from '@weft/shared';
import type { Dispatcher } from 'undici';
import type { Deadline } from './deadline.js';
import { downstreamResponseHeaders, type HeaderMap } from './headers.js';
import type { ReplayableBody } from './replay-body.js';
import { isStaleConnectionError } from './stale-connection.js';

/**
 * Why a try produced no response. `aborted` = the client went away (nobody to
 * answer); `stale` = a reused keep-alive connection the server had just closed
 * (the app never saw the request, see stale-connection.ts).
 */
export type FailureKind = 'connect' | 'stale' | 'reset' | 'timeout' | 'aborted' | 'invalid';

export interface UpstreamResponse {
  statusCode: number;
  headers: HeaderMap;
  body: Readable;
}

export type TryOutcome = { ok: true; response: UpstreamResponse } | { ok: false; kind: FailureKind; error: unknown };

/** What one try sends; the outbound side fills it once per request. */
export interface Attempt {
  method: string;
  path: string;
  headers: HeaderMap;
  /** The request body (each try takes a stream from it), or null for a request without one. */
  body: ReplayableBody | null;
  /** Time allowed for the next try's response head; the retry loop sets it before each try. */
  tryTimeoutMs: number;
  /** How many endpoints the service has (the outlier detector's cap needs it). */
  serviceSize: number;
  deadline: Deadline;
  /** Aborted when the client disconnects. */
  clientGone: AbortSignal;
}

/** One try against one endpoint. */
export type TrySend = (endpoint: Endpoint, attempt: Attempt) => Promise<TryOutcome>;

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function classify(err: unknown, timedOut: boolean, clientGone: boolean): FailureKind {
  if (timedOut) return 'timeout';
  if (clientGone) return 'aborted';
  const code = errorCode(err);
  if (code !== undefined && CONNECT_CODES.has(code)) return 'connect';
  if (isStaleConnectionError(err)) return 'stale';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return 'invalid';
  return 'reset';
}

class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

class ClientGone extends Error {
  override name = 'ClientGone';
}

export { hasBody } from './replay-body.js';

export interface SendOnce {
  method: string;
  path: string;
  headers: HeaderMap;
  body: Readable | null;
  /** No response head within this many ms -> `timeout`. */
  timeoutMs: number;
  clientGone: AbortSignal;
}

/** Sends one request on `dispatcher`; resolves with the response head or the failure. Never rejects. */
export async function sendOnce(dispatcher: Dispatcher, r: SendOnce): Promise<TryOutcome> {
  if (r.clientGone.aborted) return { ok: false, kind: 'aborted', error: new ClientGone('client gone') };
  if (r.timeoutMs <= 0) return { ok: false, kind: 'timeout', error: new DeadlineExceeded('deadline exceeded') };
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DeadlineExceeded(`no response within ${r.timeoutMs} ms`));
  }, r.timeoutMs);
  const onGone = () => controller.abort(new ClientGone('client gone'));
  r.clientGone.addEventListener('abort', onGone, { once: true });
  try {
    const res = await dispatcher.request({
      method: r.method as Dispatcher.HttpMethod,
      path: r.path,
      headers: r.headers,
      body: r.body,
      signal: controller.signal,
    });
    clearTimeout(timer);
    // The client-gone link stays until the body is done, so a client that
    // leaves mid-download aborts the upstream transfer too.
    res.body.once('close', () => r.clientGone.removeEventListener('abort', onGone));
    return { ok: true, response: { statusCode: res.statusCode, headers: res.headers as HeaderMap, body: res.body } };
  } catch (error) {
    clearTimeout(timer);
    r.clientGone.removeEventListener('abort', onGone);
    return { ok: false, kind: classify(error, timedOut, r.clientGone.aborted), error };
  }
}

/**
 * Streams an upstream response to the client. Resolves when done; rejects if
 * either side failed mid-body (the client's response is destroyed by then) or
 * the head could not be written (then `res.headersSent` is still false).
 */
export async function streamResponse(res: ServerResponse, response: UpstreamResponse, requestId: string): Promise<void> {
  try {
    res.writeHead(response.statusCode, downstreamResponseHeaders(response.headers, requestId));
  } catch (err) {
    // A response head node:http refuses to repeat (invalid header value): nothing was sent yet.
    response.body.destroy();
    throw err;
  }
  await pipeline(response.body, res);
}

/** Reads and drops a response body we will not forward (a retried answer). */
export function discard(response: UpstreamResponse): void {
  response.body.on('error', () => {});
  response.body.resume();
}
