#!/usr/bin/env node
// Writes the HTTP/1.1 parser corpus (requests-*.jsonl, responses-*.jsonl)
// beside this script: `node agent/test-corpus/generate.mjs`. The .jsonl files
// are committed; agent/src/http1/corpus.test.ts runs every line through our
// codec and node's llhttp. One JSON object per line:
//   id      unique name (family/case)
//   raw     the bytes sent, as a latin1 string
//   method  (responses) the method of the request answered (default GET)
//   expect  (only where the two parsers are known to differ) how, and why
//           we keep the difference: { weft, llhttp, reason }
// Families cover RFC 9112 framing, the request-smuggling catalogue (CL.TE,
// TE.CL, TE.TE obfuscations), chunked coding and head syntax.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DISAGREEMENTS } from './disagreements.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const families = new Map();

function add(kind, family, name, raw, extra = {}) {
  const file = `${kind}-${family}`;
  if (!families.has(file)) families.set(file, []);
  const id = `${file}/${name}`;
  families.get(file).push({ id, raw, ...extra });
}
const req = (family, name, raw, extra) => add('requests', family, name, raw, extra);
const res = (family, name, raw, extra) => add('responses', family, name, raw, extra);

const GET = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
const SMUGGLED = 'GET /admin HTTP/1.1\r\nHost: a\r\n\r\n';

// --- request line ---
for (const m of [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'TRACE',
  'M-SEARCH',
  'PROPFIND',
  'get',
  'Get',
  'FOO',
  'G@T',
  'GE T',
  'GET\t',
  '',
  'GET\x00',
  'G\x7fT',
]) {
  req('request-line', `method-${JSON.stringify(m)}`, `${m} / HTTP/1.1\r\nHost: a\r\n\r\n`);
}
const targets = [
  '/',
  '/a/b?c=d&e',
  '/%20x',
  '*',
  'http://a/x',
  'a',
  '/a#frag',
  '/a b',
  '/a\tb',
  '/\x7f',
  '/\x80\xff',
  '/"<>',
  '/a|b',
  '/a{b}',
  '/\\',
  '//',
  '/?',
  "/a'b",
  '/a^b',
  '/~a',
];
for (const [i, t] of targets.entries()) req('request-line', `target-${i}`, `GET ${t} HTTP/1.1\r\nHost: a\r\n\r\n`);
req('request-line', 'options-asterisk', 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n');
for (const v of [
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/0.9',
  'HTTP/2.0',
  'HTTP/1.2',
  'HTTP/11',
  'http/1.1',
  'HTTP/1.1 ',
  'HTTP/1.',
  'HTTP/1',
  'HTTPS/1.1',
  'HTTP/1.1x',
  ' HTTP/1.1',
  'HTTP/3.0',
  'HTTP/9.9',
]) {
  req('request-line', `version-${JSON.stringify(v)}`, `GET / ${v}\r\nHost: a\r\n\r\n`);
}
req('request-line', 'no-version', 'GET /\r\nHost: a\r\n\r\n');
req('request-line', 'no-target', 'GET HTTP/1.1\r\nHost: a\r\n\r\n');
req('request-line', 'double-space', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n');
req('request-line', 'tab-separated', 'GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n');
req('request-line', 'leading-space', ' GET / HTTP/1.1\r\nHost: a\r\n\r\n');
req('request-line', 'leading-crlf', `\r\n${GET}`);
req('request-line', 'leading-two-crlf', `\r\n\r\n${GET}`);
req('request-line', 'leading-lf', `\n${GET}`);
req('request-line', 'only-request-line', 'GET / HTTP/1.1\r\n\r\n');
req('request-line', 'http10-no-host', 'GET / HTTP/1.0\r\n\r\n');
req('request-line', 'long-target-8k', `GET /${'a'.repeat(8000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
req('request-line', 'long-target-20k', `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: a\r\n\r\n`);

// --- header field syntax (shared by requests and responses) ---
const fieldCases = [
  ['plain', 'X-A: b'],
  ['no-space', 'X-A:b'],
  ['many-spaces', 'X-A:    b   '],
  ['tab-ows', 'X-A:\tb\t'],
  ['empty-value', 'X-A:'],
  ['empty-value-space', 'X-A: '],
  ['space-before-colon', 'X-A : b'],
  ['tab-before-colon', 'X-A\t: b'],
  ['no-colon', 'X-A b'],
  ['empty-name', ': b'],
  ['name-with-space', 'X A: b'],
  ['name-with-at', 'X@A: b'],
  ['name-with-quote', 'X"A: b'],
  ['name-with-slash', 'X/A: b'],
  ['name-with-bracket', 'X[A]: b'],
  ['name-with-high-byte', 'X\xe9: b'],
  ['name-tchar-all', "!#$%&'*+-.^_`|~09azAZ: b"],
  ['value-nul', 'X-A: b\x00c'],
  ['value-vt', 'X-A: b\x0bc'],
  ['value-ff', 'X-A: b\x0cc'],
  ['value-del', 'X-A: b\x7fc'],
  ['value-esc', 'X-A: b\x1bc'],
  ['value-obs-text', 'X-A: b\x80\xffc'],
  ['value-bare-cr', 'X-A: b\rc'],
  ['value-bare-lf-then-field', 'X-A: b\nX-B: c'],
  ['obs-fold-space', 'X-A: b\r\n c'],
  ['obs-fold-tab', 'X-A: b\r\n\tc'],
  ['leading-space-first-field', ' X-A: b'],
  ['colon-in-value', 'X-A: b:c'],
  ['quoted-value', 'X-A: "b, c"'],
  ['long-value-4k', `X-A: ${'b'.repeat(4000)}`],
  ['many-fields-50', Array.from({ length: 50 }, (_, i) => `X-${i}: v`).join('\r\n')],
  ['duplicate-fields', 'X-A: 1\r\nX-A: 2'],
  ['utf8-value', 'X-A: caf\xc3\xa9'],
];
for (const [name, line] of fieldCases) {
  req('fields', name, `GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`);
  res('fields', name, `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${line}\r\n\r\nok`);
}

// --- line endings ---
const lineEndingCases = [
  ['lf-only', 'GET / HTTP/1.1\nHost: a\n\n'],
  ['lf-after-request-line', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
  ['lf-after-field', 'GET / HTTP/1.1\r\nHost: a\n\r\n'],
  ['lf-final', 'GET / HTTP/1.1\r\nHost: a\r\n\n'],
  ['bare-cr-request-line', 'GET / HTTP/1.1\rHost: a\r\n\r\n'],
  ['bare-cr-field', 'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n'],
  ['cr-cr-lf', 'GET / HTTP/1.1\r\r\nHost: a\r\n\r\n'],
  ['final-cr-only', 'GET / HTTP/1.1\r\nHost: a\r\n\r'],
  ['nul-in-request-line', 'GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['nul-before', `\x00${GET}`],
];
for (const [name, raw] of lineEndingCases) req('line-endings', name, raw);
for (const [name, raw] of [
  ['lf-only', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
  ['lf-after-status-line', 'HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok'],
  ['lf-final', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok'],
  ['bare-cr-status-line', 'HTTP/1.1 200 OK\rContent-Length: 2\r\n\r\nok'],
  ['bare-cr-field', 'HTTP/1.1 200 OK\r\nContent-Length: 2\rX: b\r\n\r\nok'],
  ['nul-in-reason', 'HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok'],
]) {
  res('line-endings', name, raw);
}

// --- Content-Length in requests ---
const clValues = [
  '0',
  '5',
  '005',
  '00000000000000000005',
  '+5',
  '-5',
  ' 5',
  '5 ',
  '\t5\t',
  '5 5',
  '5,5',
  '5, 5',
  '5,',
  ',5',
  '0x5',
  '5a',
  '',
  '1e1',
  '5.0',
  '99999999999999999999',
  '18446744073709551621',
  '\x0b5',
];
for (const v of clValues) {
  req('content-length', `value-${JSON.stringify(v)}`, `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${v}\r\n\r\nhello${GET}`);
  res('content-length', `value-${JSON.stringify(v)}`, `HTTP/1.1 200 OK\r\nContent-Length: ${v}\r\n\r\nhello`);
}
req('content-length', 'duplicate-equal', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello`);
req('content-length', 'duplicate-differ', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`);
req('content-length', 'duplicate-zero', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n`);
req('content-length', 'get-with-body', `GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello${GET}`);
req('content-length', 'body-longer-is-next-message', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhello`);
req('content-length', 'body-shorter-waits', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello`);
req('content-length', 'name-case', `POST / HTTP/1.1\r\nHost: a\r\ncOnTeNt-LeNgTh: 5\r\n\r\nhello`);
req('content-length', 'http10', `POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello`);
res('content-length', 'duplicate-equal', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok');
res('content-length', 'duplicate-differ', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!');
res('content-length', 'body-longer', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
res('content-length', 'body-longer-close', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nokEXTRA');
res('content-length', 'body-shorter', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok');
res('content-length', 'zero', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
res(
  'content-length',
  'second-response-after',
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
);

// --- Transfer-Encoding values (TE.TE obfuscations) ---
const teValues = [
  'chunked',
  'Chunked',
  'CHUNKED',
  ' chunked',
  'chunked ',
  '\tchunked',
  'xchunked',
  'chunkedx',
  'chunked\x0b',
  '\x0bchunked',
  'chunked\x0c',
  'chunk',
  'chunked;',
  'chunked;q=1',
  '"chunked"',
  'chunked, chunked',
  'gzip, chunked',
  'chunked, gzip',
  'gzip,chunked',
  'identity',
  'identity, chunked',
  'gzip',
  '',
  ',chunked',
  'chunked,',
  'chunked , gzip',
  'x, chunked',
  'ch\x00unked',
  'chunked\x00',
  'ch unked',
  'cHuNkEd',
  'chunked\xff',
  '\xffchunked',
];
const CHUNKED_BODY = '5\r\nhello\r\n0\r\n\r\n';
for (const v of teValues) {
  req('transfer-encoding', `value-${JSON.stringify(v)}`, `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${v}\r\n\r\n${CHUNKED_BODY}`);
  res('transfer-encoding', `value-${JSON.stringify(v)}`, `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${v}\r\n\r\n${CHUNKED_BODY}`);
}
const teLines = [
  ['two-lines-chunked-chunked', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked'],
  ['two-lines-chunked-x', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: x'],
  ['two-lines-x-chunked', 'Transfer-Encoding: x\r\nTransfer-Encoding: chunked'],
  ['two-lines-identity-chunked', 'Transfer-encoding: identity\r\nTransfer-encoding: chunked'],
  ['space-before-colon', 'Transfer-Encoding : chunked'],
  ['tab-before-colon', 'Transfer-Encoding\t: chunked'],
  ['underscore-name', 'Transfer_Encoding: chunked'],
  ['obs-fold-value', 'Transfer-Encoding:\r\n chunked'],
  ['obs-fold-after-x', 'X: y\r\n Transfer-Encoding: chunked'],
  ['lf-before-name', 'X: X\nTransfer-Encoding: chunked'],
  ['lf-before-colon', 'Transfer-Encoding\n: chunked'],
  ['leading-space-name', ' Transfer-Encoding: chunked'],
  ['name-nul', 'Transfer-Encoding\x00: chunked'],
  ['name-high', 'Transfer-Encoding\xff: chunked'],
  ['te-http10', null],
];
for (const [name, lines] of teLines) {
  if (lines === null) {
    req('transfer-encoding', name, `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`);
    res('transfer-encoding', name, `HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`);
    continue;
  }
  req('transfer-encoding', name, `POST / HTTP/1.1\r\nHost: a\r\n${lines}\r\n\r\n${CHUNKED_BODY}`);
  res('transfer-encoding', name, `HTTP/1.1 200 OK\r\n${lines}\r\n\r\n${CHUNKED_BODY}`);
}

// --- smuggling: CL.TE and TE.CL with a smuggled second request ---
const clte = (cl, te, order) => {
  const body = `0\r\n\r\n${SMUGGLED}`;
  const fields =
    order === 'cl-first' ? `Content-Length: ${cl}\r\nTransfer-Encoding: ${te}` : `Transfer-Encoding: ${te}\r\nContent-Length: ${cl}`;
  return `POST / HTTP/1.1\r\nHost: a\r\n${fields}\r\n\r\n${body}`;
};
for (const te of ['chunked', ' chunked', 'xchunked', 'chunked\x0b', 'gzip, chunked', 'chunked, chunked', 'identity']) {
  for (const order of ['cl-first', 'te-first']) {
    req('smuggling', `cl-te-${order}-${JSON.stringify(te)}`, clte(5, te, order));
    req('smuggling', `te-cl-${order}-${JSON.stringify(te)}`, clte(4 + SMUGGLED.length + 5, te, order));
    res(
      'smuggling',
      `cl-te-${order}-${JSON.stringify(te)}`,
      `HTTP/1.1 200 OK\r\n${order === 'cl-first' ? `Content-Length: 3\r\nTransfer-Encoding: ${te}` : `Transfer-Encoding: ${te}\r\nContent-Length: 3`}\r\n\r\n${CHUNKED_BODY}`,
    );
  }
}
req(
  'smuggling',
  'cl-0-te-chunked-smuggle-in-chunk',
  `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n${(SMUGGLED.length).toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
);
req(
  'smuggling',
  'chunked-body-holding-request',
  `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
);
req('smuggling', 'cl-body-holding-request', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`);
req('smuggling', 'get-cl-smuggle', `GET / HTTP/1.1\r\nHost: a\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`);
req('smuggling', 'pipelined-smuggle-after-chunked', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`);
req(
  'smuggling',
  'chunk-size-overflow-smuggle',
  `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
);
req(
  'smuggling',
  'lf-terminated-chunk-smuggle',
  `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n${SMUGGLED}`,
);
req('smuggling', 'chunk-ext-lf-smuggle', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;\n${SMUGGLED}\r\n0\r\n\r\n`);
req('smuggling', 'chunk-data-lf-smuggle', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxx\n0\r\n\r\n${SMUGGLED}`);
req('smuggling', 'obs-fold-cl', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 5\r\n\r\nhello`);
req(
  'smuggling',
  'cl-then-folded-te',
  `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: x\r\n Transfer-Encoding: chunked\r\n\r\nhello`,
);
req('smuggling', 'cl-space-name', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello`);
req('smuggling', 'cl-dup-in-one', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello`);

// --- chunked bodies (requests and responses) ---
const chunked = [
  ['simple', '5\r\nhello\r\n0\r\n\r\n'],
  ['two-chunks', '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'],
  ['upper-hex', 'A\r\n0123456789\r\n0\r\n\r\n'],
  ['lower-hex', 'a\r\n0123456789\r\n0\r\n\r\n'],
  ['leading-zeros', '0005\r\nhello\r\n0\r\n\r\n'],
  ['many-leading-zeros', '00000000000000000005\r\nhello\r\n0\r\n\r\n'],
  ['last-chunk-zeros', '5\r\nhello\r\n000\r\n\r\n'],
  ['size-space', '5 \r\nhello\r\n0\r\n\r\n'],
  ['size-tab', '5\t\r\nhello\r\n0\r\n\r\n'],
  ['size-space-then-ext', '5 ;a=b\r\nhello\r\n0\r\n\r\n'],
  ['size-leading-space', ' 5\r\nhello\r\n0\r\n\r\n'],
  ['size-plus', '+5\r\nhello\r\n0\r\n\r\n'],
  ['size-minus', '-5\r\nhello\r\n0\r\n\r\n'],
  ['size-0x', '0x5\r\nhello\r\n0\r\n\r\n'],
  ['size-empty', '\r\nhello\r\n0\r\n\r\n'],
  ['size-g', 'g\r\nhello\r\n0\r\n\r\n'],
  ['size-overflow-16', '10000000000000000\r\nhello\r\n0\r\n\r\n'],
  ['size-overflow-fff', 'ffffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
  ['size-13-digits-zero-padded', '0000000000005\r\nhello\r\n0\r\n\r\n'],
  ['size-lf-only', '5\nhello\r\n0\r\n\r\n'],
  ['size-bare-cr', '5\rhello\r\n0\r\n\r\n'],
  ['ext-name', '5;a\r\nhello\r\n0\r\n\r\n'],
  ['ext-name-value', '5;a=b\r\nhello\r\n0\r\n\r\n'],
  ['ext-quoted', '5;a="b c"\r\nhello\r\n0\r\n\r\n'],
  ['ext-quoted-escape', '5;a="b\\"c"\r\nhello\r\n0\r\n\r\n'],
  ['ext-quoted-unbalanced', '5;a="b\r\nhello\r\n0\r\n\r\n'],
  ['ext-quoted-ctl', '5;a="b\x01"\r\nhello\r\n0\r\n\r\n'],
  ['ext-empty', '5;\r\nhello\r\n0\r\n\r\n'],
  ['ext-empty-name', '5;=b\r\nhello\r\n0\r\n\r\n'],
  ['ext-empty-value', '5;a=\r\nhello\r\n0\r\n\r\n'],
  ['ext-two', '5;a=b;c=d\r\nhello\r\n0\r\n\r\n'],
  ['ext-space-before-semicolon', '5 ;a\r\nhello\r\n0\r\n\r\n'],
  ['ext-space-after-semicolon', '5; a\r\nhello\r\n0\r\n\r\n'],
  ['ext-space-around-equals', '5;a = b\r\nhello\r\n0\r\n\r\n'],
  ['ext-name-space-inside', '5;a b\r\nhello\r\n0\r\n\r\n'],
  ['ext-value-bad-char', '5;a=b@c\r\nhello\r\n0\r\n\r\n'],
  ['ext-nul', '5;a\x00\r\nhello\r\n0\r\n\r\n'],
  ['ext-lf', '5;a\nhello\r\n0\r\n\r\n'],
  ['ext-bare-cr', '5;a\rhello\r\n0\r\n\r\n'],
  ['ext-high-byte', '5;a=\xff\r\nhello\r\n0\r\n\r\n'],
  ['ext-quoted-high-byte', '5;a="\xff"\r\nhello\r\n0\r\n\r\n'],
  ['ext-long-3k', `5;a=${'b'.repeat(3000)}\r\nhello\r\n0\r\n\r\n`],
  ['ext-long-5k', `5;a=${'b'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`],
  ['last-chunk-ext', '5\r\nhello\r\n0;a=b\r\n\r\n'],
  ['data-longer', '3\r\nhello\r\n0\r\n\r\n'],
  ['data-shorter', '7\r\nhello\r\n0\r\n\r\n'],
  ['data-no-crlf', '5\r\nhello0\r\n\r\n'],
  ['data-lf-only', '5\r\nhello\n0\r\n\r\n'],
  ['data-cr-only', '5\r\nhello\r0\r\n\r\n'],
  ['trailer', '5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n'],
  ['trailers-two', '5\r\nhello\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n'],
  ['trailer-lf', '5\r\nhello\r\n0\r\nX-T: 1\n\r\n'],
  ['trailer-obs-fold', '5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n'],
  ['trailer-no-colon', '5\r\nhello\r\n0\r\nX-T\r\n\r\n'],
  ['trailer-space-before-colon', '5\r\nhello\r\n0\r\nX-T : 1\r\n\r\n'],
  ['trailer-nul', '5\r\nhello\r\n0\r\nX-T: 1\x00\r\n\r\n'],
  ['end-lf-only', '5\r\nhello\r\n0\r\n\n'],
  ['end-missing', '5\r\nhello\r\n0\r\n'],
  ['zero-chunk-only', '0\r\n\r\n'],
  ['empty-body-then-nothing', ''],
  ['binary-data', '4\r\n\x00\r\n\xff\r\n0\r\n\r\n'],
  ['chunk-of-crlf', '2\r\n\r\n\r\n0\r\n\r\n'],
];
for (const [name, body] of chunked) {
  req('chunked', name, `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
  res('chunked', name, `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
}
// The same bodies followed by a second request: the boundary must be exact.
for (const [name, body] of chunked.slice(0, 12)) {
  req('chunked', `${name}-then-get`, `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}${GET}`);
}

// --- pipelining and message boundaries ---
req('pipeline', 'two-gets', GET + GET);
req('pipeline', 'three-gets', GET + GET + GET);
req('pipeline', 'post-cl-then-get', `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc${GET}`);
req(
  'pipeline',
  'post-chunked-then-post-cl',
  `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nde`,
);
req('pipeline', 'crlf-between', `${GET}\r\n${GET}`);
req('pipeline', 'garbage-after', `${GET}XYZ\r\n\r\n`);
req('pipeline', 'connection-close-then-more', `GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n${GET}`);
req('pipeline', 'http10-then-more', `GET / HTTP/1.0\r\n\r\n${GET}`);
req('pipeline', 'http10-keepalive-then-more', `GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n${GET}`);
req('pipeline', 'incomplete-second', `${GET}GET / HTTP/1.1\r\nHo`);
for (let n = 1; n <= 6; n++)
  req('pipeline', `cl-${n}-gets`, `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${n}\r\n\r\n${'x'.repeat(n)}${GET.repeat(n)}`);

// --- responses: status line and no-body rules ---
for (const line of [
  'HTTP/1.1 200 OK',
  'HTTP/1.1 200 ',
  'HTTP/1.1 200',
  'HTTP/1.1 099 X',
  'HTTP/1.1 99 X',
  'HTTP/1.1 1000 X',
  'HTTP/1.1 20 X',
  'HTTP/1.1 abc X',
  'HTTP/1.0 200 OK',
  'HTTP/2.0 200 OK',
  'HTTP/1.2 200 OK',
  'http/1.1 200 OK',
  'HTTP/1.1  200 OK',
  'HTTP/1.1 200  OK',
  'HTTP/1.1 200 O\xe9K',
  'HTTP/1.1 200 O\tK',
  'HTTP/1.1 200 OK ',
  'HTTP/1.1 599 X',
  'HTTP/1.1 600 X',
  'HTTP/1.1 999 X',
  'HTTP/1.1 200 OK\x01',
  'HTTP/1.1 200OK',
  'HTTP/1.1\t200 OK',
  'HTTP/11 200 OK',
  'ICY 200 OK',
  'SSH-2.0-OpenSSH',
]) {
  res('status-line', JSON.stringify(line), `${line}\r\nContent-Length: 2\r\n\r\nok`);
}
for (const status of [204, 304]) {
  res('no-body', `${status}-empty`, `HTTP/1.1 ${status} X\r\n\r\n`);
  res('no-body', `${status}-with-cl`, `HTTP/1.1 ${status} X\r\nContent-Length: 5\r\n\r\n`);
  res('no-body', `${status}-with-bytes`, `HTTP/1.1 ${status} X\r\n\r\nhello`);
}
res('no-body', 'head-with-cl', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', { method: 'HEAD' });
res('no-body', 'head-with-chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', { method: 'HEAD' });
res('no-body', 'head-with-bytes', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', { method: 'HEAD' });
res('no-body', '100-then-200', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
res('no-body', '103-then-200', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
res(
  'no-body',
  'two-100-then-200',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
);
res('no-body', '101-unasked', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n');
res('no-body', 'close-delimited', 'HTTP/1.1 200 OK\r\n\r\nhello until close');
res('no-body', 'close-delimited-http10', 'HTTP/1.0 200 OK\r\n\r\nhello until close');
res('no-body', 'close-delimited-te-gzip', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello until close');
res('no-body', 'close-delimited-empty', 'HTTP/1.1 200 OK\r\n\r\n');
res('no-body', 'head-too-large-one-read', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\nContent-Length: 2\r\n\r\nok`);
res('no-body', 'head-large-ok', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(8 * 1024)}\r\nContent-Length: 2\r\n\r\nok`);

// --- head size (requests): well below and well above node's and our 16 KiB ---
req('head-size', 'fields-12k', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(12 * 1024)}\r\n\r\n`);
req('head-size', 'fields-20k', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
req('head-size', 'fields-64k', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);

let total = 0;
for (const [file, cases] of families) {
  const ids = new Set();
  const lines = cases.map((c) => {
    if (ids.has(c.id)) throw new Error(`duplicate id ${c.id}`);
    ids.add(c.id);
    const expect = DISAGREEMENTS[c.id];
    return JSON.stringify(expect === undefined ? c : { ...c, expect });
  });
  writeFileSync(join(here, `${file}.jsonl`), `${lines.join('\n')}\n`);
  total += cases.length;
}
for (const id of Object.keys(DISAGREEMENTS)) {
  if (![...families.values()].some((cases) => cases.some((c) => c.id === id))) throw new Error(`disagreement for unknown case ${id}`);
}
process.stdout.write(`${total} messages in ${families.size} files\n`);
