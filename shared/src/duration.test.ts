import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from './duration.js';

test('parses durations with units and names the field on bad input', () => {
  assert.equal(parseDuration('5s', 'interval'), 5000);
  assert.equal(parseDuration('250ms', 'interval'), 250);
  assert.equal(parseDuration('1.5m', 'interval'), 90_000);
  assert.throws(() => parseDuration('soon', 'health.interval'), /health\.interval: invalid duration/);
});
