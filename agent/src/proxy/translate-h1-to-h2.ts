/**
 * An HTTP/1.1 request handed to an HTTP/2 (h2c) instance (`protocol: http2`
 * or `grpc`), by the agent that owns the instance: the request goes out as
 * a stream on the instance's pooled session (http2/session-pool.ts) and its
 * answer comes back to the HTTP/1.1 client.
 *
 * Request: the head lines the HTTP/1.1 strategies built (hop-by-hop fields
 * already gone, x-forwarded-*, request id and traceparent added) become
 * HTTP/2 fields: Host becomes `:authority`, the request line `:method` and
 * `:path`; names are lowercased, and the fields HTTP/2 forbids (RFC 9113
 * §8.2.2) or does not need (`expect`: HTTP/2 has no 100-continue wait) are
 * left out. An Upgrade (WebSocket) request is refused: carrying it needs
 * RFC 8441's extended CONNECT, which the agent does not speak. The body
 * streams with backpressure; content-length passes when the client sent one.
 *
 * Answer: the `:status` and fields of the HTTP/2 answer go out as an
 * HTTP/1.1 head (chunked unless it has a content-length), then its body.
 * HTTP/2 response trailers are dropped (RFC 9110 §6.5.1: a recipient may
 * discard them; the HTTP/1.1 client never asked for them with TE: trailers).
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { pipeline, type Writable } from 'node:stream';
import { MeshErrorCode } from '@weft/shared';
import type { H2SessionPool } from '../http2/session-pool.js';
import type { GoneSignal } from './client-link.js';
import type { ReplaySource, ResponseBody, TryOutcome, UpstreamResponse } from './forward.js';
import { type H2Response, sendH2Once } from './h2-forward.js';
import type { HeaderMap, HeadLines } from './headers.js';
import { NotTranslatable } from './not-translatable.js';

/** Fields not carried into HTTP/2 (connection-specific, RFC 9113 §8.2.2; `expect`: no 100-continue in HTTP/2). */
const LEFT_OUT = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'host', 'expect', 'http2-settings']);

/** The HTTP/2 request fields of an HTTP/1.1 request's head lines, or why it cannot be translated. */
export function h2HeadersOfH1(method: string, path: string, head: HeadLines): OutgoingHttpHeaders | NotTranslatable {
  const out: OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': 'http' };
  const text = head.lines;
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\r\n', at);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', at);
    if (colon > at && colon < end) {
      const name = text.slice(at, colon).toLowerCase();
      const value = text.slice(colon + 1, end).trim();
      if (name === 'host') out[':authority'] = value;
      else if (name === 'upgrade') {
        return new NotTranslatable(
          MeshErrorCode.upgradeNotSupported,
          `an Upgrade (${value}) request cannot be carried to an HTTP/2 instance (no extended CONNECT); register it with protocol http`,
        );
      } else if (!LEFT_OUT.has(name)) {
        const prior = out[name];
        if (prior === undefined) out[name] = value;
        else if (name === 'cookie') out[name] = `${String(prior)}; ${value}`;
        else out[name] = Array.isArray(prior) ? [...prior, value] : [String(prior), value];
      }
    }
    at = end + 2;
  }
  return out;
}

/** An HTTP/2 answer seen as an HTTP/1.1 one: the status, the fields without pseudo-fields, the body from the stream. */
class H2AnswerForH1 implements UpstreamResponse {
  readonly statusCode: number;
  readonly headers: HeaderMap;
  readonly body: ResponseBody;
  readonly viaPeer = false;

  constructor(response: H2Response) {
    this.statusCode = response.statusCode;
    this.body = response;
    const fields: HeaderMap = {};
    const received = response.headers;
    for (const name of Object.keys(received)) {
      if (name.charCodeAt(0) === 58) continue;
      const v = received[name];
      if (v !== undefined) fields[name] = v;
    }
    this.headers = fields;
  }
}

export interface H1AsH2Try {
  sessions: H2SessionPool;
  /** The instance's pool key (host:port), host and port. */
  key: string;
  host: string;
  port: number;
  method: string;
  path: string;
  head: HeadLines;
  body: ReplaySource | null;
  timeoutMs: number;
  clientGone: GoneSignal;
  onOutcome?: (outcome: TryOutcome) => void;
}

/** One try of an HTTP/1.1 request on an HTTP/2 instance; never rejects. */
export async function sendH1AsH2(t: H1AsH2Try): Promise<TryOutcome> {
  const headers = h2HeadersOfH1(t.method, t.path, t.head);
  if (headers instanceof NotTranslatable) {
    const failed: TryOutcome = { ok: false, kind: 'invalid', error: headers };
    t.onOutcome?.(failed);
    return failed;
  }
  const source = t.body;
  const body =
    source === null
      ? null
      : {
          attach(sink: Writable): boolean {
            const s = source.nextStream();
            if (s === undefined) return false;
            pipeline(s, sink, ignore);
            return true;
          },
        };
  const outcome = await sendH2Once({
    pool: t.sessions,
    key: t.key,
    host: t.host,
    port: t.port,
    headers,
    body,
    timeoutMs: t.timeoutMs,
    clientGone: t.clientGone,
    viaPeer: false,
    onOutcome: t.onOutcome,
  });
  return outcome.ok ? { ok: true, response: new H2AnswerForH1(outcome.response as H2Response) } : outcome;
}

function ignore(): void {}
