import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationFlag } from '../../src/cli/duration-flag.js';
import { FarolError } from '../../src/errors.js';

function refusal(fn: () => unknown): FarolError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FarolError);
    assert.equal(error.code, 'CONFIG_INVALID');
    return error;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('duration flags', () => {
  it('read Go durations into milliseconds, absurd but valid ones included', () => {
    assert.equal(parseDurationFlag('check-interval', '10s'), 10_000);
    assert.equal(parseDurationFlag('check-interval', '1m30s'), 90_000);
    assert.equal(parseDurationFlag('check-interval', '2000h'), 7_200_000_000);
    assert.equal(parseDurationFlag('drain-delay', '0s'), 0);
  });

  it('refuse what Go refuses, naming the flag, with Go\'s text and the bound in the hint', () => {
    const error = refusal(() => parseDurationFlag('check-interval', '999999999h'));
    assert.equal(error.message, 'invalid --check-interval "999999999h": must be a duration like 10s, 1m30s or 500ms');
    assert.match(error.hint ?? '', /^time: invalid duration "999999999h": .*at most 2562047h47m16\.854775807s/);
    assert.match(refusal(() => parseDurationFlag('timeout', '10')).hint ?? '', /missing unit/);
  });

  it('refuse a sign or a length the flag does not take, saying the bound', () => {
    assert.equal(refusal(() => parseDurationFlag('timeout', '0s', { sign: 'positive' })).message, 'invalid --timeout "0s": must be more than 0');
    assert.equal(refusal(() => parseDurationFlag('drain-delay', '-1s')).message, 'invalid --drain-delay "-1s": must be 0 or more');
    assert.equal(
      refusal(() => parseDurationFlag('drain-timeout', '2000h', { maxMs: 3_600_000 })).message,
      'invalid --drain-timeout "2000h": must be at most 1h0m0s',
    );
  });
});
