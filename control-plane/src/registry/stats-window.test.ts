import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LATENCY_BUCKETS, Outcome } from '@weft/shared';
import { type EdgeSample, MAX_EDGES_PER_SLOT, RESOLUTION_MS, StatsWindow, WINDOW_SLOTS } from './stats-window.js';

function sample(source: string, destination: string, outcome: number, requests: number, bucket = 3): EdgeSample {
  const latency = new Array<number>(LATENCY_BUCKETS).fill(0);
  latency[bucket] = requests;
  return { source, destination, outcome, requests, bytesIn: requests * 10, bytesOut: requests * 100, latency };
}

function clock(start = 1_700_000_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('the stats window', () => {
  test('merges reports from several agents per service and per edge over the window', () => {
    const c = clock();
    const w = new StatsWindow(c.now);
    w.add([sample('web', 'orders', Outcome.success, 90), sample('web', 'orders', Outcome.appError, 6)]);
    c.t += RESOLUTION_MS;
    w.add([sample('agent:b', 'orders', Outcome.meshError, 4), sample('web', 'stock', Outcome.cancelled, 3)]);
    const s = w.snapshot(60_000);
    assert.equal(s.windowSeconds, 60);
    assert.equal(s.resolutionSeconds, 10);
    assert.equal(s.generatedAtMs, c.t);
    const orders = s.services.find((x) => x.service === 'orders')!;
    assert.equal(orders.requestsPerSecond, 1.666667, 'rounded to 6 decimals');
    assert.equal(orders.successRate, 0.9);
    assert.equal(orders.bytesInPerSecond, Math.round((1000 / 60) * 1000) / 1000);
    assert.ok(orders.p50Ms! > 3 && orders.p50Ms! <= 5);
    const stock = s.services.find((x) => x.service === 'stock')!;
    assert.equal(stock.successRate, null, 'cancelled requests alone give no success rate');
    assert.equal(stock.requestsPerSecond, 0.05);
    assert.deepEqual(
      s.edges.map((e) => [e.source, e.destination, Math.round(e.requestsPerSecond * 60)]),
      [
        ['agent:b', 'orders', 4],
        ['web', 'orders', 96],
        ['web', 'stock', 3],
      ],
    );
  });

  test('a window covers its slots only: older reports fall out, and after 15 minutes nothing is left', () => {
    const c = clock();
    const w = new StatsWindow(c.now);
    w.add([sample('web', 'orders', Outcome.success, 10)]);
    c.t += 6 * RESOLUTION_MS;
    w.add([sample('web', 'orders', Outcome.success, 5)]);
    assert.equal(Math.round(w.snapshot(60_000).services[0]!.requestsPerSecond * 60), 5);
    assert.equal(Math.round(w.snapshot(70_000).services[0]!.requestsPerSecond * 70), 15);
    c.t += WINDOW_SLOTS * RESOLUTION_MS;
    assert.deepEqual(w.snapshot(WINDOW_SLOTS * RESOLUTION_MS).services, []);
    // The ring slot is reused for a new report, without the old counts.
    w.add([sample('web', 'orders', Outcome.success, 1)]);
    assert.equal(Math.round(w.snapshot(900_000).services[0]!.requestsPerSecond * 900), 1);
  });

  test('a series has one point per slot, oldest first, per service or per edge', () => {
    const c = clock(1_700_000_005_000);
    const w = new StatsWindow(c.now);
    w.add([sample('web', 'orders', Outcome.success, 20), sample('api', 'orders', Outcome.appError, 20, 10)]);
    c.t += 2 * RESOLUTION_MS;
    w.add([sample('web', 'orders', Outcome.success, 10)]);
    const s = w.series(60_000, 'orders');
    assert.equal(s.resolutionSeconds, 10);
    assert.equal(s.points.length, 6);
    const current = Math.floor(c.t / RESOLUTION_MS) * RESOLUTION_MS;
    assert.equal(s.points[5]!.tMs, current);
    assert.equal(s.points[0]!.tMs, current - 5 * RESOLUTION_MS);
    assert.deepEqual(
      s.points.map((p) => [p.requestsPerSecond, p.successRate]),
      [
        [0, null],
        [0, null],
        [0, null],
        [4, 0.5],
        [0, null],
        [1, 1],
      ],
    );
    assert.equal(s.points[3]!.p50Ms !== null && s.points[3]!.p99Ms! > s.points[3]!.p50Ms!, true);
    assert.deepEqual(
      w.series(60_000, 'orders', 'api').points.map((p) => p.requestsPerSecond),
      [0, 0, 0, 2, 0, 0],
    );
    assert.deepEqual(
      w.series(60_000, 'nosuch').points.map((p) => p.requestsPerSecond),
      [0, 0, 0, 0, 0, 0],
    );
  });

  test('memory is bounded: new edges beyond the per-slot limit are dropped and counted', () => {
    const w = new StatsWindow(clock().now);
    const many = Array.from({ length: MAX_EDGES_PER_SLOT + 5 }, (_, i) => sample(`s${i}`, 'orders', Outcome.success, 1));
    w.add(many);
    assert.equal(w.dropped, 5);
    w.add([sample('s0', 'orders', Outcome.success, 1)]);
    assert.equal(w.dropped, 5, 'a known edge still counts');
    assert.equal(Math.round(w.snapshot(10_000).services[0]!.requestsPerSecond * 10), MAX_EDGES_PER_SLOT + 1);
  });
});
