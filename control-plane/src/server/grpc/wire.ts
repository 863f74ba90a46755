/**
 * gRPC over HTTP/2 as the wire sees it (the gRPC "PROTOCOL-HTTP2" document):
 * length-prefixed messages in DATA, `grpc-timeout` on the request, and the
 * status in the trailers (`grpc-status`, percent-encoded `grpc-message`).
 * Nothing here knows about calls or services.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

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
        throw new GrpcWireError(12 /* UNIMPLEMENTED */, 'compressed messages are not accepted: send with grpc-encoding identity');
      const length = head.readUInt32BE(1);
      if (length > this.maxMessage)
        throw new GrpcWireError(8 /* RESOURCE_EXHAUSTED */, `request message of ${length} bytes is over the limit of ${this.maxMessage}`);
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

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/** `grpc-timeout` in milliseconds; undefined when absent. Throws GrpcWireError when malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(Array.isArray(value) ? (value[0] ?? '') : value);
  if (!m) throw new GrpcWireError(13 /* INTERNAL */, `grpc-timeout: ${JSON.stringify(value)} is not 1-8 digits and a unit (H M S m u n)`);
  return Number(m[1]) * TIMEOUT_UNITS[m[2]!]!;
}

/** gRPC's percent-encoding of grpc-message: printable ASCII except '%' stays, every other UTF-8 byte is %XX. */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
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
  out['grpc-status'] = String(status.code);
  if (status.details) out['grpc-message'] = encodeGrpcMessage(status.details);
  return out;
}
