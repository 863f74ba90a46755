/**
 * The HTTP/2 client connection preface (RFC 9113 §3.4), which a client with
 * prior knowledge (h2c) sends first. It was built to be an invalid HTTP/1.1
 * request (`PRI * HTTP/2.0`), so a server can tell the two protocols apart
 * by a connection's first 24 bytes without any risk of misreading HTTP/1.1.
 */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export enum PrefaceMatch {
  /** The bytes start with the whole preface. */
  Match,
  /** The bytes so far are a proper prefix of the preface: read more. */
  Partial,
  /** Not the preface: HTTP/1.1 (or garbage the HTTP/1.1 parser refuses). */
  No,
}

/** Whether the first bytes of a connection are the HTTP/2 preface. */
export function matchPreface(buf: Buffer): PrefaceMatch {
  const n = Math.min(buf.length, H2_PREFACE.length);
  // The usual HTTP/1.1 request fails on the first byte ('G', 'P' then 'O'/'U'...).
  for (let i = 0; i < n; i++) if (buf[i] !== H2_PREFACE[i]) return PrefaceMatch.No;
  return n === H2_PREFACE.length ? PrefaceMatch.Match : PrefaceMatch.Partial;
}
