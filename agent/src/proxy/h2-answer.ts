/**
 * Streams an upstream's HTTP/2 answer to the client's stream after its head
 * went out: body chunks with backpressure (the upstream stream is paused
 * while the client's is full, so HTTP/2 flow control holds the upstream
 * back), then the upstream's trailers, or our own when the answer fails
 * midway on a gRPC call (upstream reset: UNAVAILABLE / upstream_reset; a
 * call deadline: DEADLINE_EXCEEDED / upstream_timeout). A client that goes
 * away cancels the upstream stream; an upstream CANCEL is passed on as
 * CANCEL. One object per answer, its handlers as methods (this runs for
 * every call). Body chunks are held to the end of the read that brought
 * them (h2-held-chunks.ts), so a unary answer's DATA and trailers leave in
 * one write.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import { MeshErrorCode } from '@weft/shared';
import { H2Error } from '@weft/shared/http2-codec/frames';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import { writeWithinBuffer } from '../http2/h2-settings.js';
import type { Deadline } from './deadline.js';
import { grpcFailureFields } from './grpc-rescue.js';
import type { H2Response } from './h2-forward.js';
import { h2Trailers } from './h2-headers.js';
import { HeldChunks } from './h2-held-chunks.js';
import { CLIENT_GONE } from './pipeline.js';

const { CANCEL: NGHTTP2_CANCEL, INTERNAL_ERROR: NGHTTP2_INTERNAL_ERROR } = H2Error;

export interface H2AnswerOptions {
  grpc: boolean;
  /** The deadline of the whole call, if any, and whether it is the mesh's own (for the message). */
  deadline: Deadline | undefined;
  deadlineIsMesh: boolean;
  /** "service orders: instance ..." for messages. */
  target: string;
  /** Called once when the answer is over, with the metrics code ('' or the mesh code for a normal end). */
  done: (code: string) => void;
  /** A failure worth a log line (a reset mid-answer, a deadline). */
  onFailure: (code: MeshErrorCode, detail: string) => void;
  /** The code of a normal end. */
  okCode: string;
}

export class H2AnswerStream {
  private finished = false;
  /** Body bytes written to the client (the access log's bytesOut). */
  bytesSent = 0;
  private ownTrailers: OutgoingHttpHeaders | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private waitingForDrain = false;
  private readonly held = new HeldChunks((chunk) => this.writeChunk(chunk));

  constructor(
    private readonly client: H2ServerStream,
    private readonly response: H2Response,
    private readonly o: H2AnswerOptions,
  ) {
    const up = response.stream;
    client.on('wantTrailers', this.onWantTrailers);
    client.once('close', this.onClientClose);
    up.on('data', this.onData);
    up.once('end', this.onEnd);
    up.once('close', this.onUpstreamClose);
    if (o.deadline !== undefined) this.timer = setTimeout(this.onDeadline, o.deadline.remainingMs());
  }

  private finish(code: string): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.client.off('close', this.onClientClose);
    this.o.done(code);
  }

  /** Ends the client's stream with our own trailers (a gRPC failure after the head went out), after what was received. */
  private endWith(trailers: OutgoingHttpHeaders): void {
    this.ownTrailers = trailers;
    this.held.release();
    const c = this.client;
    if (!c.destroyed && !c.writableEnded) c.end();
  }

  private readonly onWantTrailers = (): void => {
    try {
      this.client.sendTrailers(this.ownTrailers ?? h2Trailers(this.response.trailers, true));
    } catch {
      // The client's stream closed meanwhile.
    }
  };

  private readonly onData = (chunk: Buffer): void => {
    this.bytesSent += chunk.length;
    this.held.hold(chunk);
  };

  private writeChunk(chunk: Buffer): void {
    const c = this.client;
    if (c.destroyed || c.writableEnded) return;
    if (!writeWithinBuffer(c, chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.response.stream.pause();
      c.once('drain', this.onDrain);
    }
  }

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    this.response.stream.resume();
  };

  private readonly onEnd = (): void => {
    // The last chunk and the end in the same tick: one write for DATA and trailers.
    this.held.release();
    const c = this.client;
    if (!c.destroyed && !c.writableEnded) c.end();
    this.finish(this.o.okCode);
  };

  private readonly onUpstreamClose = (): void => {
    const up = this.response.stream;
    if (this.finished || up.readableEnded) return;
    const rst = up.rstCode ?? NGHTTP2_INTERNAL_ERROR;
    this.o.onFailure(MeshErrorCode.upstreamReset, `stream reset mid-response (RST_STREAM code ${rst})`);
    if (rst === NGHTTP2_CANCEL) {
      this.held.drop();
      if (!this.client.closed) this.client.close(NGHTTP2_CANCEL);
    } else if (this.o.grpc) {
      this.endWith(grpcFailureFields(MeshErrorCode.upstreamReset, `${this.o.target}: stream reset mid-response (RST_STREAM code ${rst})`));
    } else {
      this.held.drop();
      if (!this.client.closed) this.client.close(NGHTTP2_INTERNAL_ERROR);
    }
    this.finish(MeshErrorCode.upstreamReset);
  };

  private readonly onClientClose = (): void => {
    this.held.drop();
    const up = this.response.stream;
    if (!up.closed) up.close(NGHTTP2_CANCEL);
    this.finish(CLIENT_GONE);
  };

  private readonly onDeadline = (): void => {
    if (this.finished) return;
    const up = this.response.stream;
    if (!up.closed) up.close(NGHTTP2_CANCEL);
    const which = this.o.deadlineIsMesh ? 'mesh deadline' : "call's deadline";
    const message = `${this.o.target}: no complete answer within the ${this.o.deadline?.budgetMs} ms ${which}`;
    this.o.onFailure(MeshErrorCode.upstreamTimeout, message);
    this.endWith(grpcFailureFields(MeshErrorCode.upstreamTimeout, message));
    this.finish(MeshErrorCode.upstreamTimeout);
  };
}
