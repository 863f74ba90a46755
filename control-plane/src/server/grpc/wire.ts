/**
 * gRPC over HTTP/2 as the wire sees it (the gRPC "PROTOCOL-HTTP2" document):
 * length-prefixed messages in DATA, `grpc-timeout` on the request, and the
 * status in the trailers (`grpc-status`, percent-encoded `grpc-message`).
 * Nothing here knows about calls or services.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { encodeGrpcMessage, GRPC_MESSAGE_HEADER, GRPC_STATUS_HEADER, parseGrpcTimeout } from '@weft/shared/grpc-wire';

export const GRPC_CONTENT_TYPE = 'application/grpc';
/** Largest request message accepted (grpc-js's default receive limit). */
export const MAX_RECEIVE_MESSAGE = 4 * 1024 * 1024;

/** A status to end a call with, as handlers give it (the grpc-js ServerErrorResponse shape). */
export interface CallStatus {
  code: number;
  details?: string;
  metadata?: grpc.Metadata;
}

/** A request stream broke a rule of the gRPC framing; the call ends with `code`. */
export class GrpcWireError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The 5-byte prefix and the message, in one buffer (one DATA frame's payload for a small message). */
export function frameMessage(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/**
 * Splits the request's DATA into messages. Compressed messages are refused
 * (the server never advertises an encoding, so a conforming client sends none),
 * and so is a message over `maxMessage` bytes, before its bytes are gathered.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly onMessage: (message: Buffer) => void,
    private readonly maxMessage = MAX_RECEIVE_MESSAGE,
  ) {}

  /** True while a message is partly received (the stream must not end here). */
  get midMessage(): boolean {
    return this.buffered > 0;
  }

  /** Throws GrpcWireError for a compressed or oversized message. */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 5) {
      const head = this.peek(5);
      if (head[0] !== 0)
        throw new GrpcWireError(grpc.status.UNIMPLEMENTED, 'compressed messages are not accepted: send with grpc-encoding identity');
      const length = head.readUInt32BE(1);
      if (length > this.maxMessage)
        throw new GrpcWireError(
          grpc.status.RESOURCE_EXHAUSTED,
          `request message of ${length} bytes is over the limit of ${this.maxMessage}`,
        );
      if (this.buffered < 5 + length) return;
      const whole = this.take(5 + length);
      this.onMessage(whole.subarray(5));
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }
}

/** The request's `grpc-timeout` in milliseconds; undefined when absent. Throws GrpcWireError when malformed. */
export function grpcDeadlineMs(value: string | string[] | undefined): number | undefined {
  const ms = parseGrpcTimeout(Array.isArray(value) ? value[0] : value);
  if (ms !== undefined && Number.isNaN(ms))
    throw new GrpcWireError(grpc.status.INTERNAL, `grpc-timeout: ${JSON.stringify(value)} is not 1-8 digits and a unit (H M S m u n)`);
  return ms;
}

/** Request headers that are transport, not metadata. */
const NOT_METADATA = new Set(['content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'content-length']);

/** The custom metadata of a request (`-bin` values base64-decoded), for handlers that read e.g. `authorization`. */
export function metadataOf(headers: IncomingHttpHeaders, MetadataClass: typeof grpc.Metadata): grpc.Metadata {
  const md = new MetadataClass();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || NOT_METADATA.has(name) || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (name.endsWith('-bin')) md.add(name, Buffer.from(v, 'base64'));
      else md.add(name, v);
    }
  }
  return md;
}

/** Trailer (or trailers-only head) fields for a status, with the status's metadata. */
export function statusFields(status: CallStatus): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (status.metadata) {
    for (const [name, value] of Object.entries(status.metadata.getMap())) {
      out[name] = Buffer.isBuffer(value) ? value.toString('base64') : value;
    }
  }
  out[GRPC_STATUS_HEADER] = String(status.code);
  if (status.details) out[GRPC_MESSAGE_HEADER] = encodeGrpcMessage(status.details);
  return out;
}
