/**
 * Finds where a message body ends and hands its data on as it arrives, for
 * every framing (head-parser.ts): a fixed length, chunked (RFC 9112 §7.1:
 * sizes in hex, extensions ignored, trailers read and dropped), or "until
 * the connection closes". Data is handed on as views of the received
 * buffers (no copy); only the chunked framing bytes are looked at one by one.
 * A malformed chunked body throws BodyError; the connection is then unusable.
 */
import { Framing } from './head-parser.js';

export class BodyError extends Error {
  override name = 'BodyError';
  readonly code = 'HPE_INVALID_CHUNK';
}

enum Chunk {
  Size,
  /** Whitespace after the size: only more of it, ';' (an extension) or the line end may follow. */
  SizeSpace,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  EndLf,
}

/** Longest chunk-size accepted (hex digits): 2^52 fits a JS number exactly. */
const MAX_SIZE_DIGITS = 13;
/** Bound on the bytes of trailer fields (dropped, never kept). */
const MAX_TRAILER_BYTES = 16 * 1024;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export class BodyDecoder {
  /** True once the whole body was seen. */
  done: boolean;
  private remaining: number;
  private state = Chunk.Size;
  private digits = 0;
  private trailerBytes = 0;

  constructor(
    private readonly framing: Framing,
    contentLength: number,
    private readonly onData: (chunk: Buffer) => void,
  ) {
    this.done = framing === Framing.None;
    this.remaining = framing === Framing.Length ? contentLength : 0;
  }

  /** True when the body ends with the connection (the caller calls `closed()` then). */
  get untilClose(): boolean {
    return this.framing === Framing.UntilClose;
  }

  /**
   * Consumes body bytes from `buf[at..]`; returns where the body ended in
   * `buf` (the start of whatever follows it), or buf.length when all of it
   * was body. Throws BodyError on malformed chunked framing.
   */
  feed(buf: Buffer, at: number): number {
    if (this.done) return at;
    switch (this.framing) {
      case Framing.Length: {
        const n = Math.min(buf.length - at, this.remaining);
        if (n > 0) {
          this.remaining -= n;
          if (this.remaining === 0) this.done = true;
          this.onData(at === 0 && n === buf.length ? buf : buf.subarray(at, at + n));
        }
        return at + n;
      }
      case Framing.UntilClose:
        if (at < buf.length) this.onData(at === 0 ? buf : buf.subarray(at));
        return buf.length;
      case Framing.Chunked:
        return this.feedChunked(buf, at);
      default:
        return at;
    }
  }

  /** The connection closed: complete for an until-close body, else the body was cut short. */
  closed(): boolean {
    if (this.framing === Framing.UntilClose) this.done = true;
    return this.done;
  }

  private feedChunked(buf: Buffer, at: number): number {
    const end = buf.length;
    let i = at;
    while (i < end) {
      switch (this.state) {
        case Chunk.Data: {
          const n = Math.min(end - i, this.remaining);
          this.remaining -= n;
          this.onData(buf.subarray(i, i + n));
          i += n;
          if (this.remaining === 0) this.state = Chunk.DataCr;
          continue;
        }
        case Chunk.Size: {
          const c = buf[i]!;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new BodyError('chunk size too large');
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) {
            throw new BodyError('invalid chunk size');
          } else if (c === 13) this.state = Chunk.SizeLf;
          else if (c === 59) this.state = Chunk.Extension;
          else if (c === 32 || c === 9) this.state = Chunk.SizeSpace;
          else throw new BodyError('invalid chunk size');
          break;
        }
        case Chunk.SizeSpace: {
          const c = buf[i]!;
          if (c === 13) this.state = Chunk.SizeLf;
          else if (c === 59) this.state = Chunk.Extension;
          else if (c !== 32 && c !== 9) throw new BodyError('invalid chunk size');
          break;
        }
        case Chunk.Extension: {
          const c = buf[i]!;
          if (c === 13) this.state = Chunk.SizeLf;
          else if (c === 10 || c === 0) throw new BodyError('invalid chunk extension');
          break;
        }
        case Chunk.SizeLf:
          if (buf[i] !== 10) throw new BodyError('chunk size line not ended by CRLF');
          this.digits = 0;
          this.state = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        case Chunk.DataCr:
          if (buf[i] !== 13) throw new BodyError('chunk data longer than its size');
          this.state = Chunk.DataLf;
          break;
        case Chunk.DataLf:
          if (buf[i] !== 10) throw new BodyError('chunk data not ended by CRLF');
          this.state = Chunk.Size;
          break;
        case Chunk.TrailerStart:
          this.state = buf[i] === 13 ? Chunk.EndLf : Chunk.Trailer;
          if (this.state === Chunk.Trailer) continue;
          break;
        case Chunk.Trailer:
          if (++this.trailerBytes > MAX_TRAILER_BYTES) throw new BodyError('chunked trailer too large');
          if (buf[i] === 13) this.state = Chunk.TrailerLf;
          else if (buf[i] === 10) throw new BodyError('trailer line not ended by CRLF');
          break;
        case Chunk.TrailerLf:
          if (buf[i] !== 10) throw new BodyError('trailer line not ended by CRLF');
          this.state = Chunk.TrailerStart;
          break;
        case Chunk.EndLf:
          if (buf[i] !== 10) throw new BodyError('last chunk not ended by CRLF');
          this.done = true;
          return i + 1;
      }
      i++;
    }
    return end;
  }
}

/** `chunk` in chunked transfer coding (size line, data, CRLF) as the pieces to write. */
export function chunkSizeLine(length: number): string {
  return `${length.toString(16)}\r\n`;
}

export const LAST_CHUNK = '0\r\n\r\n';
