// Where our codec and node's llhttp (strict mode) knowingly differ, by corpus
// id: { weft, llhttp, reason }, `weft`/`llhttp` being 'accept' or 'reject'.
// generate.mjs copies each entry into its corpus line as `expect`;
// agent/src/http1/corpus.test.ts fails on any difference not listed here,
// and on any entry listed here that no longer differs.

const stricter = (reason) => ({ weft: 'reject', llhttp: 'accept', reason });
const extensionMethod = {
  weft: 'accept',
  llhttp: 'reject',
  reason:
    'A method is any token (RFC 9110 §9.1) and a proxy forwards extension methods; llhttp knows a fixed list. The method never decides request framing.',
};

const SIZE_DIGITS = stricter(
  'A chunk size is at most 13 hex digits, leading zeros included (a bound, as undici; the value 2^52 fits a JS number).',
);
const CL_DIGITS = stricter('A Content-Length is at most 15 digits, leading zeros included: a bound on the field, not on the value.');
const TE_ONLY_CHUNKED = stricter(
  'A request Transfer-Encoding must be exactly "chunked": a proxy does not decode other codings, and any list is a TE.TE smuggling vector (RFC 9112 §6.1 allows refusing).',
);
const VERSION = stricter('Only HTTP/1.0 and HTTP/1.1 request lines are served; llhttp reads other versions with HTTP/1.1 framing.');
const REQUEST_LINE = stricter(
  'The request line is exactly method SP target SP version (RFC 9112 §3); llhttp tolerates extra spaces and a missing version.',
);

export const DISAGREEMENTS = {
  'requests-chunked/many-leading-zeros': SIZE_DIGITS,
  'requests-chunked/many-leading-zeros-then-get': SIZE_DIGITS,
  'responses-chunked/many-leading-zeros': SIZE_DIGITS,
  'requests-chunked/ext-empty-name': stricter('A chunk extension needs a name (RFC 9112 §7.1.1 chunk-ext-name = token).'),
  'responses-chunked/ext-empty-name': stricter('A chunk extension needs a name (RFC 9112 §7.1.1 chunk-ext-name = token).'),
  'requests-chunked/ext-empty-value': stricter('After "=" a chunk extension needs a token or quoted-string value (RFC 9112 §7.1.1).'),
  'responses-chunked/ext-empty-value': stricter('After "=" a chunk extension needs a token or quoted-string value (RFC 9112 §7.1.1).'),
  'requests-chunked/ext-long-5k': stricter(
    'A chunk-size line with its extensions is capped at 4 KiB (extensions are dropped, never kept).',
  ),
  'responses-chunked/ext-long-5k': stricter(
    'A chunk-size line with its extensions is capped at 4 KiB (extensions are dropped, never kept).',
  ),
  'requests-content-length/value-"00000000000000000005"': CL_DIGITS,
  'responses-content-length/value-"00000000000000000005"': CL_DIGITS,
  'requests-content-length/value-"0"': {
    ...extensionMethod,
    reason: `The bytes after an empty body start the next request: "helloGET" is a token, so a valid extension method to us. ${extensionMethod.reason}`,
  },
  'requests-content-length/body-longer-is-next-message': {
    weft: 'accept',
    llhttp: 'reject',
    reason:
      'Bytes after a complete body are the start of the next head: we wait for its end (then 400, 431 or 408); llhttp refuses at the first byte that is not a known method. Neither hands on a message.',
  },
  'requests-request-line/method-"get"': extensionMethod,
  'requests-request-line/method-"Get"': extensionMethod,
  'requests-request-line/method-"FOO"': extensionMethod,
  'requests-request-line/version-"HTTP/0.9"': VERSION,
  'requests-request-line/version-"HTTP/2.0"': VERSION,
  'requests-request-line/version-" HTTP/1.1"': REQUEST_LINE,
  'requests-request-line/no-version': REQUEST_LINE,
  'requests-request-line/double-space': REQUEST_LINE,
  'requests-request-line/leading-lf': stricter(
    'Only CRLF empty lines before a request line are skipped (RFC 9112 §2.2); a bare LF anywhere in a head is refused.',
  ),
  'requests-transfer-encoding/value-"gzip, chunked"': TE_ONLY_CHUNKED,
  'requests-transfer-encoding/value-"gzip,chunked"': TE_ONLY_CHUNKED,
  'requests-transfer-encoding/value-"identity, chunked"': TE_ONLY_CHUNKED,
  'requests-transfer-encoding/value-",chunked"': TE_ONLY_CHUNKED,
  'requests-transfer-encoding/value-"x, chunked"': TE_ONLY_CHUNKED,
  'requests-transfer-encoding/two-lines-x-chunked': TE_ONLY_CHUNKED,
  'requests-transfer-encoding/two-lines-identity-chunked': TE_ONLY_CHUNKED,
  'requests-transfer-encoding/value-""': {
    weft: 'reject',
    llhttp: 'reject',
    reason:
      'An empty Transfer-Encoding is refused with the head; llhttp ignores it, hands on the request without a body, then refuses the chunked bytes as the next request line.',
  },
  'requests-transfer-encoding/te-http10': stricter(
    'Transfer-Encoding in an HTTP/1.0 request is refused (RFC 9112 §6.1: a 1.0 recipient cannot rely on it; a classic smuggling vector).',
  ),
  'responses-content-length/second-response-after': stricter(
    'Bytes after the end of a response (here a second, unasked-for response) fail the exchange and the connection; node ignores what follows a response it was given.',
  ),
  'responses-line-endings/nul-in-reason': stricter('No control characters anywhere in a head, the reason phrase included.'),
  'responses-status-line/"HTTP/1.1 200 OK\\u0001"': stricter('No control characters anywhere in a head, the reason phrase included.'),
  'responses-status-line/"HTTP/1.1 099 X"': stricter(
    'A status code is 100-999 (RFC 9110 §15: three digits, first 1-5 in use; below 100 is not a status).',
  ),
  'responses-status-line/"HTTP/2.0 200 OK"': stricter('Only HTTP/1.0 and HTTP/1.1 status lines are read on an HTTP/1.1 connection.'),
};
