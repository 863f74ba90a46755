import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsRegistry } from './metrics.js';

test('renders counters, gauges and cumulative histograms in Prometheus text format', () => {
  const m = new MetricsRegistry();
  const requests = m.counter('weft_requests_total', 'Requests.', ['service', 'code']);
  requests.labels('orders', '200').inc();
  requests.labels('orders', '200').inc(2);
  requests.labels('say "hi"', '503').inc();
  const agents = m.gauge('weft_agents', 'Agents.');
  m.beforeRender(() => agents.set(7));
  const latency = m.histogram('weft_latency_seconds', 'Latency.', [], [0.01, 0.1]);
  latency.observe(0.005);
  latency.observe(0.05);
  latency.observe(3);
  const text = m.render();
  assert.match(text, /^# TYPE weft_requests_total counter$/m);
  assert.match(text, /^weft_requests_total\{service="orders",code="200"\} 3$/m);
  assert.match(text, /^weft_requests_total\{service="say \\"hi\\"",code="503"\} 1$/m);
  assert.match(text, /^weft_agents 7$/m);
  assert.match(text, /^weft_latency_seconds_bucket\{le="0.01"\} 1$/m);
  assert.match(text, /^weft_latency_seconds_bucket\{le="0.1"\} 2$/m);
  assert.match(text, /^weft_latency_seconds_bucket\{le="\+Inf"\} 3$/m);
  assert.match(text, /^weft_latency_seconds_count 3$/m);
  assert.throws(() => m.counter('weft_agents', 'again'), /registered twice/);
});
