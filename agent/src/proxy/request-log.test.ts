import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, type LogFields } from '@weft/shared';
import { RequestLog } from './request-log.js';

/** A real logger writing into an array, and a clock the test moves. */
function setup(options: { burst?: number; windowMs?: number; maxKeys?: number } = {}) {
  const lines: LogFields[] = [];
  const clock = { now: 1_000_000 };
  const logger = createLogger({}, { level: 'info', write: (line) => lines.push(JSON.parse(line) as LogFields) });
  const log = new RequestLog(logger, {
    burst: options.burst ?? 3,
    windowMs: options.windowMs ?? 10_000,
    maxKeys: options.maxKeys ?? 1000,
    now: () => clock.now,
    timer: false,
  });
  return { lines, clock, log };
}

const failed = (lines: LogFields[]) => lines.filter((l) => l.msg === 'request failed');
const summaries = (lines: LogFields[]) => lines.filter((l) => l.msg === 'request log lines suppressed');

describe('request log (bounded per-request lines)', () => {
  it('writes the first `burst` lines of a key per window, then one summary with the count', () => {
    const { lines, clock, log } = setup();
    for (let i = 0; i < 50; i++) log.log('request failed', 'circuit_open', { service: 'orders', requestId: `r${i}` });
    assert.deepEqual(
      failed(lines).map((l) => [l.code, l.service, l.requestId]),
      [
        ['circuit_open', 'orders', 'r0'],
        ['circuit_open', 'orders', 'r1'],
        ['circuit_open', 'orders', 'r2'],
      ],
    );
    assert.equal(summaries(lines).length, 0, 'no summary before the window ends');
    clock.now += 10_000;
    log.sweep();
    assert.deepEqual(summaries(lines), [
      { ...summaries(lines)[0], of: 'request failed', code: 'circuit_open', service: 'orders', suppressed: 47, windowMs: 10_000 },
    ]);
    // The next window starts with a full burst again.
    log.log('request failed', 'circuit_open', { service: 'orders', requestId: 'next' });
    assert.equal(failed(lines).at(-1)?.requestId, 'next');
  });

  it('keeps separate windows per code and per service', () => {
    const { lines, log } = setup({ burst: 1 });
    for (let i = 0; i < 5; i++) {
      log.log('request failed', 'circuit_open', { service: 'orders' });
      log.log('request failed', 'no_healthy_upstream', { service: 'orders' });
      log.log('request failed', 'circuit_open', { service: 'billing' });
      log.log('policy answered', 'rate_limited', { service: 'orders' });
    }
    assert.deepEqual(
      lines.map((l) => `${l.msg}/${l.code}/${l.service}`),
      [
        'request failed/circuit_open/orders',
        'request failed/no_healthy_upstream/orders',
        'request failed/circuit_open/billing',
        'policy answered/rate_limited/orders',
      ],
    );
  });

  it('reports the ended window when the next line of its key arrives before the sweep', () => {
    const { lines, clock, log } = setup({ burst: 1 });
    log.log('request failed', 'upstream_timeout', { service: 'orders' });
    log.log('request failed', 'upstream_timeout', { service: 'orders' });
    clock.now += 12_000;
    log.log('request failed', 'upstream_timeout', { service: 'orders', requestId: 'late' });
    assert.deepEqual(
      lines.map((l) => [l.msg, l.suppressed ?? l.requestId ?? null]),
      [
        ['request failed', null],
        ['request log lines suppressed', 1],
        ['request failed', 'late'],
      ],
    );
  });

  it('caps the keys it tracks: beyond maxKeys, services share one bounded key', () => {
    const { lines, clock, log } = setup({ burst: 2, maxKeys: 3 });
    for (let i = 0; i < 100; i++) log.log('request failed', 'unknown_service', { service: `svc-${i}` });
    // Three keys of their own (one line each), then 97 services share '*': two lines, 95 counted.
    assert.equal(failed(lines).length, 3 + 2);
    clock.now += 10_000;
    log.sweep();
    assert.deepEqual(
      summaries(lines).map((l) => [l.of, l.service, l.suppressed]),
      [['*', '*', 95]],
    );
  });

  it('forgets keys that were quiet for a whole window, and close() reports what is still counted', () => {
    const { lines, clock, log } = setup({ burst: 1, maxKeys: 1 });
    log.log('request failed', 'circuit_open', { service: 'a' });
    clock.now += 10_000;
    log.sweep(); // 'a' had nothing suppressed: forgotten, so 'b' gets a key of its own.
    log.log('request failed', 'circuit_open', { service: 'b' });
    log.log('request failed', 'circuit_open', { service: 'b' });
    assert.deepEqual(
      failed(lines).map((l) => l.service),
      ['a', 'b'],
    );
    log.close();
    assert.deepEqual(
      summaries(lines).map((l) => [l.service, l.suppressed]),
      [['b', 1]],
    );
  });
});
