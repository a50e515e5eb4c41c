import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_OUTLIER, OutlierDetector, type OutlierOptions } from '../../src/client/outlier.js';
import type { Instance } from '../../src/client/instance.js';

function instances(count: number): Instance[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `api-${i}`,
    service: 'api',
    address: '127.0.0.1',
    port: 4000 + i,
    tags: [],
    meta: {},
  }));
}

function setup(count: number, options: OutlierOptions = {}) {
  let t = 1_000;
  const fleet = instances(count);
  const detector = new OutlierDetector({ ...options, now: () => t });
  detector.available(fleet);
  return {
    fleet,
    detector,
    now: () => t,
    advance: (ms: number) => (t += ms),
    /** Fails `id` until it is ejected (or `max` times); returns the last result. */
    failTimes: (id: string, times: number) => {
      let last;
      for (let i = 0; i < times; i += 1) last = detector.recordFailure(id);
      return last;
    },
  };
}

describe('outlier detection', () => {
  it('defaults to 3 failures, 5 s base, 60 s max, 50 % cap, panic below 50 %', () => {
    assert.deepEqual(DEFAULT_OUTLIER, {
      consecutiveFailures: 3,
      baseEjectionMs: 5_000,
      maxEjectionMs: 60_000,
      maxEjectionPercent: 50,
      panicThresholdPercent: 50,
    });
  });

  it('ejects an instance on its third failure in a row, and says until when', () => {
    const { detector, now } = setup(4);
    assert.equal(detector.recordFailure('api-1'), undefined);
    assert.equal(detector.recordFailure('api-1'), undefined);
    assert.equal(detector.isEjected('api-1'), false);
    assert.deepEqual(detector.recordFailure('api-1'), { id: 'api-1', untilMs: now() + 5_000, ejectionCount: 1, durationMs: 5_000 });
    assert.equal(detector.isEjected('api-1'), true);
    assert.equal(detector.isEjected('api-0'), false);
  });

  it('counts only failures in a row: a success starts the count over', () => {
    const { detector, failTimes } = setup(4);
    failTimes('api-0', 2);
    detector.recordSuccess('api-0');
    assert.equal(failTimes('api-0', 2), undefined);
    assert.equal(detector.isEjected('api-0'), false);
    assert.notEqual(detector.recordFailure('api-0'), undefined);
  });

  it('honours consecutiveFailures', () => {
    const { detector, failTimes } = setup(4, { consecutiveFailures: 1 });
    assert.equal(failTimes('api-2', 1)?.ejectionCount, 1);
    assert.equal(detector.isEjected('api-2'), true);
  });

  it('ends an ejection lazily when its time is up', () => {
    const { detector, failTimes, advance } = setup(4);
    failTimes('api-0', 3);
    advance(4_999);
    assert.equal(detector.isEjected('api-0'), true);
    advance(1);
    assert.equal(detector.isEjected('api-0'), false);
  });

  it('ignores failures reported while ejected (requests that were in flight)', () => {
    const { detector, failTimes, advance } = setup(4);
    failTimes('api-0', 3);
    assert.equal(failTimes('api-0', 10), undefined);
    advance(5_000);
    assert.equal(detector.isEjected('api-0'), false, 'the ejection was not extended');
    assert.equal(failTimes('api-0', 2), undefined, 'and the run starts from zero on return');
  });

  it('ejects longer each time, linearly (base × count), up to maxEjectionMs', () => {
    const { failTimes, advance } = setup(4, { baseEjectionMs: 10_000, maxEjectionMs: 35_000 });
    const durations: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const event = failTimes('api-3', 3);
      assert.ok(event);
      durations.push(event.durationMs);
      advance(event.durationMs); // fails again the moment it is back
    }
    assert.deepEqual(durations, [10_000, 20_000, 30_000, 35_000, 35_000, 35_000]);
  });

  it('earns short ejections back: the count drops by one for each baseEjectionMs it stays back', () => {
    const { failTimes, advance } = setup(4);
    advance(failTimes('api-0', 3)?.durationMs ?? 0);
    advance(failTimes('api-0', 3)?.durationMs ?? 0);
    advance(failTimes('api-0', 3)?.durationMs ?? 0); // three ejections: 5 s, 10 s, 15 s
    advance(4_999);
    assert.equal(failTimes('api-0', 3)?.ejectionCount, 4, 'not yet back for 5 s: no decay');
    advance(20_000);
    advance(5_000); // back for one base period
    assert.equal(failTimes('api-0', 3)?.ejectionCount, 4, 'one decay (4 → 3), then this ejection (→ 4)');
    advance(20_000);
    advance(15_000); // back for three base periods
    assert.equal(failTimes('api-0', 3)?.ejectionCount, 2);
    advance(10_000);
    advance(60_000); // long enough to decay to zero
    assert.equal(failTimes('api-0', 3)?.durationMs, 5_000);
  });

  it('never ejects more than maxEjectionPercent of the fleet, and says so by returning undefined', () => {
    const { detector, failTimes, advance } = setup(6, { maxEjectionPercent: 50 });
    for (const id of ['api-0', 'api-1', 'api-2']) assert.ok(failTimes(id, 3));
    assert.equal(failTimes('api-3', 3), undefined);
    assert.equal(detector.isEjected('api-3'), false);
    assert.equal(detector.available(instances(6)).instances.length, 3);
    advance(5_000);
    // Room again: api-3's run is still counted, so its next failure ejects.
    assert.ok(detector.recordFailure('api-3'));
  });

  it('always allows one ejection in a fleet of two or more, even when the cap rounds to zero', () => {
    const { detector, failTimes } = setup(2, { maxEjectionPercent: 10 });
    assert.ok(failTimes('api-0', 3));
    assert.equal(failTimes('api-1', 3), undefined);
    assert.deepEqual(
      detector.available(instances(2)).instances.map((i) => i.id),
      ['api-1'],
    );
  });

  it('never ejects the only instance: there is nowhere else to go', () => {
    const { detector, failTimes } = setup(1);
    assert.equal(failTimes('api-0', 10), undefined);
    assert.equal(detector.isEjected('api-0'), false);
  });

  it('before it is shown a fleet, takes the instances it has heard of as the fleet', () => {
    let t = 0;
    const detector = new OutlierDetector({ now: () => t });
    assert.equal(detector.recordFailure('a'), undefined);
    detector.recordSuccess('b');
    detector.recordFailure('a');
    assert.ok(detector.recordFailure('a'), 'a and b make a fleet of two');
    t += 1;
    assert.equal(detector.isEjected('a'), true);
  });

  describe('available instances', () => {
    it('are the given instances without the ejected ones, with the ejected listed', () => {
      const { detector, fleet, failTimes } = setup(4);
      failTimes('api-2', 3);
      const result = detector.available(fleet);
      assert.deepEqual(
        result.instances.map((i) => i.id),
        ['api-0', 'api-1', 'api-3'],
      );
      assert.equal(result.panic, false);
      assert.deepEqual(result.ejected, ['api-2']);
    });

    it('are the very set given when nothing is ejected', () => {
      const { detector, fleet } = setup(3);
      const result = detector.available(fleet);
      assert.equal(result.instances, fleet);
      assert.deepEqual(result, { instances: fleet, panic: false, ejected: [] });
    });

    it('are all of them, in panic, when fewer than panicThresholdPercent would be left', () => {
      const { detector, fleet, failTimes } = setup(4, { maxEjectionPercent: 100 });
      failTimes('api-0', 3);
      failTimes('api-1', 3);
      assert.equal(detector.available(fleet).panic, false, '2 of 4 left is not below 50 %');
      failTimes('api-2', 3);
      const result = detector.available(fleet);
      assert.equal(result.panic, true);
      assert.equal(result.instances, fleet);
      assert.deepEqual(result.ejected, ['api-0', 'api-1', 'api-2']);
    });

    it('are all of them, in panic, when the fleet shrank to only ejected instances', () => {
      const { detector, fleet, failTimes } = setup(3);
      failTimes('api-1', 3);
      const result = detector.available([fleet[1] as Instance]);
      assert.equal(result.panic, true);
      assert.deepEqual(
        result.instances.map((i) => i.id),
        ['api-1'],
      );
    });

    it('with panicThresholdPercent 0, panic only when nothing is left', () => {
      const { detector, fleet, failTimes } = setup(4, { maxEjectionPercent: 100, panicThresholdPercent: 0 });
      for (const id of ['api-0', 'api-1', 'api-2']) failTimes(id, 3);
      assert.deepEqual(detector.available(fleet), { instances: [fleet[3]], panic: false, ejected: ['api-0', 'api-1', 'api-2'] });
      failTimes('api-3', 3);
      assert.equal(detector.available(fleet).panic, true);
    });

    it('are the same answer for the same set while nothing is ejected, and follow ejections and their end on that set', () => {
      const { detector, fleet, failTimes, advance } = setup(3);
      const first = detector.available(fleet);
      assert.equal(detector.available(fleet), first, 'no work per call for an unchanged set with no ejection');
      failTimes('api-1', 3);
      assert.deepEqual(detector.available(fleet).ejected, ['api-1']);
      advance(DEFAULT_OUTLIER.baseEjectionMs);
      assert.deepEqual(detector.available(fleet), { instances: fleet, panic: false, ejected: [] }, 'the ejection ended');
      const changed = fleet.slice(0, 2);
      assert.equal(detector.available(changed).instances, changed, 'a new set is a new answer');
    });

    it('of an empty fleet are none, without panic', () => {
      assert.deepEqual(new OutlierDetector().available([]), { instances: [], panic: false, ejected: [] });
    });
  });

  it('forgets instances that left: their runs, ejections and counts', () => {
    const { detector, failTimes } = setup(4);
    failTimes('api-0', 3);
    failTimes('api-1', 2);
    detector.forget(new Set(['api-2', 'api-3']));
    assert.equal(detector.isEjected('api-0'), false);
    detector.available(instances(4));
    assert.equal(failTimes('api-1', 2), undefined, 'its run started over');
    assert.equal(failTimes('api-0', 3)?.ejectionCount, 1, 'its ejection count started over');
  });

  it('rejects options that make no sense, by name', () => {
    assert.throws(() => new OutlierDetector({ consecutiveFailures: 0 }), /consecutiveFailures/);
    assert.throws(() => new OutlierDetector({ consecutiveFailures: 1.5 }), /consecutiveFailures/);
    assert.throws(() => new OutlierDetector({ baseEjectionMs: 0 }), /baseEjectionMs/);
    assert.throws(() => new OutlierDetector({ maxEjectionMs: Number.NaN }), /maxEjectionMs/);
    assert.throws(() => new OutlierDetector({ maxEjectionPercent: 101 }), /maxEjectionPercent/);
    assert.throws(() => new OutlierDetector({ panicThresholdPercent: -1 }), /panicThresholdPercent/);
  });

  describe('properties', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('fail' as const), who: fc.nat({ max: 11 }) }),
      fc.record({ kind: fc.constant('ok' as const), who: fc.nat({ max: 11 }) }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 30_000 }) }),
    );
    const options = fc.record({
      consecutiveFailures: fc.integer({ min: 1, max: 4 }),
      baseEjectionMs: fc.integer({ min: 1, max: 10_000 }),
      maxEjectionMs: fc.integer({ min: 1, max: 60_000 }),
      maxEjectionPercent: fc.integer({ min: 0, max: 100 }),
      panicThresholdPercent: fc.integer({ min: 0, max: 100 }),
    });

    it('never has more than the cap of the fleet ejected, and available is never empty for a non-empty fleet', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 12 }), options, fc.array(op, { maxLength: 200 }), (size, opts, ops) => {
          let t = 0;
          const fleet = instances(size);
          const detector = new OutlierDetector({ ...opts, now: () => t });
          const cap = size >= 2 ? Math.max(1, Math.floor((size * opts.maxEjectionPercent) / 100)) : 0;
          for (const o of ops) {
            if (o.kind === 'wait') t += o.ms;
            else if (o.kind === 'ok') detector.recordSuccess(`api-${o.who % size}`);
            else detector.recordFailure(`api-${o.who % size}`);
            const result = detector.available(fleet);
            assert.ok(result.ejected.length <= cap, `${result.ejected.length} ejected of ${size}, cap ${cap}`);
            assert.ok(result.instances.length > 0);
            assert.ok(result.instances.every((i) => fleet.includes(i)));
            assert.equal(result.panic || result.instances.length + result.ejected.length === size, true);
          }
        }),
      );
    });

    it('makes the ejections of an instance that keeps failing no shorter each time, until the cap', () => {
      fc.assert(
        fc.property(options, fc.integer({ min: 1, max: 15 }), fc.array(fc.nat({ max: 3 }), { maxLength: 15 }), (opts, rounds, extraFailures) => {
          let t = 0;
          const detector = new OutlierDetector({ ...opts, now: () => t });
          detector.available(instances(3));
          const durations: number[] = [];
          for (let round = 0; round < rounds; round += 1) {
            // Fails on return (no healthy time to decay), sometimes with extra failures while ejected.
            let event;
            for (let i = 0; i < opts.consecutiveFailures; i += 1) event = detector.recordFailure('api-0');
            assert.ok(event);
            for (let i = 0; i < (extraFailures[round] ?? 0); i += 1) assert.equal(detector.recordFailure('api-0'), undefined);
            durations.push(event.durationMs);
            t = event.untilMs;
          }
          durations.forEach((d, i) => {
            assert.equal(d, Math.min(opts.maxEjectionMs, opts.baseEjectionMs * (i + 1)));
            if (i > 0) assert.ok(d >= (durations[i - 1] as number));
          });
        }),
      );
    });
  });
});
