import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeshError } from '@weft/shared';
import type { Http1Request } from '../http1/server-message.js';
import { isValidTraceparent, newTraceparent, stripHopByHop, upstreamRequestLines } from './headers.js';
import { parseRequestTarget } from './request-target.js';

/** The lines parsed back into a map of lowercase name -> values (in order). */
function parse(lines: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of lines.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    out.set(name, [...(out.get(name) ?? []), line.slice(colon + 2)]);
  }
  return out;
}

const target = (url: string, host?: string) => parseRequestTarget({ url, host } as Http1Request);

describe('request target', () => {
  it('reads the service from an absolute-form URL, lowercased and without port', () => {
    assert.deepEqual(target('http://ORDERS:8080/a?b=1', 'ignored'), {
      service: 'orders',
      host: 'orders',
      port: 8080,
      path: '/a?b=1',
      authority: 'orders:8080',
    });
    assert.deepEqual(target('http://orders', 'x'), { service: 'orders', host: 'orders', port: undefined, path: '/', authority: 'orders' });
  });

  it('reads the service from Host for origin-form requests', () => {
    assert.deepEqual(target('/p', 'Payments:80'), {
      service: 'payments',
      host: 'payments',
      port: 80,
      path: '/p',
      authority: 'Payments:80',
    });
  });

  it('reads a host outside the mesh (a DNS name or IPv4 address that is not a service name) with service null', () => {
    assert.deepEqual(target('http://API.Example.com/v1', 'x'), {
      service: null,
      host: 'api.example.com',
      port: undefined,
      path: '/v1',
      authority: 'api.example.com',
    });
    assert.deepEqual(target('/p', '10.0.0.1:8443'), {
      service: null,
      host: '10.0.0.1',
      port: 8443,
      path: '/p',
      authority: '10.0.0.1:8443',
    });
  });

  it('rejects what is not a service, naming the field', () => {
    for (const [url, host, field] of [
      ['/p', undefined, /^host: missing/],
      ['/p', 'bad_name', /^host: "bad_name" is neither a service name/],
      ['/p', 'orders:99999', /^host: invalid port/],
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
    const h = parse(
      upstreamRequestLines(['traceparent', 'garbage', 'tracestate', 'a=b', 'host', 'x'], {
        clientAddress: '1.2.3.4',
        authority: 'orders',
        requestId: 'r',
        firstHop: true,
      }).lines,
    );
    assert.ok(isValidTraceparent(h.get('traceparent')![0]!));
    assert.equal(h.get('tracestate'), undefined);
    assert.deepEqual(h.get('x-forwarded-for'), ['1.2.3.4']);
  });

  it('keeps the first hop forwarding headers on later hops', () => {
    const h = parse(
      upstreamRequestLines(
        ['x-forwarded-proto', 'https', 'x-forwarded-host', 'shop.example', 'x-forwarded-for', '1.1.1.1', 'x-weft-instance', 'i1'],
        { clientAddress: '2.2.2.2', authority: 'orders', requestId: 'r', firstHop: false },
      ).lines,
    );
    assert.deepEqual(h.get('x-forwarded-proto'), ['https']);
    assert.deepEqual(h.get('x-forwarded-host'), ['shop.example']);
    assert.deepEqual(h.get('x-forwarded-for'), ['1.1.1.1, 2.2.2.2']);
    assert.equal(h.get('x-weft-instance'), undefined);
  });
});

describe('upstream request lines (the raw-field path)', () => {
  it('writes host first, drops hop-by-hop and mesh headers, sets forwarding headers', () => {
    const raw = [
      'Host',
      'ignored',
      'Connection',
      'keep-alive, X-Secret',
      'X-Secret',
      's',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'X-Weft-Instance',
      'smuggled',
      'x-weft-timeout-ms',
      '1',
      'Expect',
      '100-continue',
      'X-Forwarded-For',
      '1.1.1.1',
      'x-forwarded-for',
      '2.2.2.2',
      'X-Forwarded-Proto',
      'https',
      'X-Request-Id',
      'old',
      'Accept',
      'a',
      'Accept',
      'b',
    ];
    const { lines, hasLength } = upstreamRequestLines(raw, {
      clientAddress: '3.3.3.3',
      authority: 'orders',
      requestId: 'r1',
      firstHop: true,
    });
    assert.ok(lines.startsWith('host: orders\r\n'), lines);
    const h = parse(lines);
    for (const gone of ['connection', 'x-secret', 'keep-alive', 'transfer-encoding', 'x-weft-instance', 'x-weft-timeout-ms', 'expect']) {
      assert.equal(h.get(gone), undefined, gone);
    }
    assert.deepEqual(h.get('x-forwarded-for'), ['3.3.3.3'], "a local app's forwarding headers are replaced, not trusted");
    assert.deepEqual(h.get('x-forwarded-proto'), ['http']);
    assert.deepEqual(h.get('x-forwarded-host'), ['orders']);
    assert.deepEqual(h.get('x-request-id'), ['r1']);
    assert.deepEqual(h.get('accept'), ['a', 'b']);
    assert.deepEqual(h.get('host'), ['orders']);
    assert.ok(isValidTraceparent(h.get('traceparent')![0]!));
    assert.equal(hasLength, false);
  });

  it('keeps a valid traceparent with its tracestate, replaces an invalid one without it, and sees content-length', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const kept = upstreamRequestLines(['traceparent', tp, 'TraceState', 'a=b', 'Content-Length', '5'], {
      clientAddress: undefined,
      authority: 'o',
      requestId: 'r',
      firstHop: false,
    });
    assert.deepEqual(parse(kept.lines).get('traceparent'), [tp]);
    assert.deepEqual(parse(kept.lines).get('tracestate'), ['a=b']);
    assert.equal(kept.hasLength, true);
    const fresh = parse(
      upstreamRequestLines(['traceparent', 'garbage', 'tracestate', 'a=b'], {
        clientAddress: '1.2.3.4',
        authority: 'o',
        requestId: 'r',
        firstHop: true,
      }).lines,
    );
    assert.ok(isValidTraceparent(fresh.get('traceparent')![0]!));
    assert.notEqual(fresh.get('traceparent')![0], 'garbage');
    assert.equal(fresh.get('tracestate'), undefined);
  });

  it('keeps the first hop forwarding headers on later hops', () => {
    const h = parse(
      upstreamRequestLines(['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'shop.example', 'X-Forwarded-For', '1.1.1.1'], {
        clientAddress: '2.2.2.2',
        authority: 'orders',
        requestId: 'r',
        firstHop: false,
      }).lines,
    );
    assert.deepEqual(h.get('x-forwarded-proto'), ['https']);
    assert.deepEqual(h.get('x-forwarded-host'), ['shop.example']);
    assert.deepEqual(h.get('x-forwarded-for'), ['1.1.1.1, 2.2.2.2']);
  });
});

describe("upstream request lines: a rule's request header edits", () => {
  it("removes named headers (the agent's own included), replaces set ones and keeps the rest", () => {
    const { lines, hasLength } = upstreamRequestLines(
      ['Host', 'o', 'X-Debug', '1', 'X-Tenant', 'a', 'Content-Length', '3', 'Accept', 'b'],
      {
        clientAddress: '1.2.3.4',
        authority: 'orders',
        requestId: 'r',
        firstHop: true,
        remove: ['x-debug', 'x-forwarded-for'],
        set: { 'x-tenant': 'b', 'x-new': 'n' },
      },
    );
    const h = parse(lines);
    assert.equal(h.get('x-debug'), undefined);
    assert.equal(h.get('x-forwarded-for'), undefined);
    assert.deepEqual(h.get('x-tenant'), ['b']);
    assert.deepEqual(h.get('x-new'), ['n']);
    assert.deepEqual(h.get('accept'), ['b']);
    assert.deepEqual(h.get('host'), ['orders']);
    assert.deepEqual(h.get('x-request-id'), ['r']);
    assert.equal(hasLength, true);
  });
});
