import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_IDLE_RELEASE_MS, idleServices, idleSweepIntervalMs } from '../../src/client/idle-watches.js';

describe('releasing the watches of idle services', () => {
  it('defaults to five minutes without a call', () => {
    assert.equal(DEFAULT_IDLE_RELEASE_MS, 300_000);
  });

  it('lists the services not called for idleMs or more at the given time, and only those', () => {
    const lastUsed = new Map([['orders', 0], ['billing', 1000], ['search', 4000]]);
    assert.deepEqual(idleServices(lastUsed, 4999, 5000), []);
    assert.deepEqual(idleServices(lastUsed, 5000, 5000), ['orders']);
    assert.deepEqual(idleServices(lastUsed, 8999, 5000), ['orders', 'billing']);
    assert.deepEqual(idleServices(lastUsed, 9000, 5000), ['orders', 'billing', 'search']);
  });

  it('keeps a service that is called again: its last use moves forward', () => {
    const lastUsed = new Map([['orders', 0]]);
    lastUsed.set('orders', 4000);
    assert.deepEqual(idleServices(lastUsed, 6000, 5000), []);
  });

  it('sweeps often enough to release within 1.5 × idleMs, but not more than once a second nor less than once a minute', () => {
    assert.equal(idleSweepIntervalMs(300_000), 60_000);
    assert.equal(idleSweepIntervalMs(10_000), 5000);
    assert.equal(idleSweepIntervalMs(100), 1000);
  });
});
