import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeshError } from '@weft/shared';
import type { Http1Request } from '../http1/server-message.js';
import { isValidTraceparent, newTraceparent, stripHopByHop, upstreamRequestHeaders } from './headers.js';
import { parseRequestTarget } from './request-target.js';

const target = (url: string, host?: string) => parseRequestTarget({ url, headers: host === undefined ? {} : { host } } as Http1Request);

describe('request target', () => {
  it('reads the service from an absolute-form URL, lowercased and without port', () => {
    assert.deepEqual(target('http://ORDERS:8080/a?b=1', 'ignored'), { service: 'orders', path: '/a?b=1', authority: 'orders:8080' });
    assert.deepEqual(target('http://orders', 'x'), { service: 'orders', path: '/', authority: 'orders' });
  });

  it('reads the service from Host for origin-form requests', () => {
    assert.deepEqual(target('/p', 'Payments:80'), { service: 'payments', path: '/p', authority: 'Payments:80' });
  });

  it('rejects what is not a service, naming the field', () => {
    for (const [url, host, field] of [
      ['/p', undefined, /^host: missing/],
      ['/p', '10.0.0.1:80', /^host: "10\.0\.0\.1"/],
      ['/p', '[::1]:80', /^host: "\[::1\]"/],
      ['https://orders/', 'orders', /only http/],
      ['*', 'orders', /expected a path/],
    ] as const) {
      const r = target(url, host);
      assert.ok(r instanceof MeshError, url);
      assert.equal(r.code, 'bad_request');
      assert.match(r.message, field);
    }
  });
});

describe('headers', () => {
  it('removes hop-by-hop headers and those named in Connection', () => {
    const out = stripHopByHop({ connection: 'close, X-Foo', 'x-foo': '1', 'transfer-encoding': 'chunked', upgrade: 'h2c', 'x-keep': 'k' });
    assert.deepEqual(out, { 'x-keep': 'k' });
  });

  it('validates traceparent per W3C and replaces an invalid one (dropping its tracestate)', () => {
    assert.ok(isValidTraceparent(newTraceparent()));
    assert.ok(!isValidTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'));
    assert.ok(!isValidTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'));
    const h = upstreamRequestHeaders(
      { traceparent: 'garbage', tracestate: 'a=b', host: 'x' },
      { clientAddress: '1.2.3.4', authority: 'orders', requestId: 'r', firstHop: true },
    );
    assert.ok(isValidTraceparent(h.traceparent as string));
    assert.equal(h.tracestate, undefined);
    assert.equal(h['x-forwarded-for'], '1.2.3.4');
  });

  it('keeps the first hop forwarding headers on later hops', () => {
    const h = upstreamRequestHeaders(
      { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-forwarded-for': '1.1.1.1', 'x-weft-instance': 'i1' },
      { clientAddress: '2.2.2.2', authority: 'orders', requestId: 'r', firstHop: false, drop: ['x-weft-instance'] },
    );
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'shop.example');
    assert.equal(h['x-forwarded-for'], '1.1.1.1, 2.2.2.2');
    assert.equal(h['x-weft-instance'], undefined);
  });
});
