import { formatGoDuration, goDurationMs, MAX_GO_DURATION_TEXT, msToGoDuration, tryParseGoDuration } from '../consul-wire/duration.js';
import { FarolError } from '../errors.js';

export interface DurationFlagRule {
  /** 'positive': more than 0; 'non-negative': 0 allowed (the default). */
  sign?: 'positive' | 'non-negative';
  /** Longest value Farol honours for this flag, in ms. */
  maxMs?: number;
  /** Shown in the message: "must be a duration like <example>". */
  example?: string;
  /** Said after the rule in the hint, e.g. "0s turns the wait off". */
  note?: string;
}

/**
 * A duration flag (--check-interval 10s, --drain-delay 3s, --timeout 500ms): a Go duration as
 * time.ParseDuration reads it, bounded as Go bounds it and by the flag's own limit. Returns ms.
 */
export function parseDurationFlag(flag: string, text: string, rule: DurationFlagRule = {}): number {
  const example = rule.example ?? '10s, 1m30s or 500ms';
  const fail = (reason: string, hint: string) =>
    new FarolError('CONFIG_INVALID', `invalid --${flag} ${JSON.stringify(text)}: ${reason}`, {
      hint: rule.note === undefined ? hint : `${hint}; ${rule.note}`,
    });
  const parsed = tryParseGoDuration(text);
  if ('error' in parsed) {
    throw fail(`must be a duration like ${example}`, `${parsed.error.message}: write a number and a unit (ns, us, ms, s, m, h), at most ${MAX_GO_DURATION_TEXT}`);
  }
  if (rule.sign === 'positive' ? parsed.ns <= 0n : parsed.ns < 0n) {
    throw fail(`must be ${rule.sign === 'positive' ? 'more than 0' : '0 or more'}`, `write a duration like ${example}`);
  }
  const ms = goDurationMs(parsed.ns);
  if (rule.maxMs !== undefined && ms > rule.maxMs) {
    const max = formatGoDuration(msToGoDuration(rule.maxMs));
    throw fail(`must be at most ${max}`, `Farol waits at most ${max} here; write a shorter duration`);
  }
  return ms;
}
