import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  clampTimerDelay,
  longSleep,
  longTimers,
  MAX_TIMER_DELAY_MS,
  planStep,
  setLongInterval,
  setLongTimeout,
  type BaseTimers,
} from '../../src/timers/long-timeout.js';

const HOUR = 3_600_000;

/** A manual clock: time moves on advance(); records every delay asked of the primitive timer. */
class ManualTimers implements BaseTimers {
  time = 0;
  readonly requested: number[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void; refed: boolean }>();

  now = (): number => this.time;

  setTimeout(fn: () => void, ms: number): unknown {
    this.requested.push(ms);
    const id = this.nextId++;
    const entry = { at: this.time + ms, fn, refed: true };
    this.pending.set(id, entry);
    return { id, unref: () => void (entry.refed = false), ref: () => void (entry.refed = true) };
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete((handle as { id: number }).id);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get refedCount(): number {
    return [...this.pending.values()].filter((entry) => entry.refed).length;
  }

  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.pending.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = target;
  }
}

describe('planStep (pure)', () => {
  it('reaches a deadline within 2^31-1 ms in one step', () => {
    assert.deepEqual(planStep(1000, 0), { delayMs: 1000, final: true });
    assert.deepEqual(planStep(MAX_TIMER_DELAY_MS, 0), { delayMs: MAX_TIMER_DELAY_MS, final: true });
  });

  it('caps a longer wait at 2^31-1 ms and plans again', () => {
    assert.deepEqual(planStep(720 * HOUR, 0), { delayMs: MAX_TIMER_DELAY_MS, final: false });
  });

  it('is due at once for a past, present or NaN deadline', () => {
    for (const deadline of [-5, 0, NaN]) assert.deepEqual(planStep(deadline, 0), { delayMs: 0, final: true });
  });

  it('never asks for more than 2^31-1 ms nor less than 0', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: false }), fc.double({ min: -1e15, max: 1e15, noNaN: true }), (deadline, now) => {
        const step = planStep(deadline, now);
        assert.ok(step.delayMs >= 0 && step.delayMs <= MAX_TIMER_DELAY_MS, JSON.stringify(step));
      }),
    );
  });
});

describe('setLongTimeout', () => {
  it('fires a 720h timeout at 720h, not after 1 ms, in links of at most 2^31-1 ms', () => {
    const timers = new ManualTimers();
    let fired = 0;
    setLongTimeout(() => (fired += 1), 720 * HOUR, { timers });
    timers.advance(1);
    assert.equal(fired, 0);
    timers.advance(720 * HOUR - 2);
    assert.equal(fired, 0, 'not a millisecond early');
    timers.advance(1);
    assert.equal(fired, 1);
    timers.advance(10_000 * HOUR);
    assert.equal(fired, 1, 'once');
    assert.ok(timers.requested.every((ms) => ms <= MAX_TIMER_DELAY_MS), `links: ${timers.requested.join(', ')}`);
    assert.equal(timers.requested.length, 2, '720h = 2 links');
  });

  it('fires a short timeout through one primitive timer', () => {
    const timers = new ManualTimers();
    let fired = false;
    setLongTimeout(() => (fired = true), 250, { timers });
    assert.deepEqual(timers.requested, [250]);
    timers.advance(250);
    assert.ok(fired);
  });

  it('never fires once cancelled, whichever link is pending', () => {
    const timers = new ManualTimers();
    let fired = false;
    const timer = setLongTimeout(() => (fired = true), 2000 * HOUR, { timers });
    timers.advance(1000 * HOUR);
    timer.cancel();
    timer.cancel();
    assert.equal(timers.pendingCount, 0);
    timers.advance(2000 * HOUR);
    assert.equal(fired, false);
  });

  it('keeps its ref state across links', () => {
    const timers = new ManualTimers();
    const timer = setLongTimeout(() => undefined, 2000 * HOUR, { timers, unref: true });
    assert.equal(timers.refedCount, 0);
    timers.advance(MAX_TIMER_DELAY_MS);
    assert.equal(timers.pendingCount, 1);
    assert.equal(timers.refedCount, 0, 'the next link is unref\'d too');
    timer.ref();
    assert.equal(timers.refedCount, 1);
    assert.equal(timer.hasRef(), true);
    timer.unref();
    assert.equal(timer.hasRef(), false);
  });
});

describe('setLongInterval', () => {
  it('fires every 2000h, three times in 6000h', () => {
    const timers = new ManualTimers();
    let fired = 0;
    const interval = setLongInterval(() => (fired += 1), 2000 * HOUR, { timers });
    timers.advance(2000 * HOUR - 1);
    assert.equal(fired, 0);
    timers.advance(4000 * HOUR + 1);
    assert.equal(fired, 3);
    interval.cancel();
    timers.advance(10_000 * HOUR);
    assert.equal(fired, 3);
    assert.ok(timers.requested.every((ms) => ms <= MAX_TIMER_DELAY_MS));
  });

  it('stops when cancelled from its own callback', () => {
    const timers = new ManualTimers();
    let fired = 0;
    const interval = setLongInterval(() => {
      fired += 1;
      interval.cancel();
    }, 1000, { timers });
    timers.advance(10_000);
    assert.equal(fired, 1);
    assert.equal(timers.pendingCount, 0);
  });

  it('treats a period below 1 ms as 1 ms, as Node does, so it never spins', () => {
    const timers = new ManualTimers();
    let fired = 0;
    const interval = setLongInterval(() => (fired += 1), 0, { timers });
    timers.advance(10);
    interval.cancel();
    assert.equal(fired, 10);
  });
});

describe('longTimers, clampTimerDelay and longSleep', () => {
  it('gives the registry a setTimeout/clearTimeout pair that takes any delay', () => {
    const base = new ManualTimers();
    const timers = longTimers(base);
    let fired = 0;
    const handle = timers.setTimeout(() => (fired += 1), 720 * HOUR);
    timers.setTimeout(() => (fired += 10), 720 * HOUR);
    timers.clearTimeout(handle);
    base.advance(720 * HOUR);
    assert.equal(fired, 10);
  });

  it('clamps a delay to [0, 2^31-1]', () => {
    assert.equal(clampTimerDelay(720 * HOUR), MAX_TIMER_DELAY_MS);
    assert.equal(clampTimerDelay(-1), 0);
    assert.equal(clampTimerDelay(NaN), 0);
    assert.equal(clampTimerDelay(1500), 1500);
  });

  it('sleeps through the real timers without a TimeoutOverflowWarning, and wakes on abort', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const slept = longSleep(2000 * HOUR, { signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 20));
      let done = false;
      void slept.then(() => (done = true));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(done, false, 'a 2000h sleep is still asleep after 20 ms');
      controller.abort();
      await slept;
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.filter((name) => name === 'TimeoutOverflowWarning'), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
