import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  blockingTimeoutMs,
  DEFAULT_WAIT_MS,
  headerIndex,
  IndexWaiters,
  MAX_WAIT_MS,
  parseBlockingParams,
} from '../../src/registry/blocking.js';
import { RegistryHttpError } from '../../src/registry/http-error.js';
import { FakeClock } from './fake-clock.js';

const params = (query: string) => parseBlockingParams(new URLSearchParams(query));

describe('blocking query parameters', () => {
  it('reads index and wait', () => {
    assert.deepEqual(params('index=42&wait=30s'), { minIndex: 42, waitMs: 30_000 });
    assert.deepEqual(params(''), { minIndex: 0, waitMs: undefined });
  });

  it('refuses a bad index with Consul\'s "Invalid index"', () => {
    for (const bad of ['abc', '-1', '1.5', '18446744073709551616']) {
      assert.throws(() => params(`index=${bad}`), (e: unknown) => e instanceof RegistryHttpError && e.status === 400 && e.body === 'Invalid index');
    }
  });

  it('refuses a bad wait with Consul\'s "Invalid wait time"', () => {
    for (const bad of ['zz', '10', '5 s', 's']) {
      assert.throws(() => params(`index=1&wait=${encodeURIComponent(bad)}`), (e: unknown) => e instanceof RegistryHttpError && e.body === 'Invalid wait time');
    }
  });

  it('accepts any Go duration, including a negative one (which means the default)', () => {
    assert.equal(params('wait=1m30s').waitMs, 90_000);
    assert.equal(params('wait=-1s').waitMs, -1000);
    assert.equal(blockingTimeoutMs(-1000, () => 0), DEFAULT_WAIT_MS);
  });

  it('defaults the wait to 5m and caps it at 10m', () => {
    assert.equal(blockingTimeoutMs(undefined, () => 0), DEFAULT_WAIT_MS);
    assert.equal(blockingTimeoutMs(0, () => 0), DEFAULT_WAIT_MS);
    assert.equal(blockingTimeoutMs(60 * 60_000, () => 0), MAX_WAIT_MS);
  });

  it('adds a jitter of at most wait/16, as Consul does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_WAIT_MS }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (wait, r) => {
        const timeout = blockingTimeoutMs(wait, () => r);
        return timeout >= wait && timeout <= wait + wait / 16;
      }),
    );
  });

  it('never reports index 0', () => {
    assert.equal(headerIndex(0), 1);
    assert.equal(headerIndex(7), 7);
  });
});

describe('index waiters', () => {
  it('answers at once without an index, or when the index already moved past it', async () => {
    const waiters = new IndexWaiters(new FakeClock());
    await waiters.wait(() => 5, 0, 1000);
    await waiters.wait(() => 5, 4, 1000);
    assert.equal(waiters.size, 0);
  });

  it('wakes a waiter when its own index rises, not when another one does', async () => {
    const clock = new FakeClock();
    const waiters = new IndexWaiters(clock);
    const indexes = { web: 10, db: 20 };
    let webWoken = false;
    let dbWoken = false;
    const web = waiters.wait(() => indexes.web, 10, 60_000).then(() => (webWoken = true));
    const db = waiters.wait(() => indexes.db, 20, 60_000).then(() => (dbWoken = true));
    indexes.db = 21;
    waiters.notify();
    await db;
    assert.equal(dbWoken, true);
    await Promise.resolve();
    assert.equal(webWoken, false);
    assert.equal(waiters.size, 1);
    indexes.web = 11;
    waiters.notify();
    await web;
    assert.equal(clock.pendingCount, 0, 'the timeout timer is cleared on wake-up');
  });

  it('keeps waiting while the index equals or is below the one held', async () => {
    const clock = new FakeClock();
    const waiters = new IndexWaiters(clock);
    let woken = false;
    void waiters.wait(() => 3, 9, 1000).then(() => (woken = true));
    waiters.notify();
    await Promise.resolve();
    assert.equal(woken, false);
    clock.advance(1000);
    await Promise.resolve();
    assert.equal(woken, true, 'released by the timeout');
  });

  it('releases a waiter whose client went away', async () => {
    const waiters = new IndexWaiters(new FakeClock());
    const controller = new AbortController();
    const waiting = waiters.wait(() => 1, 1, 60_000, controller.signal);
    controller.abort();
    await waiting;
    assert.equal(waiters.size, 0);
  });

  it('wakeAll releases everything on shutdown', async () => {
    const waiters = new IndexWaiters(new FakeClock());
    const all = [waiters.wait(() => 1, 1, 60_000), waiters.wait(() => 2, 2, 60_000)];
    waiters.wakeAll();
    await Promise.all(all);
    assert.equal(waiters.size, 0);
  });
});
