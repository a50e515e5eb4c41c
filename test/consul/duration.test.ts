import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDuration } from '../../src/consul/duration.js';

describe('Go duration parsing', () => {
  it('reads the forms Consul accepts for wait, Interval and TTL', () => {
    assert.equal(parseGoDuration('10s'), 10_000);
    assert.equal(parseGoDuration('5m'), 300_000);
    assert.equal(parseGoDuration('250ms'), 250);
    assert.equal(parseGoDuration('1m30s'), 90_000);
    assert.equal(parseGoDuration('1.5h'), 5_400_000);
    assert.equal(parseGoDuration('1500us'), 1.5);
    assert.equal(parseGoDuration('0'), 0);
  });

  it('refuses what Go refuses', () => {
    for (const text of ['', '10', 's', '10 s', '-5s', '5x', '1m30', 'ms5']) {
      assert.equal(parseGoDuration(text), undefined, text);
    }
  });
});
