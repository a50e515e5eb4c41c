import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  EXPIRY_THRESHOLDS,
  MAX_TIMER_MS,
  crossedThreshold,
  expiryWarning,
  msUntilNextExpiryCheck,
  type ExpiryThreshold,
} from '../../src/pki/expiry.js';

const DAY = 86_400_000;
const notAfter = new Date('2030-06-01T00:00:00.000Z');
const at = (msBeforeExpiry: number): Date => new Date(notAfter.getTime() - msBeforeExpiry);

/** Runs a service's loop over the given instants: warn, remember the threshold, as the caller is told to. */
function replay(nows: Date[]): { now: Date; threshold: ExpiryThreshold }[] {
  let warned: ExpiryThreshold | undefined;
  const reports: { now: Date; threshold: ExpiryThreshold }[] = [];
  for (const now of nows) {
    const warning = expiryWarning(notAfter, now, warned);
    if (warning) {
      reports.push({ now, threshold: warning.threshold });
      warned = warning.threshold;
    }
  }
  return reports;
}

describe('certificate expiry warnings', () => {
  it('say nothing more than 30 days before expiry', () => {
    assert.equal(expiryWarning(notAfter, at(30 * DAY + 1), undefined), undefined);
    assert.equal(expiryWarning(notAfter, at(400 * DAY), undefined), undefined);
  });

  it('warn at 30 days, at 7 days, and report expiry as an error', () => {
    assert.deepEqual(expiryWarning(notAfter, at(30 * DAY), undefined), {
      threshold: '30d',
      daysLeft: 30,
      level: 'warn',
      message: 'the certificate expires in 30 days (2030-06-01T00:00:00.000Z)',
    });
    assert.equal(expiryWarning(notAfter, at(7 * DAY), '30d')?.threshold, '7d');
    assert.equal(expiryWarning(notAfter, at(DAY), '7d'), undefined, '7d already reported, not expired yet');
    assert.equal(expiryWarning(notAfter, at(60_000), '7d'), undefined);
    assert.match(expiryWarning(notAfter, at(60_000), '30d')?.message ?? '', /expires in less than a day/);
    const expired = expiryWarning(notAfter, at(-2 * DAY), '7d');
    assert.equal(expired?.threshold, 'expired');
    assert.equal(expired?.level, 'error');
    assert.equal(expired?.daysLeft, -2);
    assert.equal(expired?.message, 'the certificate expired on 2030-06-01T00:00:00.000Z');
    assert.equal(expiryWarning(notAfter, at(-3 * DAY), 'expired'), undefined);
  });

  it('report only the most severe threshold when a service starts inside a later window', () => {
    assert.equal(expiryWarning(notAfter, at(5 * DAY), undefined)?.threshold, '7d');
    assert.equal(expiryWarning(notAfter, at(-DAY), undefined)?.threshold, 'expired');
  });

  it('report each threshold once, at the first instant inside its window, whatever the increasing sequence of instants', () => {
    const instants = fc
      .array(fc.integer({ min: -40 * DAY, max: 60 * DAY }), { minLength: 1, maxLength: 60 })
      .map((offsets) => [...offsets].sort((a, b) => b - a).map((offset) => at(offset)));
    fc.assert(
      fc.property(instants, (nows) => {
        const reports = replay(nows);
        const thresholds = reports.map((report) => report.threshold);
        assert.equal(new Set(thresholds).size, thresholds.length, `reported twice: ${thresholds.join(', ')}`);
        // The threshold in force at each instant (undefined before 30 days): every change to a more
        // severe one is reported at that instant, and nothing else is.
        const expected: { now: Date; threshold: ExpiryThreshold }[] = [];
        let previous: ExpiryThreshold | undefined;
        for (const now of nows) {
          const crossed = crossedThreshold(notAfter, now);
          if (crossed !== undefined && crossed !== previous) expected.push({ now, threshold: crossed });
          previous = crossed;
        }
        assert.deepEqual(reports, expected);
        const last = nows.at(-1) as Date;
        assert.equal(thresholds.at(-1), crossedThreshold(notAfter, last), 'the threshold in force at the end has been reported');
      }),
    );
  });

  it('tell the caller when to look again: 0 if a threshold is due, the wait to the next one otherwise, never more than 2^31-1 ms', () => {
    assert.equal(msUntilNextExpiryCheck(notAfter, at(31 * DAY), undefined), DAY);
    assert.equal(msUntilNextExpiryCheck(notAfter, at(20 * DAY), undefined), 0, '30 days crossed, not yet reported');
    assert.equal(msUntilNextExpiryCheck(notAfter, at(20 * DAY), '30d'), 13 * DAY);
    assert.equal(msUntilNextExpiryCheck(notAfter, at(3 * DAY), '7d'), 3 * DAY);
    assert.equal(msUntilNextExpiryCheck(notAfter, at(400 * DAY), undefined), MAX_TIMER_MS);
    assert.equal(msUntilNextExpiryCheck(notAfter, at(-DAY), 'expired'), undefined, 'nothing left to report');
  });

  it('never return a wait that skips a threshold, nor one a timer cannot hold', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -40 * DAY, max: 3650 * DAY }),
        fc.constantFrom<ExpiryThreshold | undefined>(undefined, ...EXPIRY_THRESHOLDS.map((entry) => entry.threshold)),
        (offset, warned) => {
          const now = at(offset);
          const wait = msUntilNextExpiryCheck(notAfter, now, warned);
          if (wait === undefined) {
            assert.equal(warned, 'expired');
            return;
          }
          assert.ok(Number.isInteger(wait) && wait >= 0 && wait <= MAX_TIMER_MS, String(wait));
          // Nothing new to report strictly before the wait is over.
          if (wait > 0) assert.equal(expiryWarning(notAfter, new Date(now.getTime() + wait - 1), warned), undefined);
        },
      ),
    );
  });
});
