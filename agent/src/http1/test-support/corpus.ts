/**
 * The parser corpus (agent/test-corpus/*.jsonl, written by generate.mjs) and
 * our codec's reading of it without sockets: the same head search, limits
 * and body decoding the server connection and the client connection do, fed
 * in any pieces. Test support only (imported by the corpus tests).
 *
 * An Outcome is what a reader of the bytes would act on: the messages handed
 * on (request line or status, body bytes, whether the body completed) and
 * whether the parser refused the input. Both parsers' outcomes are put in
 * this one shape and compared as strings.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { BodyDecoder } from '../body-decoder.js';
import { Http1Error } from '../errors.js';
import { Framing, parseRequestHead, parseResponseHead } from '../head-parser.js';
import { hasBareLf } from '../server-connection.js';

export interface Disagreement {
  weft: string;
  llhttp: string;
  reason: string;
}

export interface CorpusCase {
  id: string;
  raw: string;
  /** Responses: the method of the request answered. */
  method?: string;
  expect?: Disagreement;
}

const CORPUS_DIR = new URL('../../../test-corpus/', import.meta.url);

/** Every case of the `requests` or `responses` families. */
export function loadCorpus(kind: 'requests' | 'responses'): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (const name of readdirSync(CORPUS_DIR).sort()) {
    if (!name.startsWith(`${kind}-`) || !name.endsWith('.jsonl')) continue;
    const text = readFileSync(new URL(name, CORPUS_DIR), 'utf8');
    for (const line of text.split('\n')) if (line.length > 0) out.push(JSON.parse(line) as CorpusCase);
  }
  return out;
}

export function bytesOf(c: CorpusCase): Buffer {
  return Buffer.from(c.raw, 'latin1');
}

export interface Message {
  /** `METHOD target` for a request, the status code for a response. */
  head: string;
  body: string;
  complete: boolean;
  /** The declared Content-Length when the body is length-framed (never compared; for the fuzz invariants). */
  declared?: number;
}

export interface Outcome {
  messages: Message[];
  refused: boolean;
  /** Why it was refused (diagnostics only, never compared). */
  detail?: string;
}

/**
 * One comparable line per outcome (body bytes as JSON latin1). A refused
 * outcome lists its complete messages only: a message cut by the refusal was
 * aborted whether or not it was handed on first.
 */
export function describe(o: Outcome): string {
  const ms = (o.refused ? o.messages.filter((m) => m.complete) : o.messages).map(
    (m) => `${m.head} ${m.complete ? 'complete' : 'incomplete'} ${JSON.stringify(m.body)}`,
  );
  return `${o.refused ? 'refused' : 'accepted'} [${ms.join(' | ')}]`;
}

/** Limits both servers run the corpus with (node's default maxHeaderSize). */
export const CORPUS_LIMITS = { maxHeaderBytes: 16 * 1024, maxHeaderCount: 100, maxBodyBytes: 64 * 1024 * 1024 };

const HEAD_END = Buffer.from('\r\n\r\n');

/** Thrown inside the drivers for anything that is not one of the codec's typed errors. */
function rethrowUntyped(err: unknown): void {
  if (!(err instanceof Http1Error)) throw err;
}

/**
 * Requests as server-connection.ts reads them: leading empty lines skipped,
 * heads bounded by maxHeaderBytes, bodies by their framing, and nothing read
 * after a request that closes the connection or after a CONNECT.
 */
export function weftRequests(pieces: Buffer[]): Outcome {
  const out: Outcome = { messages: [], refused: false };
  let pending = Buffer.alloc(0);
  let decoder: BodyDecoder | null = null;
  let current: Message | null = null;
  /** The current request is the connection's last (it closes after it). */
  let last = false;
  let stopped = false;
  let parts: Buffer[] = [];
  try {
    for (const piece of pieces) {
      if (stopped) break;
      pending = Buffer.concat([pending, piece]);
      while (!stopped && pending.length > 0) {
        if (decoder !== null) {
          const at = decoder.feed(pending, 0);
          pending = pending.subarray(at);
          if (!decoder.done) break;
          current!.body = Buffer.concat(parts).toString('latin1');
          current!.complete = true;
          decoder = null;
          if (last) stopped = true;
          continue;
        }
        let start = 0;
        while (pending.length - start >= 2 && pending[start] === 13 && pending[start + 1] === 10) start += 2;
        const end = pending.indexOf(HEAD_END, start);
        const max = CORPUS_LIMITS.maxHeaderBytes;
        if (end < 0 || end - start > max) {
          if (end - start > max || pending.length - start > max || hasBareLf(pending, start)) {
            out.refused = true;
            stopped = true;
          }
          break;
        }
        const head = parseRequestHead(pending.toString('latin1', start, end), CORPUS_LIMITS);
        pending = pending.subarray(end + 4);
        current = { head: `${head.method} ${head.url}`, body: '', complete: head.framing === Framing.None };
        if (head.framing === Framing.Length) current.declared = head.contentLength;
        out.messages.push(current);
        parts = [];
        last = head.method === 'CONNECT' || !head.keepAlive;
        if (head.method === 'CONNECT') stopped = true;
        else if (head.framing === Framing.None) stopped = last;
        else {
          const into: Buffer[] = [];
          parts = into;
          decoder = new BodyDecoder(head.framing, head.contentLength, (c) => into.push(Buffer.from(c)), CORPUS_LIMITS.maxBodyBytes);
        }
      }
    }
  } catch (err) {
    rethrowUntyped(err);
    out.refused = true;
  }
  if (current !== null && parts.length > 0) current.body = Buffer.concat(parts).toString('latin1');
  return out;
}

/** A refusal the client connection makes itself (not the parser's): the driver's stand-in for its typed errors. */
class ClientRefusal extends Error {}

/** Largest response head the client accepts (client-connection.ts). */
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

/**
 * One response as client-connection.ts reads it, the connection closing
 * after the last piece: 1xx skipped, 101 refused, and bytes in the same
 * read as the end of a response are an error. Once the response is complete the exchange is over: bytes in later
 * reads only close the connection, so `completedAt` (bytes read when it
 * completed) tells a split test where later bytes stop mattering.
 */
export function weftResponse(pieces: Buffer[], method: string): Outcome & { completedAt?: number } {
  const out: Outcome & { completedAt?: number } = { messages: [], refused: false };
  let pending = Buffer.alloc(0);
  let decoder: BodyDecoder | null = null;
  let current: Message | null = null;
  let read = 0;
  const parts: Buffer[] = [];
  const finish = (): void => {
    current!.body = Buffer.concat(parts).toString('latin1');
    current!.complete = true;
    out.messages.push(current!);
    out.completedAt = read;
  };
  try {
    for (const piece of pieces) {
      read += piece.length;
      pending = Buffer.concat([pending, piece]);
      while (pending.length > 0 || decoder?.done === true) {
        if (decoder !== null) {
          const at = decoder.feed(pending, 0);
          if (!decoder.done) {
            pending = Buffer.alloc(0);
            break;
          }
          if (at < pending.length) throw new ClientRefusal('bytes after the end of the response');
          finish();
          return out;
        }
        const end = pending.indexOf(HEAD_END);
        if (end < 0 || end > MAX_RESPONSE_HEAD_BYTES) {
          if (end > MAX_RESPONSE_HEAD_BYTES || pending.length > MAX_RESPONSE_HEAD_BYTES) throw new ClientRefusal('head too large');
          break;
        }
        const head = parseResponseHead(pending.toString('latin1', 0, end), method);
        pending = pending.subarray(end + 4);
        if (head.statusCode === 101) throw new ClientRefusal('101');
        if (head.statusCode < 200) continue;
        current = { head: String(head.statusCode), body: '', complete: false };
        if (head.framing === Framing.Length) current.declared = head.contentLength;
        decoder = new BodyDecoder(head.framing, head.contentLength, (c) => parts.push(Buffer.from(c)));
      }
    }
    const last = decoder as BodyDecoder | null;
    if (last === null || (!last.done && !last.closed())) throw new ClientRefusal('connection closed before the response was complete');
    finish();
  } catch (err) {
    if (!(err instanceof Http1Error) && !(err instanceof ClientRefusal)) throw err;
    out.refused = true;
  }
  return out;
}

/** `buf` cut at `points` (sorted offsets). */
export function split(buf: Buffer, points: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(buf.subarray(at, p));
    at = p;
  }
  out.push(buf.subarray(at));
  return out;
}
