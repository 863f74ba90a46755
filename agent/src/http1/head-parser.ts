/**
 * HTTP/1.1 message heads (RFC 9112), parsed in one pass over the bytes
 * before the blank line. Strict where leniency lets two parties read one
 * message two ways (request smuggling): lines end in CRLF only, no space
 * before a field's colon, no obs-fold, no control characters in values,
 * Content-Length is digits only and appears once, Transfer-Encoding and
 * Content-Length never together in a request, and a request's
 * Transfer-Encoding is exactly `chunked`. A response may not carry
 * Content-Length with Transfer-Encoding, nor Content-Length twice. Every
 * refusal is a MalformedHeadError (400), HeadTooLargeError (431) or
 * BodyTooLargeError (413) naming the field and what was wrong (errors.ts);
 * nothing is guessed.
 *
 * Request header maps (and headerMapOf for responses) follow node:http's shape (lowercase names; a repeated field is
 * joined with ", ", except set-cookie, kept as an array, and fields that may
 * appear only once, where the first wins), so the proxy code reads
 * `headers.host` as it would from node.
 */

import { BodyTooLargeError, HeadTooLargeError, MalformedHeadError } from './errors.js';

export type HeaderMap = Record<string, string | string[]>;

/** Request headers: `host` is a field that appears once (a string). */
export type RequestHeaderMap = HeaderMap & { host?: string };

/** How the body of a message is delimited (a fact the proxy forwards by: a chunked or close-delimited body has no Content-Length). */
export enum Framing {
  /** No body. */
  None = 'none',
  /** Exactly `contentLength` bytes. */
  Length = 'length',
  /** Chunked transfer coding. */
  Chunked = 'chunked',
  /** Everything until the connection closes (responses only). */
  UntilClose = 'close',
}

interface CommonHead {
  /** Name, value, name, value... as received (names in their original case). */
  rawHeaders: string[];
  httpVersion: '1.0' | '1.1';
  framing: Framing;
  /** The Content-Length, or -1. */
  contentLength: number;
  /** Whether the connection may carry another message after this one. */
  keepAlive: boolean;
}

/** A request head: raw fields and the few the server itself needs (headerMapOf builds the map). */
export interface RequestHead extends CommonHead {
  /** The first Host field, or undefined. */
  host: string | undefined;
  /** How many Host fields were sent (a request has exactly one). */
  hostCount: number;
  method: string;
  url: string;
  /** `Expect: 100-continue` was sent. */
  expectContinue: boolean;
  /** An Expect header other than 100-continue (answered 417). */
  unsupportedExpect: string | undefined;
}

/** A response head: raw fields only (most responses are forwarded without ever needing a map; headerMapOf builds one). */
export interface ResponseHead extends CommonHead {
  /** The Connection field (joined when repeated), or undefined. */
  connection: string | undefined;
  /** The idle time the server keeps the connection open, from `Keep-Alive: timeout=N` (ms), or undefined. */
  keepAliveTimeoutMs: number | undefined;
  /** The first value of the field the client was asked to note (its `noteField` option), or undefined. */
  noted: string | undefined;
  statusCode: number;
  statusMessage: string;
}

/** tchar (RFC 9110 §5.6.2) by char code. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/** Fields of which only the first occurrence is kept (node:http's list). */
const FIRST_WINS = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TOKEN[c] === 0) return false;
  }
  return true;
}

/**
 * Any character a head may not contain: a control character other than HTAB
 * (in a value or anywhere else), or a CR or LF that is not part of a CRLF
 * line end. One scan of the whole head instead of one per field.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const BAD_HEAD_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
/** The control characters alone (one character class: a fast scan). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/**
 * True when `text` holds a character a head may not: a control character
 * (CONTROL_CHAR), or a CR or LF that is not part of a CRLF. The line breaks
 * are checked by walking the CRLFs (two native searches per line) instead of
 * BAD_HEAD_CHAR's lookarounds, which cost more per character.
 */
function hasBadHeadChar(text: string): boolean {
  if (CONTROL_CHAR.test(text)) return true;
  let at = 0;
  for (;;) {
    const cr = text.indexOf('\r', at);
    const lf = text.indexOf('\n', at);
    if (cr < 0) return lf >= 0;
    if (lf !== cr + 1) return true;
    at = lf + 1;
  }
}

/** The error for a head that failed BAD_HEAD_CHAR: names the line (and field) holding the character. */
function badCharError(text: string, what: string): MalformedHeadError {
  const at = text.search(BAD_HEAD_CHAR);
  const lineStart = text.lastIndexOf('\r\n', at) + 2;
  if (lineStart < 2) return new MalformedHeadError(`malformed ${what} line: control character or bare line break`);
  const colon = text.indexOf(':', lineStart);
  const name = colon > lineStart && colon < at ? text.slice(lineStart, colon).toLowerCase() : undefined;
  return new MalformedHeadError(
    name ? `${name}: control character in the value` : `${what}: control character or bare line break in a header line`,
  );
}

function quoted(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

/** The parts both heads share: fields and the framing they imply. */
interface Fields {
  rawHeaders: string[];
  contentLengths: number;
  transferEncoding: string | undefined;
  connection: string | undefined;
  expect: string | undefined;
  keepAlive: string | undefined;
  host: string | undefined;
  hostCount: number;
  /** The first Content-Length value. */
  contentLength: string | undefined;
  /** The first value of the noted field (parseFields' `note`). */
  noted: string | undefined;
}

/** Adds one field to a node-style header map (see the file comment). */
function addToMap(headers: HeaderMap, name: string, value: string): void {
  const key = name.toLowerCase();
  const prev = headers[key];
  if (prev === undefined) headers[key] = key === 'set-cookie' ? [value] : value;
  else if (Array.isArray(prev)) prev.push(value);
  else if (key === 'cookie') headers[key] = `${prev}; ${value}`;
  else if (!FIRST_WINS.has(key)) headers[key] = `${prev}, ${value}`;
}

/** The node-style header map of received fields (name, value, name, value...). */
export function headerMapOf(rawHeaders: readonly string[]): HeaderMap {
  const headers: HeaderMap = {};
  for (let i = 0; i < rawHeaders.length; i += 2) addToMap(headers, rawHeaders[i]!, rawHeaders[i + 1]!);
  return headers;
}

/** True when `name` (any case) equals `lower` (a lowercase name): a length check before any string work. */
export function isField(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  if (name === lower) return true;
  // Case-insensitive without allocating a lowercased copy; most mismatches end at the first character.
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses the field lines of `text` from `at` (just after the start line's
 * CRLF) to the end, into raw name/value pairs and the fields that decide the
 * framing; `map` (when given) gets every field too. `maxFields` bounds how
 * many are kept (431 beyond).
 */
function parseFields(
  text: string,
  at: number,
  maxFields: number,
  what: string,
  map: HeaderMap | undefined,
  note: string | undefined,
): Fields {
  const rawHeaders: string[] = [];
  let contentLengths = 0;
  let transferEncoding: string | undefined;
  let connection: string | undefined;
  let expect: string | undefined;
  let keepAlive: string | undefined;
  let host: string | undefined;
  let hostCount = 0;
  let contentLength: string | undefined;
  let noted: string | undefined;
  const noteLength = note === undefined ? -1 : note.length;
  const end = text.length;
  while (at < end) {
    let eol = text.indexOf('\r\n', at);
    if (eol < 0) eol = end;
    const first = text.charCodeAt(at);
    if (first === 32 || first === 9) throw new MalformedHeadError(`${what}: folded header line (obs-fold) is not accepted`);
    const colon = text.indexOf(':', at);
    if (colon < 0 || colon > eol) throw new MalformedHeadError(`${what}: header line without ':' (${quoted(text.slice(at, eol))})`);
    if (!isToken(text, at, colon)) throw new MalformedHeadError(`${what}: invalid header name ${quoted(text.slice(at, colon))}`);
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    const name = text.slice(at, colon);
    const value = text.slice(vs, ve);
    if (rawHeaders.length >= 2 * maxFields) throw new HeadTooLargeError(`${what} has more than ${maxFields} header fields`);
    rawHeaders.push(name, value);
    if (map !== undefined) addToMap(map, name, value);
    // Only the names that decide framing (and the noted one) are compared: lengths first, no string work for the others.
    if (name.length === noteLength && noted === undefined && isField(name, note!)) noted = value;
    switch (name.length) {
      case 14:
        if (isField(name, 'content-length')) {
          // A tab around the value is OWS to RFC 9110 but refused by llhttp: refused here too, so no two hops differ.
          if (text.lastIndexOf('\t', eol) > colon)
            throw new MalformedHeadError(`${what}: invalid content-length ${quoted(text.slice(colon + 1, eol))}`);
          contentLengths++;
          contentLength ??= value;
        }
        break;
      case 4:
        if (isField(name, 'host')) {
          hostCount++;
          host ??= value;
        }
        break;
      case 17:
        if (isField(name, 'transfer-encoding')) transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      case 10:
        if (isField(name, 'connection')) connection = connection === undefined ? value : `${connection}, ${value}`;
        else if (isField(name, 'keep-alive')) keepAlive = value;
        break;
      case 6:
        if (isField(name, 'expect')) expect = expect === undefined ? value : `${expect}, ${value}`;
        break;
    }
    at = eol + 2;
  }
  return { rawHeaders, contentLengths, transferEncoding, connection, expect, keepAlive, host, hostCount, contentLength, noted };
}

function parseContentLength(value: string, what: string): number {
  if (value.length === 0 || value.length > 15) throw new MalformedHeadError(`${what}: invalid content-length ${quoted(value)}`);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) throw new MalformedHeadError(`${what}: invalid content-length ${quoted(value)}`);
  }
  return Number(value);
}

/** True when the comma-separated `list` holds `token` (case-insensitive). */
export function hasToken(list: string | undefined, token: string): boolean {
  if (list === undefined) return false;
  if (list.length === token.length) return list.toLowerCase() === token;
  // The usual values ("keep-alive", "close") need no split.
  const lower = list.toLowerCase();
  if (!lower.includes(token)) return false;
  for (const part of list.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** True when a request's Transfer-Encoding is the single coding `chunked` (RFC 9112 §6.1: anything else is refused). */
function isOnlyChunked(te: string): boolean {
  return te.length >= 7 && te.trim().toLowerCase() === 'chunked';
}

/** `scheme:` at the start of an absolute-form target (RFC 3986 §3.1). */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * RFC 9112 §3.2: origin-form ("/..."), absolute-form ("scheme:..."),
 * asterisk-form ("*"); CONNECT takes authority-form (checked by its handler).
 */
function isTargetForm(url: string, connect: boolean): boolean {
  return connect || url.charCodeAt(0) === 47 || url === '*' || SCHEME.test(url);
}

/** The last transfer coding of a Transfer-Encoding list, lowercased. */
function lastCoding(te: string): string {
  const comma = te.lastIndexOf(',');
  return (comma < 0 ? te : te.slice(comma + 1)).trim().toLowerCase();
}

function keepAliveOf(version: '1.0' | '1.1', connection: string | undefined): boolean {
  if (connection === undefined) return version === '1.1';
  return version === '1.1' ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive');
}

function versionOf(text: string, from: number, to: number): '1.0' | '1.1' | undefined {
  if (to - from !== 8 || !text.startsWith('HTTP/1.', from)) return undefined;
  const minor = text.charCodeAt(from + 7);
  return minor === 49 ? '1.1' : minor === 48 ? '1.0' : undefined;
}

export interface RequestLimits {
  maxHeaderCount: number;
  /** Largest Content-Length accepted (413 beyond); chunked bodies are bounded by the body decoder. */
  maxBodyBytes: number;
}

/**
 * Parses a request head: `text` is the head as latin1 without the final
 * blank line (no trailing CRLF). Throws a MessageError (errors.ts).
 */
export function parseRequestHead(text: string, limits: RequestLimits): RequestHead {
  if (hasBadHeadChar(text)) throw badCharError(text, 'request');
  let eol = text.indexOf('\r\n');
  if (eol < 0) eol = text.length;
  const sp1 = text.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0 || sp2 > eol) throw new MalformedHeadError(`malformed request line ${quoted(text.slice(0, eol))}`);
  if (!isToken(text, 0, sp1)) throw new MalformedHeadError(`malformed request line: invalid method ${quoted(text.slice(0, sp1))}`);
  const url = text.slice(sp1 + 1, sp2);
  if (url.length === 0) throw new MalformedHeadError('malformed request line: empty request target');
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 32 || c >= 127) throw new MalformedHeadError(`malformed request line: invalid character in the request target ${quoted(url)}`);
  }
  if (!isTargetForm(url, text.startsWith('CONNECT '))) {
    throw new MalformedHeadError(`malformed request line: request target ${quoted(url)} is not origin-form, absolute-form or *`);
  }
  const httpVersion = versionOf(text, sp2 + 1, eol);
  if (httpVersion === undefined) {
    throw new MalformedHeadError(
      `malformed request line: unsupported protocol ${quoted(text.slice(sp2 + 1, eol))} (HTTP/1.0 and HTTP/1.1 only)`,
    );
  }
  const f = parseFields(text, eol + 2, limits.maxHeaderCount, 'request', undefined, undefined);
  const what = 'ambiguous request framing';
  let framing = Framing.None;
  let contentLength = -1;
  if (f.transferEncoding !== undefined) {
    if (httpVersion === '1.0') {
      throw new MalformedHeadError(`${what} (transfer-encoding in an HTTP/1.0 request); refused to prevent request smuggling`);
    }
    if (f.contentLengths > 0) {
      throw new MalformedHeadError(`${what} (both content-length and transfer-encoding); refused to prevent request smuggling`);
    }
    if (!isOnlyChunked(f.transferEncoding)) {
      throw new MalformedHeadError(
        `${what} (transfer-encoding ${quoted(f.transferEncoding)} is not exactly chunked); refused to prevent request smuggling`,
      );
    }
    framing = Framing.Chunked;
  } else if (f.contentLengths > 0) {
    if (f.contentLengths > 1)
      throw new MalformedHeadError(`${what} (content-length sent ${f.contentLengths} times); refused to prevent request smuggling`);
    contentLength = parseContentLength(f.contentLength!, what);
    if (contentLength > limits.maxBodyBytes) {
      throw new BodyTooLargeError(`request body of ${contentLength} bytes is larger than the limit of ${limits.maxBodyBytes} bytes`);
    }
    if (contentLength > 0) framing = Framing.Length;
  }
  const expect = f.expect;
  const expectContinue = expect !== undefined && expect.toLowerCase() === '100-continue';
  return {
    method: text.slice(0, sp1),
    url,
    httpVersion,
    host: f.host,
    hostCount: f.hostCount,
    rawHeaders: f.rawHeaders,
    framing,
    contentLength,
    keepAlive: keepAliveOf(httpVersion, f.connection),
    expectContinue,
    unsupportedExpect: expect !== undefined && !expectContinue ? expect : undefined,
  };
}

/** The three digits at 9..11 of a status line as a number, or -1. */
function statusCodeOf(text: string): number {
  let code = 0;
  for (let i = 9; i < 12; i++) {
    const c = text.charCodeAt(i);
    if (!(c >= 48 && c <= 57)) return -1;
    code = code * 10 + (c - 48);
  }
  return code;
}

/** The last Keep-Alive value parsed and its result: an upstream sends the same one on every response. */
let lastKeepAlive = '';
let lastKeepAliveMs: number | undefined;

/** `timeout=N` of a Keep-Alive field, in ms, or undefined. */
function keepAliveTimeoutOf(value: string): number | undefined {
  if (value === lastKeepAlive) return lastKeepAliveMs;
  const m = /(?:^|[,;\s])timeout\s*=\s*(\d{1,6})/i.exec(value);
  lastKeepAlive = value;
  lastKeepAliveMs = m === null ? undefined : Number(m[1]) * 1000;
  return lastKeepAliveMs;
}

/** Response heads are not limited in field count beyond the byte limit of the head. */
const MAX_RESPONSE_FIELDS = 1000;

/**
 * Parses a response head (same `text` convention as parseRequestHead).
 * `requestMethod` decides whether a body follows (none after HEAD);
 * `noteField` (a lowercase name) is a field whose first value is kept as `noted`.
 */
export function parseResponseHead(text: string, requestMethod: string, noteField?: string): ResponseHead {
  if (hasBadHeadChar(text)) throw badCharError(text, 'response');
  let eol = text.indexOf('\r\n');
  if (eol < 0) eol = text.length;
  const httpVersion = versionOf(text, 0, 8);
  const code = statusCodeOf(text);
  if (httpVersion === undefined || text.charCodeAt(8) !== 32 || code < 100) {
    throw new MalformedHeadError(`malformed status line ${quoted(text.slice(0, eol))}`);
  }
  if (eol > 12 && text.charCodeAt(12) !== 32) throw new MalformedHeadError(`malformed status line ${quoted(text.slice(0, eol))}`);
  const f = parseFields(text, eol + 2, MAX_RESPONSE_FIELDS, 'response', undefined, noteField);
  // Checked whatever the status: a message that could be framed two ways is refused, not interpreted (RFC 9112 §6.3).
  if (f.transferEncoding !== undefined && f.contentLengths > 0) {
    throw new MalformedHeadError('ambiguous response framing (both content-length and transfer-encoding)');
  }
  if (f.contentLengths > 1) throw new MalformedHeadError(`ambiguous response framing (content-length sent ${f.contentLengths} times)`);
  let framing = Framing.UntilClose;
  let contentLength = -1;
  let keepAlive = keepAliveOf(httpVersion, f.connection);
  if (requestMethod === 'HEAD' || code < 200 || code === 204 || code === 304) framing = Framing.None;
  else if (f.transferEncoding !== undefined) {
    // RFC 9112 §6.3: a final chunked is chunked; any other coding list is read until the connection closes.
    if (lastCoding(f.transferEncoding) === 'chunked') framing = Framing.Chunked;
  } else if (f.contentLengths > 0) {
    contentLength = parseContentLength(f.contentLength!, 'response');
    framing = contentLength === 0 ? Framing.None : Framing.Length;
  }
  if (framing === Framing.UntilClose) keepAlive = false;
  return {
    statusCode: code,
    statusMessage: eol > 13 ? text.slice(13, eol) : '',
    httpVersion,
    rawHeaders: f.rawHeaders,
    connection: f.connection,
    keepAliveTimeoutMs: f.keepAlive === undefined ? undefined : keepAliveTimeoutOf(f.keepAlive),
    noted: f.noted,
    framing,
    contentLength,
    keepAlive,
  };
}
