/**
 * The opt-in access log (`weft agent --access-log stdout|FILE`): one JSON line
 * per sampled request on either listener, written by the request pipeline
 * when the request is finished (for an upgrade: when the 101 was answered).
 *
 * Fields, in this order:
 *   time         when the request arrived (ISO 8601, ms)
 *   direction    outbound (a local app calling) or inbound (another agent calling a local instance)
 *   requestId    x-request-id, received or made
 *   traceparent  the W3C traceparent sent upstream: the caller's when valid, else
 *                the one this agent started (also logged when no upstream was tried)
 *   source       the caller's SPIFFE id when the listener authenticated it, else the client's address
 *   service      destination service ('' until resolved, e.g. a request for an unknown service)
 *   instance     the instance that answered, or was tried last ('' if none)
 *   method, path the request line (path as the client sent it: origin- or absolute-form)
 *   status       the status sent to the client; 0 when nothing was sent (the client left, or the
 *                response was cut before its head)
 *   error        the x-weft-error code ('' for the app's own answer; client_gone when the client left)
 *   durationMs   arrival to end of response, in ms (3 decimals)
 *   bytesIn      request body bytes the agent received from the client (decoded: no chunk framing;
 *                bytes of a body the agent discarded unread are counted as they arrive)
 *   bytesOut     response body bytes the agent handed to the client's connection (no head, no
 *                chunk framing); for an upgrade 0 (the tunnel's bytes are not request bytes)
 *   retries      tries - 1
 *
 * Sampling (`--access-log-sample`, 0..1) is decided when the request arrives,
 * so an unsampled request costs one Math.random(). With no access log the
 * pipeline pays one undefined check on arrival and one boolean check at the
 * end; the codec's body byte counters (Http1Request.bodyBytesReceived,
 * Http1Response.bodyBytesSent: an addition per chunk) run either way. Lines go to a LineSink
 * (access-log-writer.ts: bounded, asynchronous, drops when full).
 *
 * One writer for both protocols: the pipeline (pipeline.ts) calls record()
 * with the facts its protocol saw. HTTP/1.1 (pipeline-h1.ts) reads them from
 * the codec's exchange. HTTP/2 streams (pipeline-h2.ts): method and path are
 * :method and :path; bytesIn is counted by the request body reader
 * (h2-body.ts), bytesOut by whatever streamed the answer's body (the
 * mesh's own answers: their content-length); source is the caller's SPIFFE
 * id when the strategy authenticated it (H2Exchange.source), else the client's address.
 */
import type { Http1Request } from '../http1/server-message.js';
import { isValidTraceparent, newTraceparent, TRACEPARENT_HEADER } from './headers.js';
import type { PipelineExchange } from './pipeline.js';
import type { Direction } from './proxy-metrics.js';

/** What a protocol saw of a finished request, for its line. */
export interface AccessFacts {
  /** The client's address: the line's source when the request has no authenticated identity. */
  clientAddress: string | undefined;
  method: string;
  path: string;
  /** The status sent (0: none). */
  status: number;
  bytesIn: number;
  bytesOut: number;
}

/** Where access lines go; write never blocks and never throws (a full sink drops). */
export interface LineSink {
  /** `line` is one JSON object without its newline. */
  write(line: string): void;
}

export class AccessLog {
  /**
   * @param sampleRate fraction of requests logged, 0..1 (1 = all)
   */
  constructor(
    private readonly sink: LineSink,
    readonly sampleRate = 1,
  ) {
    if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError(`access log sample rate must be 0..1, not ${sampleRate}`);
  }

  /** True when this request is to be logged (decided once, on arrival). */
  sample(): boolean {
    return this.sampleRate >= 1 || (this.sampleRate > 0 && Math.random() < this.sampleRate);
  }

  /** The traceparent every try of a sampled request sends upstream: the caller's when valid, else a new trace. */
  traceparentOf(req: Http1Request): string {
    const received = req.header(TRACEPARENT_HEADER)?.trim();
    return received !== undefined && isValidTraceparent(received) ? received : newTraceparent();
  }

  /** The traceparent every try of a sampled HTTP/2 request sends upstream (the same rule as traceparentOf). */
  traceparentOfField(received: string | string[] | undefined): string {
    const value = (Array.isArray(received) ? received[0] : received)?.trim();
    return value !== undefined && isValidTraceparent(value) ? value : newTraceparent();
  }

  /**
   * Writes the line of a finished request, whatever its protocol: `facts` is
   * what the protocol saw (pipeline-h1.ts, pipeline-h2.ts), `code` its
   * x-weft-error ('' for the app's own answer).
   */
  record(direction: Direction, ex: PipelineExchange, facts: AccessFacts, code: string, startedAt: number): void {
    const durationMs = performance.now() - startedAt;
    const f = ex.fields;
    const retries = typeof f.tries === 'number' && f.tries > 1 ? f.tries - 1 : 0;
    this.sink.write(
      JSON.stringify({
        time: new Date(Date.now() - durationMs).toISOString(),
        direction,
        requestId: ex.requestId,
        traceparent: ex.traceparent ?? '',
        source: ex.source?.spiffeId || facts.clientAddress || '',
        service: typeof f.service === 'string' ? f.service : '',
        instance: typeof f.instance === 'string' ? f.instance : '',
        method: facts.method,
        path: facts.path,
        status: facts.status,
        error: code,
        durationMs: Math.round(durationMs * 1000) / 1000,
        bytesIn: facts.bytesIn,
        bytesOut: facts.bytesOut,
        retries,
      }),
    );
  }
}
