/**
 * Header fields of HTTP/2 messages as the agent sees them: decoded fields
 * checked against RFC 9113 §8.2-8.3 and gathered into one object (node's
 * IncomingHttpHeaders shape: lowercase names, repeated fields joined with
 * ", ", cookies with "; ", set-cookie as an array), and header objects turned
 * back into fields to encode.
 *
 * A message that breaks the rules is malformed (§8.1.1): the stream is reset
 * with PROTOCOL_ERROR and nothing of it reaches the pipeline. The checks are
 * those a proxy needs not to be used for smuggling or to carry what HTTP/1.1
 * could not express: uppercase or non-token names, CR/LF/NUL or edge
 * whitespace in values, connection-specific fields, pseudo-fields out of
 * place, repeated or missing, and content-length that is not a number.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { HeaderField } from './hpack.js';

export class MalformedError extends Error {
  override name = 'MalformedError';
}

export type MessageKind = 'request' | 'response' | 'trailers';

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** tchar of RFC 9110 §5.6.2, lowercase letters only. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Field value characters RFC 9113 §8.2.1 forbids anywhere, and whitespace at either end. */
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;
const DIGITS = /^\d{1,15}$/;

/** Checks `fields` as a `kind` and returns them as one object; throws MalformedError naming the fault. */
export function headersOf(fields: readonly HeaderField[], kind: MessageKind): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = Object.create(null);
  let regularSeen = false;
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      if (regularSeen) throw new MalformedError(`pseudo-field ${name} after a regular field`);
      if (kind === 'trailers') throw new MalformedError(`pseudo-field ${name} in trailers`);
      if (kind === 'request' ? !REQUEST_PSEUDO.has(name) : name !== ':status')
        throw new MalformedError(`pseudo-field ${name} not allowed in a ${kind}`);
      if (out[name] !== undefined) throw new MalformedError(`pseudo-field ${name} repeated`);
      if (BAD_VALUE.test(value)) throw new MalformedError(`${name}: invalid value`);
      out[name] = value;
      continue;
    }
    regularSeen = true;
    if (!TOKEN.test(name)) throw new MalformedError(`field name ${JSON.stringify(name)} is not a lowercase token`);
    if (BAD_VALUE.test(value)) throw new MalformedError(`${name}: value has CR, LF, NUL or whitespace at an end`);
    if (CONNECTION_SPECIFIC.has(name)) throw new MalformedError(`connection-specific field ${name}`);
    if (name === 'te' && value !== 'trailers') throw new MalformedError('te: only "trailers" is allowed');
    if (name === 'content-length' && !DIGITS.test(value)) throw new MalformedError('content-length: not a number');
    const prev = out[name];
    if (prev === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else if (name === 'content-length') {
      if (prev !== value) throw new MalformedError('content-length: repeated with different values');
    } else out[name] = `${prev}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  if (kind === 'request') {
    const method = out[':method'];
    if (method === undefined || method === '') throw new MalformedError(':method missing');
    if (method === 'CONNECT') {
      if (out[':authority'] === undefined || out[':scheme'] !== undefined || out[':path'] !== undefined)
        throw new MalformedError('CONNECT needs :authority and no :scheme or :path');
    } else if (!out[':scheme'] || !out[':path']) throw new MalformedError(':scheme or :path missing');
  } else if (kind === 'response') {
    const status = out[':status'];
    if (status === undefined || !/^\d{3}$/.test(status as string)) throw new MalformedError(':status missing or not three digits');
  }
  return out;
}

/** The declared content-length of a message, or -1. */
export function contentLengthOf(headers: IncomingHttpHeaders): number {
  const v = headers['content-length'];
  return typeof v === 'string' ? Number(v) : -1;
}

/** Header object to fields: pseudo-fields first, names lowercased, arrays as repeated fields; throws on CR/LF/NUL. */
export function fieldsOf(headers: OutgoingHttpHeaders): Array<[string, string]> {
  const pseudo: Array<[string, string]> = [];
  const regular: Array<[string, string]> = [];
  for (const key in headers) {
    const v = headers[key];
    if (v === undefined || v === null) continue;
    const name = key.toLowerCase();
    const into = name.charCodeAt(0) === 0x3a ? pseudo : regular;
    if (Array.isArray(v)) for (const one of v) into.push([name, checked(name, String(one))]);
    else into.push([name, checked(name, String(v))]);
  }
  return pseudo.length === 0 ? regular : pseudo.concat(regular);
}

function checked(name: string, value: string): string {
  if (/[\0\r\n]/.test(value)) throw new TypeError(`header ${name}: value contains CR, LF or NUL`);
  return value;
}
