import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LATENCY_BUCKETS, LATENCY_LAYOUT, ValidationError } from '@weft/shared';
import type { EdgeStats__Output } from '@weft/shared/generated/weft/v1/EdgeStats';
import { parseWindow } from './stats-routes.js';
import { MAX_REPORT_ROWS, parseStatsReport } from './telemetry-service.js';

const row = (over: Partial<EdgeStats__Output> = {}): EdgeStats__Output => ({
  source: 'web',
  destination: 'orders',
  outcome: 'OUTCOME_SUCCESS',
  requests: '3',
  bytes_in: '30',
  bytes_out: '300',
  latency_buckets: ['1', '2'],
  ...over,
});
const report = (edges: EdgeStats__Output[], layout = LATENCY_LAYOUT) => ({
  agent_id: '',
  latency_layout: layout,
  interval_ms: 5000,
  edges,
});

function refused(fn: () => unknown, field: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ValidationError && field.test(err.message));
}

describe('Telemetry reports are validated whole before anything is filed', () => {
  test('a valid row becomes a sample with numbers', () => {
    assert.deepEqual(parseStatsReport(report([row()])), [
      { source: 'web', destination: 'orders', outcome: 0, requests: 3, bytesIn: 30, bytesOut: 300, latency: [1, 2] },
    ]);
  });

  test('each bad field is named', () => {
    refused(() => parseStatsReport(report([row()], 'other')), /^latency_layout: /);
    refused(() => parseStatsReport(report([row(), row({ outcome: 'OUTCOME_UNSPECIFIED' })])), /^edges\[1\]\.outcome: /);
    refused(() => parseStatsReport(report([row({ source: '' })])), /^edges\[0\]\.source: /);
    refused(() => parseStatsReport(report([row({ destination: 'x'.repeat(254) })])), /^edges\[0\]\.destination: /);
    refused(() => parseStatsReport(report([row({ requests: '0', latency_buckets: [] })])), /^edges\[0\]\.requests: /);
    refused(() => parseStatsReport(report([row({ requests: '-1' })])), /^edges\[0\]\.requests: /);
    refused(() => parseStatsReport(report([row({ bytes_in: '1e30' })])), /^edges\[0\]\.bytes_in: /);
    refused(
      () => parseStatsReport(report([row({ latency_buckets: ['1', '1'] })])),
      /^edges\[0\]\.latency_buckets: count 2 requests, not 3/,
    );
    refused(
      () => parseStatsReport(report([row({ latency_buckets: new Array(LATENCY_BUCKETS + 1).fill('0') })])),
      /^edges\[0\]\.latency_buckets: /,
    );
    refused(() => parseStatsReport(report(new Array(MAX_REPORT_ROWS + 1).fill(row()))), /^edges: /);
  });
});

describe('the window parameter', () => {
  test('takes seconds or minutes, multiples of 10 s, up to 15 minutes', () => {
    assert.equal(parseWindow(null, 60_000), 60_000);
    assert.equal(parseWindow('10s', 0), 10_000);
    assert.equal(parseWindow('1m', 0), 60_000);
    assert.equal(parseWindow('15m', 0), 900_000);
    refused(() => parseWindow('5s', 0), /^window: must be from 10s to 15m/);
    refused(() => parseWindow('16m', 0), /^window: /);
    refused(() => parseWindow('45s', 0), /^window: must be a multiple of 10s/);
    refused(() => parseWindow('1h', 0), /^window: /);
    refused(() => parseWindow('60', 0), /^window: /);
  });
});
