/** The field mappings of translate-h1-to-h2.ts and translate-h2-to-h1.ts (the paths themselves: test/src/protocol-translation.test.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeshErrorCode } from '@weft/shared';
import { h2Refusal, NotTranslatable } from './not-translatable.js';
import { h2HeadersOfH1 } from './translate-h1-to-h2.js';
import { h1HeadOfH2 } from './translate-h2-to-h1.js';

const ctx = { clientAddress: undefined, authority: 'orders', requestId: 'rid-1', firstHop: false, traceparent: undefined };

describe('HTTP/1.1 head lines to HTTP/2 fields', () => {
  it('makes :authority of Host, lowercases names, keeps repeated fields and joins cookies with "; "', () => {
    const lines =
      'host: orders\r\nAccept: a/b\r\nX-Multi: 1\r\nx-multi: 2\r\nCookie: a=1\r\ncookie: b=2\r\ncontent-length: 5\r\nx-request-id: r\r\n';
    const h = h2HeadersOfH1('POST', '/p?q=1', { lines, hasLength: true });
    assert.ok(!(h instanceof NotTranslatable));
    assert.deepEqual(h, {
      ':method': 'POST',
      ':path': '/p?q=1',
      ':scheme': 'http',
      ':authority': 'orders',
      accept: 'a/b',
      'x-multi': ['1', '2'],
      cookie: 'a=1; b=2',
      'content-length': '5',
      'x-request-id': 'r',
    });
  });

  it('leaves out the fields HTTP/2 forbids or does not need (te, expect, transfer-encoding, connection, keep-alive)', () => {
    const lines =
      'host: o\r\nte: trailers\r\nexpect: 100-continue\r\ntransfer-encoding: chunked\r\nconnection: close\r\nkeep-alive: 5\r\nx-ok: 1\r\n';
    const h = h2HeadersOfH1('GET', '/', { lines, hasLength: false });
    assert.ok(!(h instanceof NotTranslatable));
    assert.deepEqual(Object.keys(h).sort(), [':authority', ':method', ':path', ':scheme', 'x-ok']);
  });

  it('refuses an Upgrade, naming it, with upgrade_not_supported', () => {
    const h = h2HeadersOfH1('GET', '/ws', { lines: 'host: o\r\nconnection: upgrade\r\nupgrade: websocket\r\n', hasLength: false });
    assert.ok(h instanceof NotTranslatable);
    assert.equal(h.code, MeshErrorCode.upgradeNotSupported);
    assert.match(h.message, /Upgrade \(websocket\)/);
  });
});

describe('HTTP/2 fields to HTTP/1.1 head lines', () => {
  it('leaves pseudo-fields out, writes Host from the authority and repeats array values', () => {
    const head = h1HeadOfH2({ ':method': 'GET', ':path': '/x', ':authority': 'ignored', accept: 'a', 'x-multi': ['1', '2'] } as never, ctx);
    const lines = head.lines.split('\r\n');
    assert.equal(lines[0], 'host: orders');
    assert.ok(lines.includes('accept: a'));
    assert.ok(lines.includes('x-multi: 1') && lines.includes('x-multi: 2'));
    assert.ok(!head.lines.includes(':method') && !head.lines.includes(':path'));
    assert.ok(lines.includes('x-request-id: rid-1'));
    assert.equal(head.hasLength, false);
  });

  it('keeps the content-length, so the body is not sent chunked', () => {
    const head = h1HeadOfH2({ ':method': 'POST', ':path': '/', 'content-length': '3' } as never, ctx);
    assert.equal(head.hasLength, true);
  });
});

describe('which HTTP/2 requests an instance cannot take', () => {
  it('translates plain HTTP/2 to http, refuses gRPC to http and anything to tcp', () => {
    assert.equal(h2Refusal('http2', true), undefined);
    assert.equal(h2Refusal('grpc', false), undefined);
    assert.equal(h2Refusal('http', false), undefined);
    assert.equal(h2Refusal(undefined, false), undefined);
    assert.equal(h2Refusal('http', true)?.code, MeshErrorCode.protocolNotTranslatable);
    assert.equal(h2Refusal('tcp', false)?.code, MeshErrorCode.upstreamProtocolError);
  });
});
