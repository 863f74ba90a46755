import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from './duration.js';

test('parses durations with units and names the field on bad input', () => {
  assert.equal(parseDuration('5s', 'interval'), 5000);
  assert.equal(parseDuration('250ms', 'interval'), 250);
  assert.equal(parseDuration('1.5m', 'interval'), 90_000);
  assert.throws(() => parseDuration('soon', 'health.interval'), /health\.interval: invalid duration/);
});

test('a duration without a unit is refused, and the error says to add one', () => {
  assert.throws(
    () => parseDuration('10', '--request-timeout'),
    /--request-timeout: duration "10" needs a unit: ms, s, m or h \(e\.g\. "10s" or "10ms"\)/,
  );
  assert.throws(() => parseDuration('1.5', 'interval'), /needs a unit/);
  assert.equal(parseDuration('0', '--tunnel-idle-timeout'), 0, '"0" means the same in every unit');
  assert.equal(parseDuration(250, 'interval'), 250, 'a JSON number is milliseconds');
});
