/**
 * Finds where a message body ends and hands its data on as it arrives, for
 * every framing (head-parser.ts): a fixed length, chunked (RFC 9112 §7.1:
 * sizes in hex, extensions checked against the grammar and ignored, trailer
 * fields checked like header fields and dropped), or "until the connection closes". Data is handed on as
 * views of the received buffers (no copy); only the chunked framing bytes
 * are looked at one by one. A malformed chunked body throws
 * MalformedBodyError, a chunked body over `maxBytes` BodyTooLargeError
 * (errors.ts); the connection is then unusable.
 *
 * Bounds: a chunk-size line (size and extensions) is at most
 * MAX_CHUNK_LINE_BYTES; trailer fields at most MAX_TRAILER_BYTES in all; a
 * size at most MAX_SIZE_DIGITS hex digits (leading zeros count). No
 * whitespace is accepted in a chunk-size line (as llhttp in strict mode).
 */
import { BodyTooLargeError, MalformedBodyError } from './errors.js';
import { Framing } from './head-parser.js';

enum Chunk {
  Size,
  /** Whitespace after the size: only more of it, ';' (an extension) or the line end may follow. */
  SizeSpace,
  /** After ';': optional whitespace, then an extension name. */
  ExtStart,
  ExtName,
  /** Whitespace after a name: '=', ';' or the line end may follow. */
  ExtNameSpace,
  /** After '=': optional whitespace, then a token or a quoted string. */
  ExtValueStart,
  ExtToken,
  ExtQuoted,
  ExtQuotedEscape,
  /** After a value: whitespace, ';' or the line end. */
  ExtAfterValue,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerName,
  /** A trailer field's value (after its colon). */
  Trailer,
  TrailerLf,
  EndLf,
}

/** Longest chunk-size accepted (hex digits): 2^52 fits a JS number exactly. */
const MAX_SIZE_DIGITS = 13;
/** Bound on one chunk-size line with its extensions (extensions are dropped, never kept). */
export const MAX_CHUNK_LINE_BYTES = 4 * 1024;
/** Bound on the bytes of trailer fields (dropped, never kept). */
const MAX_TRAILER_BYTES = 16 * 1024;

/** tchar (RFC 9110 §5.6.2) by byte. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR but '"' and '\\', obs-text. */
function isQdText(c: number): boolean {
  return c === 9 || c === 32 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

export class BodyDecoder {
  /** True once the whole body was seen. */
  done: boolean;
  private remaining: number;
  private state = Chunk.Size;
  private digits = 0;
  private trailerBytes = 0;
  private lineBytes = 0;
  /** Chunk data bytes seen so far (bounded by maxBytes). */
  private total = 0;

  /** `maxBytes` bounds a chunked body (a length-framed one is bounded by its head). */
  constructor(
    private readonly framing: Framing,
    contentLength: number,
    private readonly onData: (chunk: Buffer) => void,
    private readonly maxBytes = Number.MAX_SAFE_INTEGER,
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
   * was body. Throws MalformedBodyError or BodyTooLargeError (chunked only).
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
          this.lineBytes++;
          if (v >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new MalformedBodyError('chunk size too large');
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) {
            throw new MalformedBodyError('invalid chunk size');
          } else if (c === 13) this.state = Chunk.SizeLf;
          else if (c === 59) this.state = Chunk.ExtStart;
          else throw new MalformedBodyError('invalid chunk size');
          break;
        }
        case Chunk.SizeSpace:
        case Chunk.ExtStart:
        case Chunk.ExtName:
        case Chunk.ExtNameSpace:
        case Chunk.ExtValueStart:
        case Chunk.ExtToken:
        case Chunk.ExtQuoted:
        case Chunk.ExtQuotedEscape:
        case Chunk.ExtAfterValue:
          if (++this.lineBytes > MAX_CHUNK_LINE_BYTES) {
            throw new MalformedBodyError(`chunk size line longer than ${MAX_CHUNK_LINE_BYTES} bytes`);
          }
          this.extension(buf[i]!);
          break;
        case Chunk.SizeLf:
          if (buf[i] !== 10) throw new MalformedBodyError('chunk size line not ended by CRLF');
          this.digits = 0;
          this.lineBytes = 0;
          this.total += this.remaining;
          if (this.total > this.maxBytes) throw new BodyTooLargeError(`chunked body larger than the limit of ${this.maxBytes} bytes`);
          this.state = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        case Chunk.DataCr:
          if (buf[i] !== 13) throw new MalformedBodyError('chunk data longer than its size');
          this.state = Chunk.DataLf;
          break;
        case Chunk.DataLf:
          if (buf[i] !== 10) throw new MalformedBodyError('chunk data not ended by CRLF');
          this.state = Chunk.Size;
          break;
        case Chunk.TrailerStart: {
          const c = buf[i]!;
          if (c === 13) this.state = Chunk.EndLf;
          else if (TOKEN[c] === 1) this.state = Chunk.TrailerName;
          else throw new MalformedBodyError(c === 32 || c === 9 ? 'folded trailer line (obs-fold)' : 'invalid trailer field name');
          this.trailerBytes++;
          break;
        }
        case Chunk.TrailerName: {
          const c = buf[i]!;
          if (++this.trailerBytes > MAX_TRAILER_BYTES) throw new MalformedBodyError('chunked trailer too large');
          if (c === 58) this.state = Chunk.Trailer;
          else if (TOKEN[c] !== 1) throw new MalformedBodyError('invalid trailer field name');
          break;
        }
        case Chunk.Trailer: {
          const c = buf[i]!;
          if (++this.trailerBytes > MAX_TRAILER_BYTES) throw new MalformedBodyError('chunked trailer too large');
          if (c === 13) this.state = Chunk.TrailerLf;
          else if (c === 10) throw new MalformedBodyError('trailer line not ended by CRLF');
          else if ((c < 32 && c !== 9) || c === 127) throw new MalformedBodyError('control character in a trailer field value');
          break;
        }
        case Chunk.TrailerLf:
          if (buf[i] !== 10) throw new MalformedBodyError('trailer line not ended by CRLF');
          this.state = Chunk.TrailerStart;
          break;
        case Chunk.EndLf:
          if (buf[i] !== 10) throw new MalformedBodyError('last chunk not ended by CRLF');
          this.done = true;
          return i + 1;
      }
      i++;
    }
    return end;
  }

  /** One byte of a chunk-size line after the size (RFC 9112 §7.1.1 chunk-ext, with BWS around ';' and '='). */
  private extension(c: number): void {
    const ws = c === 32 || c === 9;
    // RFC 9112 allows BWS around ';' and '='; llhttp (strict) refuses it, and so do we: two hops must read one line alike.
    if (ws && this.state !== Chunk.ExtQuoted && this.state !== Chunk.ExtQuotedEscape) {
      throw new MalformedBodyError('whitespace in a chunk size line');
    }
    switch (this.state) {
      case Chunk.SizeSpace:
      case Chunk.ExtAfterValue:
        if (c === 13) this.state = Chunk.SizeLf;
        else if (c === 59) this.state = Chunk.ExtStart;
        else if (!ws) throw new MalformedBodyError(this.state === Chunk.SizeSpace ? 'invalid chunk size' : 'invalid chunk extension');
        return;
      case Chunk.ExtStart:
        if (TOKEN[c] === 1) this.state = Chunk.ExtName;
        else if (!ws) throw new MalformedBodyError('invalid chunk extension (no name)');
        return;
      case Chunk.ExtName:
      case Chunk.ExtNameSpace:
        if (c === 13) this.state = Chunk.SizeLf;
        else if (c === 59) this.state = Chunk.ExtStart;
        else if (c === 61) this.state = Chunk.ExtValueStart;
        else if (ws) this.state = Chunk.ExtNameSpace;
        else if (this.state === Chunk.ExtNameSpace || TOKEN[c] !== 1) throw new MalformedBodyError('invalid chunk extension name');
        return;
      case Chunk.ExtValueStart:
        if (c === 34) this.state = Chunk.ExtQuoted;
        else if (TOKEN[c] === 1) this.state = Chunk.ExtToken;
        else if (!ws) throw new MalformedBodyError('invalid chunk extension value');
        return;
      case Chunk.ExtToken:
        if (c === 13) this.state = Chunk.SizeLf;
        else if (c === 59) this.state = Chunk.ExtStart;
        else if (ws) this.state = Chunk.ExtAfterValue;
        else if (TOKEN[c] !== 1) throw new MalformedBodyError('invalid chunk extension value');
        return;
      case Chunk.ExtQuoted:
        if (c === 34) this.state = Chunk.ExtAfterValue;
        else if (c === 92) this.state = Chunk.ExtQuotedEscape;
        else if (!isQdText(c)) throw new MalformedBodyError('invalid chunk extension quoted value');
        return;
      case Chunk.ExtQuotedEscape:
        if (c === 9 || (c >= 32 && c !== 127)) this.state = Chunk.ExtQuoted;
        else throw new MalformedBodyError('invalid chunk extension quoted value');
        return;
      default:
        throw new MalformedBodyError('invalid chunk extension');
    }
  }
}

/** `chunk` in chunked transfer coding (size line, data, CRLF) as the pieces to write. */
export function chunkSizeLine(length: number): string {
  return `${length.toString(16)}\r\n`;
}

export const LAST_CHUNK = '0\r\n\r\n';
