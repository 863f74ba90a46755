import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageError } from './errors.js';
import {
  Framing,
  type HeaderMap,
  hasToken,
  headerMapOf,
  isField,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
} from './head-parser.js';

const LIMITS = { maxHeaderCount: 100, maxBodyBytes: Number.MAX_SAFE_INTEGER };

/** A request head from its lines (no final blank line, as the server hands it), with its header map. */
function req(...lines: string[]): RequestHead & { headers: HeaderMap } {
  return withMap(parseRequestHead(lines.join('\r\n'), LIMITS));
}

/** The head with the node-style map the server builds on demand (Http1Request.headers). */
function withMap(h: RequestHead): RequestHead & { headers: HeaderMap } {
  return Object.assign(h, { headers: headerMapOf(h.rawHeaders) });
}

function res(method: string, ...lines: string[]) {
  return parseResponseHead(lines.join('\r\n'), method);
}

/** Asserts that parsing throws a MessageError with `status` and a message matching `message`. */
function refused(fn: () => unknown, status: number, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MessageError, `expected a MessageError, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.match(err.message, message);
    return true;
  });
}

describe('parseRequestHead: request line', () => {
  it('parses method, target and version', () => {
    const h = req('GET /a/b?c=d HTTP/1.1', 'Host: x');
    assert.equal(h.method, 'GET');
    assert.equal(h.url, '/a/b?c=d');
    assert.equal(h.httpVersion, '1.1');
    assert.equal(req('POST * HTTP/1.0').httpVersion, '1.0');
    assert.equal(req('OPTIONS * HTTP/1.1').url, '*');
    assert.equal(req('CONNECT example.com:443 HTTP/1.1').url, 'example.com:443');
    assert.equal(req('GET http://a.example/x HTTP/1.1').url, 'http://a.example/x');
  });

  it('accepts any token method; refuses obs-text in the target and a target of no RFC 9112 form', () => {
    assert.equal(req("M-SEARCH!#$%&'*+.^_`|~ / HTTP/1.1").method, "M-SEARCH!#$%&'*+.^_`|~");
    refused(() => req('GET /\xe9 HTTP/1.1'), 400, /invalid character in the request target/);
    refused(() => req('GET a HTTP/1.1'), 400, /^malformed request line: request target "a" is not origin-form, absolute-form or \*$/);
    assert.equal(req('GET http://a/x HTTP/1.1').url, 'http://a/x');
    assert.equal(req('OPTIONS * HTTP/1.1').url, '*');
    assert.equal(req('CONNECT a:443 HTTP/1.1').url, 'a:443');
  });

  it('parses a head without any field line', () => {
    const h = req('GET / HTTP/1.1');
    assert.deepEqual(h.headers, {});
    assert.deepEqual(h.rawHeaders, []);
    assert.equal(h.framing, Framing.None);
    assert.equal(h.contentLength, -1);
  });

  const malformed: [string, string, RegExp][] = [
    ['no space at all', 'GET', /^malformed request line "GET"$/],
    ['one space only', 'GET /', /^malformed request line "GET \/"$/],
    ['spaces only in a later line', 'GET\r\nHost: a b', /^malformed request line "GET"$/],
    ['empty line', '', /^malformed request line ""$/],
    ['invalid method', 'GE(T / HTTP/1.1', /invalid method "GE\(T"/],
    ['leading space', ' GET / HTTP/1.1', /invalid method ""/],
    ['non-ASCII method', 'G\xc9T / HTTP/1.1', /invalid method/],
    ['empty target (two spaces)', 'GET  HTTP/1.1', /empty request target/],
    ['tab in target', 'GET /a\tb HTTP/1.1', /invalid character in the request target "\/a\\tb"/],
    ['DEL in target', 'GET /a\x7fb HTTP/1.1', /^malformed request line: control character or bare line break$/],
    ['NUL in target', 'GET /a\x00b HTTP/1.1', /^malformed request line: control character or bare line break$/],
    ['a bare LF ending it', 'GET / HTTP/1.1\nHost: x', /^malformed request line: control character or bare line break$/],
    ['a bare CR in it', 'GET /\r HTTP/1.1', /^malformed request line: control character or bare line break$/],
    ['HTTP/2.0', 'GET / HTTP/2.0', /unsupported protocol "HTTP\/2.0" \(HTTP\/1.0 and HTTP\/1.1 only\)/],
    ['HTTP/1.2', 'GET / HTTP/1.2', /unsupported protocol "HTTP\/1.2"/],
    ['lowercase version', 'GET / http/1.1', /unsupported protocol "http\/1.1"/],
    ['HTTP/0.9 style (no version)', 'GET / ', /unsupported protocol ""/],
    ['trailing text after the version', 'GET / HTTP/1.1 x', /unsupported protocol "HTTP\/1.1 x"/],
    ['version with a trailing space', 'GET / HTTP/1.1 ', /unsupported protocol "HTTP\/1.1 "/],
    ['HTTP/1.10', 'GET / HTTP/1.10', /unsupported protocol/],
  ];
  for (const [name, head, message] of malformed) {
    it(`refuses a request line with ${name} (400)`, () => {
      refused(() => parseRequestHead(head, LIMITS), 400, message);
    });
  }

  it('quotes and cuts a long malformed line at 80 characters', () => {
    const long = 'X'.repeat(200);
    assert.throws(
      () => parseRequestHead(long, LIMITS),
      (err: unknown) => err instanceof MessageError && err.message === `malformed request line "${'X'.repeat(80)}..."`,
    );
  });
});

describe('parseRequestHead: field lines', () => {
  it('refuses obs-fold (a line starting with space or tab)', () => {
    refused(() => req('GET / HTTP/1.1', 'X-A: 1', ' continued'), 400, /^request: folded header line \(obs-fold\) is not accepted$/);
    refused(() => req('GET / HTTP/1.1', 'X-A: 1', '\tcontinued'), 400, /obs-fold/);
  });

  it('refuses a line without a colon, naming the line', () => {
    refused(() => req('GET / HTTP/1.1', 'Host x'), 400, /^request: header line without ':' \("Host x"\)$/);
  });

  it("refuses a colon that only appears in a later line (the line's own colon is missing)", () => {
    refused(() => req('GET / HTTP/1.1', 'NoColon', 'Host: x'), 400, /header line without ':' \("NoColon"\)/);
  });

  it('refuses whitespace between the field name and the colon', () => {
    refused(() => req('GET / HTTP/1.1', 'Host : x'), 400, /^request: invalid header name "Host "$/);
    refused(() => req('GET / HTTP/1.1', 'Content-Length\t: 5'), 400, /invalid header name "Content-Length\\t"/);
  });

  it('refuses an empty or non-token field name', () => {
    refused(() => req('GET / HTTP/1.1', ': x'), 400, /invalid header name ""/);
    refused(() => req('GET / HTTP/1.1', 'X(a): x'), 400, /invalid header name "X\(a\)"/);
    refused(() => req('GET / HTTP/1.1', 'X\xe9: x'), 400, /invalid header name/);
    refused(() => req('GET / HTTP/1.1', 'X\x00: x'), 400, /^request: control character or bare line break in a header line$/);
    refused(() => req('GET / HTTP/1.1', 'X-A', 'NoColon\x01'), 400, /^request: control character or bare line break in a header line$/);
  });

  it('refuses control characters in a value, naming the field', () => {
    refused(() => req('GET / HTTP/1.1', 'X-Foo: a\x00b'), 400, /^x-foo: control character in the value$/);
    refused(() => req('GET / HTTP/1.1', 'X-Foo: a\x7fb'), 400, /^x-foo: control character in the value$/);
    refused(() => req('GET / HTTP/1.1', 'X-Bar: a\x1bb'), 400, /^x-bar: control character in the value$/);
    refused(() => req('GET / HTTP/1.1', 'Host: ok', 'X-Third: \x0c'), 400, /^x-third: control character in the value$/);
  });

  it('refuses a bare CR or LF inside a line (no line ends but CRLF)', () => {
    refused(() => req('GET / HTTP/1.1', 'Host: a\nX-Evil: 1'), 400, /^host: control character in the value$/);
    refused(() => req('GET / HTTP/1.1', 'Host: a\rX-Evil: 1'), 400, /^host: control character in the value$/);
    // A CR right before the CRLF (the line ends in CR CR LF).
    refused(() => req('GET / HTTP/1.1', 'X-A: v\r', 'X-B: w'), 400, /^x-a: control character in the value$/);
    refused(() => parseRequestHead('GET / HTTP/1.1\r\nHost: a\r', LIMITS), 400, /^host: control character in the value$/);
  });

  it('accepts HTAB and obs-text inside values and trims surrounding whitespace', () => {
    const h = req('GET / HTTP/1.1', 'X-A:\t a\tb \xff \t', 'X-B:', 'X-C:    ');
    assert.equal(h.headers['x-a'], 'a\tb \xff');
    assert.equal(h.headers['x-b'], '');
    assert.equal(h.headers['x-c'], '');
    assert.deepEqual(h.rawHeaders, ['X-A', 'a\tb \xff', 'X-B', '', 'X-C', '']);
  });

  it('ignores a trailing CRLF after the last field', () => {
    const h = withMap(parseRequestHead('GET / HTTP/1.1\r\nHost: a\r\n', LIMITS));
    assert.deepEqual(h.headers, { host: 'a' });
  });

  it('answers 431 beyond maxHeaderCount fields, and accepts exactly the limit', () => {
    const lines = Array.from({ length: 5 }, (_, i) => `X-${i}: ${i}`);
    assert.equal(
      Object.keys(
        withMap(parseRequestHead(['GET / HTTP/1.1', ...lines].join('\r\n'), { maxHeaderCount: 5, maxBodyBytes: 1 << 30 })).headers,
      ).length,
      5,
    );
    refused(
      () => parseRequestHead(['GET / HTTP/1.1', ...lines, 'X-5: 5'].join('\r\n'), { maxHeaderCount: 5, maxBodyBytes: 1 << 30 }),
      431,
      /^request has more than 5 header fields$/,
    );
  });
});

describe('parseRequestHead: header map shape (as node:http)', () => {
  it('lowercases names, keeps raw names and order in rawHeaders', () => {
    const h = req('GET / HTTP/1.1', 'HoSt: a.example', 'X-Trace-ID: 7');
    assert.deepEqual(h.headers, { host: 'a.example', 'x-trace-id': '7' });
    assert.deepEqual(h.rawHeaders, ['HoSt', 'a.example', 'X-Trace-ID', '7']);
  });

  it('joins a repeated field with ", "', () => {
    const h = req('GET / HTTP/1.1', 'Accept: a', 'accept: b', 'ACCEPT: c');
    assert.equal(h.headers.accept, 'a, b, c');
    assert.equal(h.rawHeaders.length, 6);
  });

  it('keeps set-cookie as an array, even when it appears once', () => {
    assert.deepEqual(req('GET / HTTP/1.1', 'Set-Cookie: a=1').headers['set-cookie'], ['a=1']);
    assert.deepEqual(req('GET / HTTP/1.1', 'Set-Cookie: a=1', 'set-cookie: b=2').headers['set-cookie'], ['a=1', 'b=2']);
  });

  it('keeps only the first of the fields that may appear once', () => {
    const once = [
      'age',
      'authorization',
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
    ];
    for (const name of once) {
      const h = req('GET / HTTP/1.1', `${name}: first`, `${name.toUpperCase()}: second`);
      assert.equal(h.headers[name], 'first', name);
      assert.deepEqual(h.rawHeaders, [name, 'first', name.toUpperCase(), 'second'], name);
    }
  });

  it('joins repeated cookie lines with "; " as node:http does (a ", " join corrupts the last cookie of the first line)', () => {
    // node:http: {"cookie":"a=1; b=2"}. Joined with ", " the upstream reads cookie a as "1, b=2" and no cookie b.
    const h = req('GET / HTTP/1.1', 'Host: x', 'Cookie: a=1', 'Cookie: b=2');
    assert.equal(h.headers.cookie, 'a=1; b=2');
  });

  it('reports the first Host and how many were sent', () => {
    const h = req('GET / HTTP/1.1', 'Host: a', 'HOST: b');
    const host: string | undefined = h.host;
    assert.equal(host, 'a');
    assert.equal(h.hostCount, 2);
  });
});

describe('parseRequestHead: framing and smuggling rules', () => {
  it('has no body without content-length or transfer-encoding', () => {
    const h = req('POST / HTTP/1.1', 'Host: a');
    assert.equal(h.framing, Framing.None);
    assert.equal(h.contentLength, -1);
  });

  it('reads a content-length body; content-length 0 is no body', () => {
    const h = req('POST / HTTP/1.1', 'Content-Length: 42');
    assert.equal(h.framing, Framing.Length);
    assert.equal(h.contentLength, 42);
    const z = req('POST / HTTP/1.1', 'Content-Length: 0');
    assert.equal(z.framing, Framing.None);
    assert.equal(z.contentLength, 0);
    assert.equal(req('POST / HTTP/1.1', 'Content-Length:  007 ').contentLength, 7);
    assert.equal(req('POST / HTTP/1.1', 'Content-Length: 999999999999999').contentLength, 999999999999999);
  });

  for (const bad of ['', '-1', '+5', '5a', '0x10', '1.5', '5, 5', '5 5', '1e3', '9999999999999999']) {
    it(`refuses content-length ${JSON.stringify(bad)}, naming it`, () => {
      refused(
        () => req('POST / HTTP/1.1', `Content-Length: ${bad}`),
        400,
        new RegExp(`^ambiguous request framing: invalid content-length ${JSON.stringify(bad).replace(/[.+]/g, '\\$&')}$`),
      );
    });
  }

  it('refuses content-length sent twice, even with equal values', () => {
    refused(
      () => req('POST / HTTP/1.1', 'Content-Length: 5', 'content-length: 5'),
      400,
      /^ambiguous request framing \(content-length sent 2 times\); refused to prevent request smuggling$/,
    );
    refused(() => req('POST / HTTP/1.1', 'Content-Length: 5', 'X: y', 'CONTENT-LENGTH: 6', 'Content-Length: 7'), 400, /sent 3 times/);
  });

  it('refuses content-length together with transfer-encoding (either order)', () => {
    const message = /^ambiguous request framing \(both content-length and transfer-encoding\); refused to prevent request smuggling$/;
    refused(() => req('POST / HTTP/1.1', 'Content-Length: 5', 'Transfer-Encoding: chunked'), 400, message);
    refused(() => req('POST / HTTP/1.1', 'Transfer-Encoding: chunked', 'Content-Length: 5'), 400, message);
    refused(() => req('POST / HTTP/1.1', 'Transfer-Encoding: chunked', 'Content-Length: 0'), 400, message);
  });

  it('reads a chunked body when transfer-encoding is exactly chunked (any case)', () => {
    for (const te of ['chunked', 'CHUNKED', 'Chunked']) {
      const h = req('POST / HTTP/1.1', `Transfer-Encoding: ${te}`);
      assert.equal(h.framing, Framing.Chunked, te);
      assert.equal(h.contentLength, -1, te);
    }
  });

  const notChunked = ['identity', 'gzip', 'chunked, gzip', 'chunked;q=1', 'xchunked', 'chunked,', '', 'gzip, chunked', 'chunked, chunked'];
  for (const te of notChunked) {
    it(`refuses transfer-encoding ${JSON.stringify(te)} (not exactly chunked)`, () => {
      refused(
        () => req('POST / HTTP/1.1', `Transfer-Encoding: ${te}`),
        400,
        /^ambiguous request framing \(transfer-encoding ".*" is not exactly chunked\); refused to prevent request smuggling$/,
      );
    });
  }

  it('refuses transfer-encoding over two field lines, even chunked twice', () => {
    refused(() => req('POST / HTTP/1.1', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip'), 400, /"chunked, gzip" is not exactly/);
    refused(() => req('POST / HTTP/1.1', 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'), 400, /"gzip, chunked" is not exactly/);
    refused(() => req('POST / HTTP/1.1', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'), 400, /"chunked, chunked"/);
  });

  it('refuses a content-length over maxBodyBytes with 413 and accepts it at the limit', () => {
    const limits = { maxHeaderCount: 100, maxBodyBytes: 1000 };
    assert.equal(parseRequestHead('POST / HTTP/1.1\r\nContent-Length: 1000', limits).contentLength, 1000);
    refused(
      () => parseRequestHead('POST / HTTP/1.1\r\nContent-Length: 1001', limits),
      413,
      /^request body of 1001 bytes is larger than the limit of 1000 bytes$/,
    );
  });
});

describe('parseRequestHead: keep-alive and expect', () => {
  const cases: [string, string | undefined, boolean][] = [
    ['1.1', undefined, true],
    ['1.1', 'keep-alive', true],
    ['1.1', 'close', false],
    ['1.1', 'Close', false],
    ['1.1', 'upgrade, close', false],
    ['1.1', 'TE, CLOSE ', false],
    ['1.1', 'closed', true],
    ['1.0', undefined, false],
    ['1.0', 'keep-alive', true],
    ['1.0', 'Keep-Alive', true],
    ['1.0', 'foo, keep-alive', true],
    ['1.0', 'close', false],
    ['1.0', 'keep-alived', false],
  ];
  for (const [version, connection, keepAlive] of cases) {
    it(`HTTP/${version} with connection ${connection ?? '(none)'} -> keepAlive ${keepAlive}`, () => {
      const lines = [`GET / HTTP/${version}`];
      if (connection !== undefined) lines.push(`Connection: ${connection}`);
      assert.equal(req(...lines).keepAlive, keepAlive);
    });
  }

  it('joins connection over several lines', () => {
    assert.equal(req('GET / HTTP/1.1', 'Connection: upgrade', 'Connection: close').keepAlive, false);
    assert.equal(req('GET / HTTP/1.0', 'Connection: upgrade', 'Connection: keep-alive').keepAlive, true);
  });

  it('recognises expect: 100-continue (any case) and flags other expectations', () => {
    const a = req('POST / HTTP/1.1', 'Expect: 100-continue', 'Content-Length: 1');
    assert.equal(a.expectContinue, true);
    assert.equal(a.unsupportedExpect, undefined);
    assert.equal(req('POST / HTTP/1.1', 'Expect: 100-Continue').expectContinue, true);
    const b = req('POST / HTTP/1.1', 'Expect: 200-ok');
    assert.equal(b.expectContinue, false);
    assert.equal(b.unsupportedExpect, '200-ok');
    const c = req('GET / HTTP/1.1');
    assert.equal(c.expectContinue, false);
    assert.equal(c.unsupportedExpect, undefined);
  });

  it('flags an unsupported expectation that is followed by a second Expect line (not only the last line counts)', () => {
    // Expect: fancy + Expect: 100-continue is the list "fancy, 100-continue": "fancy" cannot be met (417).
    const h = req('POST / HTTP/1.1', 'Expect: fancy', 'Expect: 100-continue', 'Content-Length: 1');
    assert.equal(h.headers.expect, 'fancy, 100-continue');
    assert.notEqual(h.unsupportedExpect, undefined);
    assert.equal(h.expectContinue, false);
  });
});

describe('headerMapOf and isField', () => {
  it('builds the same map as a parsed request head', () => {
    const h = req('GET / HTTP/1.1', 'Host: a', 'HOST: b', 'X-A: 1', 'x-a: 2', 'Set-Cookie: s', 'User-Agent: u');
    assert.deepEqual(headerMapOf(h.rawHeaders), h.headers);
    assert.deepEqual(headerMapOf([]), {});
  });

  it('compares a field name to a lowercase name, any case', () => {
    assert.equal(isField('Content-Length', 'content-length'), true);
    assert.equal(isField('content-length', 'content-length'), true);
    assert.equal(isField('CONTENT-LENGTH', 'content-length'), true);
    assert.equal(isField('Content-Lengths', 'content-length'), false);
    assert.equal(isField('Content-Lengt', 'content-length'), false);
    assert.equal(isField('Content_Length', 'content-length'), false);
  });
});

describe('hasToken', () => {
  it('matches whole comma-separated tokens case-insensitively', () => {
    assert.equal(hasToken(undefined, 'close'), false);
    assert.equal(hasToken('close', 'close'), true);
    assert.equal(hasToken('CLOSE', 'close'), true);
    assert.equal(hasToken('a, Close ,b', 'close'), true);
    assert.equal(hasToken('closes', 'close'), false);
    assert.equal(hasToken('xlose', 'close'), false);
    assert.equal(hasToken('', 'close'), false);
  });
});

describe('parseResponseHead: status line', () => {
  it('parses version, status and reason', () => {
    const h = res('GET', 'HTTP/1.1 404 Not Found', 'Content-Length: 0');
    assert.equal(h.httpVersion, '1.1');
    assert.equal(h.statusCode, 404);
    assert.equal(h.statusMessage, 'Not Found');
    assert.equal(res('GET', 'HTTP/1.0 200 OK').httpVersion, '1.0');
    assert.equal(res('GET', 'HTTP/1.1 200').statusMessage, '');
    assert.equal(res('GET', 'HTTP/1.1 200 ').statusMessage, '');
    assert.equal(res('GET', 'HTTP/1.1 599 Custom Reason  x').statusMessage, 'Custom Reason  x');
    assert.equal(res('GET', 'HTTP/1.1 999 X').statusCode, 999);
  });

  const bad = [
    'HTTP/1.1 20 OK',
    'HTTP/1.1 2000 OK',
    'HTTP/1.1 099 OK',
    'HTTP/1.1 abc OK',
    'HTTP/1.1 2.0 OK',
    'HTTP/1.1  200 OK',
    'HTTP/1.1\t200 OK',
    'HTTP/1.1 200\tOK',
    'HTTP/2 200 OK',
    'HTTP/1.2 200 OK',
    'http/1.1 200 OK',
    'ICY 200 OK',
    '',
    'HTTP/1.1',
  ];
  for (const line of bad) {
    it(`refuses status line ${JSON.stringify(line)}`, () => {
      refused(() => res('GET', line, 'Content-Length: 0'), 400, /^malformed status line /);
    });
  }

  it('refuses a status code that is not three digits (exponent notation "2e2")', () => {
    // Number('2e2') === 200: the code is checked with Number(), which also reads exponents.
    refused(() => res('GET', 'HTTP/1.1 2e2 OK', 'Content-Length: 0'), 400, /^malformed status line "HTTP\/1.1 2e2 OK"$/);
    refused(() => res('GET', 'HTTP/1.1 1e2 Continue'), 400, /^malformed status line/);
  });

  it('refuses bad fields like requests do, with the "response" prefix', () => {
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'X-A: 1', ' fold'), 400, /^response: folded header line/);
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'Bad Name: 1'), 400, /^response: invalid header name "Bad Name"$/);
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'NoColon'), 400, /^response: header line without ':'/);
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'Location: /a\x00'), 400, /^location: control character in the value$/);
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'Location: /a\nX-Injected: 1'), 400, /^location: control character in the value$/);
  });

  it('refuses control characters and bare line breaks in the status line', () => {
    refused(() => res('GET', 'HTTP/1.1 200 O\x00K'), 400, /^malformed response line: control character or bare line break$/);
    refused(() => res('GET', 'HTTP/1.1 200 OK\nX-Injected: 1'), 400, /^malformed response line: control character or bare line break$/);
  });

  it('refuses more than 1000 response header fields (431)', () => {
    const lines = Array.from({ length: 1001 }, (_, i) => `X-${i}: v`);
    refused(() => res('GET', 'HTTP/1.1 200 OK', ...lines), 431, /^response has more than 1000 header fields$/);
    assert.equal(res('GET', 'HTTP/1.1 200 OK', ...lines.slice(0, 1000)).rawHeaders.length, 2000);
  });
});

describe('parseResponseHead: framing and keep-alive', () => {
  it('reads a content-length body and keeps the connection', () => {
    const h = res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 12');
    assert.equal(h.framing, Framing.Length);
    assert.equal(h.contentLength, 12);
    assert.equal(h.keepAlive, true);
  });

  it('treats content-length 0 as no body', () => {
    const h = res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 0');
    assert.equal(h.framing, Framing.None);
    assert.equal(h.contentLength, 0);
    assert.equal(h.keepAlive, true);
  });

  it('refuses content-length sent twice, equal or not', () => {
    refused(
      () => res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 5', 'content-length: 5'),
      400,
      /^ambiguous response framing \(content-length sent 2 times\)$/,
    );
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6'), 400, /content-length sent 2 times/);
  });

  it('refuses an invalid response content-length, naming it', () => {
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 5x'), 400, /^response: invalid content-length "5x"$/);
    refused(() => res('GET', 'HTTP/1.1 200 OK', 'Content-Length: -1'), 400, /invalid content-length "-1"/);
  });

  it('reads until close without framing headers (and never reuses the connection)', () => {
    const h = res('GET', 'HTTP/1.1 200 OK');
    assert.equal(h.framing, Framing.UntilClose);
    assert.equal(h.keepAlive, false);
    assert.equal(res('GET', 'HTTP/1.0 200 OK', 'Connection: keep-alive').keepAlive, false);
  });

  it('reads chunked, and refuses chunked together with content-length', () => {
    const a = res('GET', 'HTTP/1.1 200 OK', 'Transfer-Encoding: chunked');
    assert.equal(a.framing, Framing.Chunked);
    assert.equal(a.keepAlive, true);
    refused(
      () => res('GET', 'HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Content-Length: 10'),
      400,
      /^ambiguous response framing \(both content-length and transfer-encoding\)$/,
    );
  });

  it('records the first value of the noted field, whatever its case, and nothing without one', () => {
    const h = parseResponseHead('HTTP/1.1 503 x\r\nX-Weft-Error: circuit_open\r\nx-weft-error: other', 'GET', 'x-weft-error');
    assert.equal(h.noted, 'circuit_open');
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\nX-Weft-Error: a', 'GET').noted, undefined);
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\nX-Other: a', 'GET', 'x-weft-error').noted, undefined);
  });

  it('reads until close when transfer-encoding does not end in chunked', () => {
    const h = res('GET', 'HTTP/1.1 200 OK', 'Transfer-Encoding: gzip');
    assert.equal(h.framing, Framing.UntilClose);
    assert.equal(h.keepAlive, false);
  });

  it('has no body after HEAD, for 1xx, 204 and 304 whatever the headers say', () => {
    for (const [method, status] of [
      ['HEAD', 200],
      ['GET', 100],
      ['GET', 103],
      ['GET', 204],
      ['GET', 304],
      ['HEAD', 404],
    ] as const) {
      for (const extra of [[], ['Content-Length: 10'], ['Transfer-Encoding: chunked']]) {
        const h = res(method, `HTTP/1.1 ${status} X`, ...extra);
        assert.equal(h.framing, Framing.None, `${method} ${status} ${extra.join()}`);
        assert.equal(h.keepAlive, true, `${method} ${status} ${extra.join()}`);
      }
    }
  });

  it('follows connection and version for keep-alive', () => {
    assert.equal(res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 1', 'Connection: close').keepAlive, false);
    assert.equal(res('GET', 'HTTP/1.0 200 OK', 'Content-Length: 1').keepAlive, false);
    assert.equal(res('GET', 'HTTP/1.0 200 OK', 'Content-Length: 1', 'Connection: keep-alive').keepAlive, true);
    assert.equal(res('GET', 'HTTP/1.1 204 No Content', 'Connection: close').keepAlive, false);
    assert.equal(res('HEAD', 'HTTP/1.0 200 OK').keepAlive, false);
  });

  it('keeps the (joined) connection field', () => {
    assert.equal(res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 0').connection, undefined);
    assert.equal(res('GET', 'HTTP/1.1 200 OK', 'Connection: keep-alive', 'connection: Upgrade').connection, 'keep-alive, Upgrade');
  });

  it('builds the header map (headerMapOf) like requests (set-cookie array, first-wins, joins)', () => {
    const h = res(
      'GET',
      'HTTP/1.1 200 OK',
      'Set-Cookie: a=1; Path=/',
      'Set-Cookie: b=2, c=3',
      'Location: /one',
      'Location: /two',
      'Vary: accept',
      'Vary: origin',
      'Content-Length: 0',
    );
    assert.deepEqual(headerMapOf(h.rawHeaders), {
      'set-cookie': ['a=1; Path=/', 'b=2, c=3'],
      location: '/one',
      vary: 'accept, origin',
      'content-length': '0',
    });
    assert.equal(h.rawHeaders.length, 14);
  });
});

describe('parseRequestHead / parseResponseHead: lead review additions', () => {
  it('refuses transfer-encoding in an HTTP/1.0 request (RFC 9112 §6.1: faulty framing)', () => {
    refused(() => req('POST / HTTP/1.0', 'Host: a', 'Transfer-Encoding: chunked'), 400, /HTTP\/1\.0 request/);
  });

  it('reads the idle timeout a server announces in Keep-Alive, in ms', () => {
    assert.equal(res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 0', 'Keep-Alive: timeout=5').keepAliveTimeoutMs, 5000);
    assert.equal(res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 0', 'keep-alive: max=100, timeout=2').keepAliveTimeoutMs, 2000);
    assert.equal(res('GET', 'HTTP/1.1 200 OK', 'Content-Length: 0').keepAliveTimeoutMs, undefined);
  });
});
