import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LATENCY_BUCKETS, MetricsRegistry, Outcome } from '@weft/shared';
import { EdgeStatsTable } from './edge-stats.js';
import { ProxyMetrics } from './proxy-metrics.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('edge stats (the golden metrics an agent reports)', () => {
  test('drain returns one row per edge and outcome with requests, then starts again from zero', () => {
    const t = new EdgeStatsTable();
    const web = t.cell('web', 'orders');
    web.record(Outcome.success, 3, 10, 100);
    web.record(Outcome.success, 4, 10, 100);
    web.record(Outcome.meshError, 250, 0, 50);
    t.cell('agent:a', 'orders').record(Outcome.appError, 1, 0, 0);
    t.cell('idle', 'orders');

    const rows = t.drain();
    assert.equal(rows.length, 3);
    const ok = rows.find((r) => r.source === 'web' && r.outcome === Outcome.success)!;
    assert.deepEqual([ok.requests, ok.bytesIn, ok.bytesOut], [2, 20, 200]);
    assert.equal(ok.latency.length, LATENCY_BUCKETS);
    assert.equal(sum(ok.latency), 2);
    const mesh = rows.find((r) => r.outcome === Outcome.meshError)!;
    assert.equal(mesh.requests, 1);
    assert.deepEqual(t.drain(), [], 'counts are deltas: nothing twice');
  });

  test('restored rows are added to what was counted since, so a failed report is sent with the next', () => {
    const t = new EdgeStatsTable();
    t.cell('web', 'orders').record(Outcome.success, 2, 1, 1);
    const failed = t.drain();
    t.cell('web', 'orders').record(Outcome.success, 2, 1, 1);
    t.restore(failed);
    const rows = t.drain();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.requests, 2);
    assert.equal(sum(rows[0]!.latency), 2);
  });

  test('the outbound pipeline metrics feed the table once per request with the source label; inbound and unresolved do not', () => {
    const edges = new EdgeStatsTable();
    const m = new ProxyMetrics(new MetricsRegistry(), { agentId: 'a1', edges });
    const started = performance.now();
    m.service('outbound', 'orders').request(undefined, 200, '', started, 5, 7);
    m.service('outbound', 'orders').request(
      { spiffeId: 'spiffe://t/svc/web', service: 'web', authenticated: true },
      503,
      'no_healthy_endpoint',
      started,
    );
    m.service('outbound', 'orders').request({ spiffeId: 'spiffe://t/svc/evil', service: 'evil', authenticated: false }, 500, '', started);
    m.service('outbound', '-').request(undefined, 404, 'unknown_service', started);
    m.service('inbound', 'orders').request(undefined, 200, '', started);
    const rows = edges.drain().map((r) => [r.source, r.destination, r.outcome, r.requests, r.bytesIn, r.bytesOut]);
    assert.deepEqual(
      rows.sort(),
      [
        ['agent:a1', 'orders', Outcome.appError, 1, 0, 0],
        ['agent:a1', 'orders', Outcome.success, 1, 5, 7],
        ['web', 'orders', Outcome.meshError, 1, 0, 0],
      ].sort(),
      'an unauthenticated claim is not believed: that caller counts as the agent itself',
    );
    const text = m.registry.render();
    assert.match(
      text,
      /^response_total\{direction="outbound",dst_service="orders",src_service="web",status_code="503",classification="mesh_error",error="no_healthy_endpoint"\} 1$/m,
    );
    assert.match(
      text,
      /^response_total\{direction="inbound",dst_service="orders",src_service="unknown",status_code="200",classification="success",error=""\} 1$/m,
    );
    assert.match(text, /^response_latency_ms_count\{direction="outbound",dst_service="orders",src_service="agent:a1"\} 2$/m);
  });
});
