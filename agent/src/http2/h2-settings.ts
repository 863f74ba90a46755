/**
 * HTTP/2 settings both sides of the agent use (accepted sessions and the
 * upstream session pool). Flow control is what bounds memory: a stream
 * whose reader is slow stops being read, its window is not re-opened, and
 * the sender stops after at most STREAM_WINDOW bytes; so a slow reader
 * costs the agent about one stream window on each side, never the whole
 * message. The windows are larger than HTTP/2's 64 KiB default so one
 * stream can move hundreds of MiB/s over a fast link (a 64 KiB window caps
 * a stream at 64 KiB per round trip, event-loop turns included).
 */
import type { Writable } from 'node:stream';
import type { H2ConnectionSettings } from '@weft/shared/http2-codec/connection';

/** Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE). */
export const STREAM_WINDOW = 1024 * 1024;
/** Receive window of a whole session (all its streams together). */
export const SESSION_WINDOW = 16 * 1024 * 1024;
/** Streams a peer may open at once on one session. */
export const MAX_CONCURRENT_STREAMS = 1000;
/**
 * Bytes a stream the agent writes to may hold buffered before the stream
 * that feeds it is paused. node's default (a stream's highWaterMark, 16 KiB)
 * is less than one 64 KiB DATA frame, so every frame of a large body paused
 * and resumed its source; the flow-control windows above are what bound a
 * slow reader's cost, this only adds at most this much per stream.
 */
export const STREAM_WRITE_BUFFER = 256 * 1024;

/** Writes `chunk` to `stream`; false once the stream holds more than STREAM_WRITE_BUFFER bytes (pause the source until 'drain'). */
export function writeWithinBuffer(stream: Writable, chunk: Buffer): boolean {
  stream.write(chunk);
  return stream.writableLength <= STREAM_WRITE_BUFFER;
}
/** Largest decoded header block accepted (SETTINGS_MAX_HEADER_LIST_SIZE). */
export const MAX_HEADER_LIST_SIZE = 64 * 1024;

/** The settings of every connection of the agent's HTTP/2 codec, both sides. */
export const CODEC_SETTINGS: H2ConnectionSettings = {
  initialWindowSize: STREAM_WINDOW,
  connectionWindowSize: SESSION_WINDOW,
  maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
  maxFrameSize: 64 * 1024,
  maxHeaderListSize: MAX_HEADER_LIST_SIZE,
  streamWriteBuffer: STREAM_WRITE_BUFFER,
};
