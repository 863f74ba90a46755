import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LATENCY_BOUNDS_MS, LATENCY_BUCKETS, latencyBucket, latencyQuantile, mergeBuckets } from './latency-buckets.js';
import { Outcome, outcomeOf } from './outcome.js';

function histogramOf(values: number[]): number[] {
  const h = new Array<number>(LATENCY_BUCKETS).fill(0);
  for (const v of values) h[latencyBucket(v)]!++;
  return h;
}

describe('latency buckets', () => {
  test('a duration lands in the first bucket whose upper bound it does not exceed; above the last, in the overflow bucket', () => {
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(1), 0);
    assert.equal(latencyBucket(1.0001), 1);
    assert.equal(latencyBucket(100), LATENCY_BOUNDS_MS.indexOf(100));
    assert.equal(latencyBucket(30_000), LATENCY_BOUNDS_MS.length - 1);
    assert.equal(latencyBucket(30_001), LATENCY_BOUNDS_MS.length);
    for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) assert.equal(latencyBucket(LATENCY_BOUNDS_MS[i]!), i);
  });

  test('quantiles interpolate inside the bucket and are null for an empty histogram', () => {
    assert.equal(latencyQuantile(histogramOf([]), 0.5), null);
    // Four values in (1, 2]: the median is the middle of that bucket.
    assert.equal(latencyQuantile(histogramOf([1.5, 1.5, 1.5, 1.5]), 0.5), 1.5);
    const h = histogramOf([...new Array(99).fill(4), 250]);
    assert.ok(latencyQuantile(h, 0.5)! > 3 && latencyQuantile(h, 0.5)! <= 5);
    assert.ok(latencyQuantile(h, 0.99)! <= 5, 'p99 of 99 fast requests and one slow one is still fast');
    assert.ok(latencyQuantile(h, 1)! > 200 && latencyQuantile(h, 1)! <= 300);
    assert.equal(latencyQuantile(histogramOf([60_000]), 0.5), 30_000, 'the overflow bucket answers its lower bound');
  });

  test('merging histograms bucket by bucket gives the quantiles of all the values together', () => {
    const a = [0.5, 3, 3, 8, 40, 41, 120];
    const b = [2, 2, 900, 1_200, 6, 6, 6, 6];
    const merged = new Float64Array(LATENCY_BUCKETS);
    mergeBuckets(merged, histogramOf(a));
    mergeBuckets(merged, histogramOf(b));
    const together = histogramOf([...a, ...b]);
    assert.deepEqual(Array.from(merged), together);
    for (const q of [0.5, 0.9, 0.99]) assert.equal(latencyQuantile(merged, q), latencyQuantile(together, q));
  });
});

describe('request outcomes', () => {
  test("the app's answer below 500 is a success, its 5xx an app error, any x-weft-error a mesh error, a client that left is cancelled", () => {
    assert.equal(outcomeOf(200, ''), Outcome.success);
    assert.equal(outcomeOf(404, ''), Outcome.success);
    assert.equal(outcomeOf(101, ''), Outcome.success);
    assert.equal(outcomeOf(500, ''), Outcome.appError);
    assert.equal(outcomeOf(503, ''), Outcome.appError);
    assert.equal(outcomeOf(0, ''), Outcome.appError);
    assert.equal(outcomeOf(503, 'no_healthy_endpoint'), Outcome.meshError);
    assert.equal(outcomeOf(403, 'forbidden'), Outcome.meshError);
    assert.equal(outcomeOf(200, 'upstream_reset'), Outcome.meshError, 'an answer cut mid-body after its 200 head');
    assert.equal(outcomeOf(0, 'client_gone'), Outcome.cancelled);
  });
});
