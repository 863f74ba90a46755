/**
 * One gRPC call on one HTTP/2 stream of the codec, as the handlers see it.
 *
 * Contract with the handlers (written for grpc-js's server calls): a call
 * offers `request` (unary), `metadata`, `getPeer()`, `getAuthContext()`,
 * `getPath()`, `cancelled`; a bidirectional call also `write(message)`,
 * `end()`, the events 'data' (a decoded request), 'end' (the client
 * half-closed), 'cancelled' (the client reset, the connection went or the
 * deadline passed), 'close' (the call is over, however it ended), and
 * `emit('error', status)` ends the call with that status, as in grpc-js.
 * The handlers use nothing else of grpc-js's call objects.
 *
 * A call sends its status once: the first of end(), an 'error' status, a
 * unary callback, a wire error or the deadline wins; later writes and
 * statuses are dropped.
 */
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http2';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { H2Error } from '@weft/shared/http2-codec/frames';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import { type CallStatus, frameMessage, GRPC_CONTENT_TYPE, GrpcWireError, MessageReader, metadataOf, statusFields } from './wire.js';

export interface MethodCodec {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: never) => Buffer;
}

const RESPONSE_HEAD = { ':status': 200, 'content-type': GRPC_CONTENT_TYPE };

/** What the control plane reads of a client certificate (caller.ts): its SANs and serial. */
export type PeerIdentity = Pick<PeerCertificate, 'subjectaltname' | 'serialNumber'>;
export type AuthContext = { transportSecurityType?: string; sslPeerCertificate?: PeerIdentity };

/** A connection's certificate does not change (renegotiation is off in TLS 1.3), so it is read once per connection. */
const authContexts = new WeakMap<object, AuthContext>();

/**
 * Keeps only the fields the control plane reads: node's certificate object
 * (raw DER, public key, fingerprints, issuer and subject maps) would stay
 * as long as the agent's connection, a few KiB per agent.
 */
function authContextOf(socket: Partial<TLSSocket>): AuthContext {
  if (typeof socket.getPeerCertificate !== 'function') return {};
  if (!socket.authorized) return { transportSecurityType: 'ssl' };
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { transportSecurityType: 'ssl' };
  return { transportSecurityType: 'ssl', sslPeerCertificate: { subjectaltname: cert.subjectaltname, serialNumber: cert.serialNumber } };
}

export class ServerCall extends EventEmitter {
  readonly metadata: grpc.Metadata;
  cancelled = false;
  /** The status was sent (or the stream is gone): nothing more leaves. */
  protected finished = false;
  private deadline: NodeJS.Timeout | undefined;
  protected readonly reader: MessageReader;

  constructor(
    protected readonly stream: H2ServerStream,
    headers: IncomingHttpHeaders,
    protected readonly method: MethodCodec,
    timeoutMs: number | undefined,
  ) {
    super();
    this.metadata = metadataOf(headers, grpc.Metadata);
    this.reader = new MessageReader((bytes) => this.onMessage(bytes));
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => {
        // The handler learns it is cancelled; the client gets the status (its own deadline has passed too).
        this.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: `deadline of ${timeoutMs} ms exceeded` });
        this.markCancelled();
      }, timeoutMs);
      this.deadline.unref();
    }
    stream.on('data', (chunk: Buffer) => {
      if (this.finished) return;
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.failWire(err);
      }
    });
    stream.on('end', () => {
      if (this.finished) return;
      // A client that half-closes and resets at once (grpc-js's cancel) is cancelling, not ending its requests.
      if (stream.rstCode !== undefined && stream.rstCode !== H2Error.NO_ERROR) {
        this.markCancelled();
        return;
      }
      if (this.reader.midMessage) this.failWire(new GrpcWireError(grpc.status.INTERNAL, 'the request ended inside a message'));
      else this.onRequestEnd();
    });
    stream.on('close', () => {
      clearTimeout(this.deadline);
      // Reset by the client or the connection went before we sent the status: the call is cancelled.
      if (!this.finished) this.markCancelled();
      this.finished = true;
      this.emit('close');
    });
  }

  getPeer(): string {
    const s = this.stream.session.socket;
    const host = s.remoteAddress ?? 'unknown';
    return `${host.includes(':') ? `[${host}]` : host}:${s.remotePort ?? 0}`;
  }

  getPath(): string {
    return this.method.path;
  }

  /** As grpc-js: the peer certificate only when the TLS handshake verified it against the CA bundle. */
  getAuthContext(): AuthContext {
    const socket = this.stream.session.socket;
    let context = authContexts.get(socket);
    if (!context) {
      context = authContextOf(socket as Partial<TLSSocket>);
      authContexts.set(socket, context);
    }
    return context;
  }

  /** Sends one response message (the head goes before the first). */
  protected sendMessage(value: unknown): void {
    if (this.finished) return;
    if (!this.stream.headersSent) this.stream.respond(RESPONSE_HEAD, { waitForTrailers: true });
    this.stream.write(frameMessage(this.method.responseSerialize(value as never)));
  }

  protected clearDeadline(): void {
    clearTimeout(this.deadline);
  }

  /** Ends the call with `status`: trailers after a head, or a trailers-only answer. */
  sendStatus(status: CallStatus): void {
    if (this.finished) return;
    this.finished = true;
    this.clearDeadline();
    const fields = statusFields(status);
    if (!this.stream.headersSent) {
      this.stream.respond({ ...RESPONSE_HEAD, ...fields }, { endStream: true });
      return;
    }
    this.stream.once('wantTrailers', () => this.stream.sendTrailers(fields));
    this.stream.end();
  }

  private markCancelled(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.finished = true;
    this.emit('cancelled');
  }

  /** Ends the call on a framing error. The rest of the request is not read: once the status is queued the stream is reset with NO_ERROR (stream.ts). */
  private failWire(err: unknown): void {
    const wire = err instanceof GrpcWireError ? err : new GrpcWireError(grpc.status.INTERNAL, String(err));
    this.sendStatus({ code: wire.code, details: wire.message });
  }

  protected decode(bytes: Buffer): unknown {
    try {
      return this.method.requestDeserialize(bytes);
    } catch (err) {
      throw new GrpcWireError(grpc.status.INTERNAL, `cannot parse the request message: ${(err as Error).message}`);
    }
  }

  protected onMessage(_bytes: Buffer): void {}
  protected onRequestEnd(): void {}
}

type UnaryHandler = (call: UnaryCall, callback: (err: CallStatus | null, value?: unknown) => void) => void;

/** A unary call: the handler runs once the one request message and the end of the request arrived. */
export class UnaryCall extends ServerCall {
  request: unknown = undefined;
  private received = false;

  constructor(
    stream: H2ServerStream,
    headers: IncomingHttpHeaders,
    method: MethodCodec,
    timeoutMs: number | undefined,
    private readonly handler: UnaryHandler,
  ) {
    super(stream, headers, method, timeoutMs);
  }

  protected override onMessage(bytes: Buffer): void {
    if (this.received) throw new GrpcWireError(grpc.status.INTERNAL, 'a unary call carries one request message, got more');
    this.received = true;
    this.request = this.decode(bytes);
  }

  protected override onRequestEnd(): void {
    if (!this.received) {
      this.sendStatus({ code: grpc.status.INTERNAL, details: 'the request carried no message' });
      return;
    }
    this.handler(this, (err, value) => {
      if (err) this.sendStatus(err);
      else this.sendAnswer(value);
    });
  }

  /** Head, message and OK trailers queued together: they leave in one write (stream.ts finishWith). */
  private sendAnswer(value: unknown): void {
    if (this.finished) return;
    let message: Buffer;
    try {
      message = frameMessage(this.method.responseSerialize(value as never));
    } catch (err) {
      this.sendStatus({ code: grpc.status.INTERNAL, details: `cannot encode the response: ${(err as Error).message}` });
      return;
    }
    this.finished = true;
    this.clearDeadline();
    this.stream.respond(RESPONSE_HEAD);
    // Never false here (the fallback finishWith leaves to its caller): a unary call wrote nothing before its answer.
    this.stream.finishWith(message, statusFields({ code: grpc.status.OK }));
  }
}

/** A bidirectional-streaming call: 'data' per request, write() per response, end() or an 'error' status ends it. */
export class DuplexCall extends ServerCall {
  constructor(stream: H2ServerStream, headers: IncomingHttpHeaders, method: MethodCodec, timeoutMs: number | undefined) {
    super(stream, headers, method, timeoutMs);
    this.on('error', (status: CallStatus) => this.sendStatus(status));
  }

  write(value: unknown): boolean {
    this.sendMessage(value);
    return true;
  }

  end(): void {
    this.sendStatus({ code: grpc.status.OK });
  }

  protected override onMessage(bytes: Buffer): void {
    this.emit('data', this.decode(bytes));
  }

  protected override onRequestEnd(): void {
    this.emit('end');
  }
}
