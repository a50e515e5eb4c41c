import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bindFilter,
  FilterExpressionError,
  parseFilterExpression,
  printExpression,
  type Expression,
  type MatchOperator,
} from '../../src/registry/filter/index.js';
import { goParseInt, goQuote, goUnquote } from '../../src/registry/filter/go-strconv.js';

function parseError(text: string): string {
  try {
    parseFilterExpression(text);
  } catch (error) {
    assert.ok(error instanceof FilterExpressionError, `typed error for ${text}`);
    return error.message;
  }
  assert.fail(`expected ${text} to be refused`);
}

function bindError(text: string): string {
  try {
    bindFilter(parseFilterExpression(text), 'CheckServiceNode');
  } catch (error) {
    assert.ok(error instanceof FilterExpressionError);
    return error.message;
  }
  assert.fail(`expected ${text} to be refused`);
}

/** A health/service entry as Consul writes it (trimmed to what the filters read). */
function entry(id: string, opts: { port: number; tags: string[]; meta: Record<string, string> | null; statuses: string[] }): Record<string, unknown> {
  return {
    Node: { ID: 'n-1', Node: 'node1', Address: '127.0.0.1', Datacenter: 'dc1', Meta: { 'consul-network-segment': '' } },
    Service: { ID: id, Service: 'web', Tags: opts.tags, Meta: opts.meta, Port: opts.port, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false },
    Checks: opts.statuses.map((Status, i) => ({ CheckID: `c${i}`, Status, ServiceTags: i === 0 ? [] : opts.tags })),
  };
}

const stable = entry('web-1', { port: 8080, tags: ['v1', 'primary'], meta: { version: '1.2.3' }, statuses: ['passing', 'passing'] });
const canary = entry('web-2', { port: 8081, tags: ['v2', 'canary'], meta: { version: '2.0.0', canary: 'true' }, statuses: ['passing', 'critical'] });
const bare = entry('web-3', { port: 0, tags: [], meta: null, statuses: ['passing'] });
const ALL = [stable, canary, bare];

function ids(filter: string): string[] {
  const bound = bindFilter(parseFilterExpression(filter), 'CheckServiceNode');
  return ALL.filter((r) => bound.matches(r)).map((r) => (r.Service as { ID: string }).ID);
}

describe('filter grammar: Consul 1.15.4’s parse errors, text for text', () => {
  // Each expected text was read from a real Consul 1.15.4 agent.
  const cases: [string, string][] = [
    ['((((', '1:5 (4): no match found, expected: "(", "-", "0", "\\"", "`", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]'],
    ['a in', '1:5 (4): no match found, expected: [ \\t\\r\\n]'],
    ['Service.Tags is empty or', '1:25 (24): no match found, expected: [ \\t\\r\\n]'],
    ['Service.ID=="\\q"', '1:13 (12): rule "string": invalid syntax'],
    ['Service.ID=="abc', '1:17 (16): rule "string": Unterminated string literal'],
    ['Service.Port==1x', '1:16 (15): rule "number": Invalid number literal'],
    ['Service.Meta[', '1:14 (13): rule "index": Invalid index'],
    ['Service.Meta["a"', '1:17 (16): rule "index": Unclosed index expression'],
    ['(Service.Port==1', '1:17 (16): rule "grouping": Unmatched parentheses'],
  ];
  for (const [input, message] of cases) {
    it(`refuses ${JSON.stringify(input)}`, () => assert.equal(parseError(input), message));
  }

  it('reads every operator, quoted and unquoted values, dotted and indexed selectors', () => {
    const ops: [string, MatchOperator][] = [
      ['a == 1', 'Equal'],
      ['a != x.y', 'Not Equal'],
      ['a contains "v"', 'In'],
      ['a not contains `v`', 'Not In'],
      ['"v" in a', 'In'],
      ['"v" not in a', 'Not In'],
      ['a is empty', 'Is Empty'],
      ['a is not empty', 'Is Not Empty'],
      ['a matches "^x"', 'Matches'],
      ['a not matches "^x"', 'Not Matches'],
    ];
    for (const [text, operator] of ops) assert.equal((parseFilterExpression(text) as { operator: string }).operator, operator, text);
    assert.deepEqual(parseFilterExpression('Service.Meta["a b"] == -1.5'), { kind: 'match', selector: ['Service', 'Meta', 'a b'], operator: 'Equal', value: '-1.5' });
    assert.deepEqual(parseFilterExpression('a != x.y'), { kind: 'match', selector: ['a'], operator: 'Not Equal', value: 'x.y' });
  });

  it('binds and tighter than or, and drops a double not, as go-bexpr does', () => {
    const tree = parseFilterExpression('a == 1 or b == 2 and not not c == 3');
    assert.equal(tree.kind, 'or');
    assert.deepEqual((tree as { right: Expression }).right, {
      kind: 'and',
      left: { kind: 'match', selector: ['b'], operator: 'Equal', value: '2' },
      right: { kind: 'match', selector: ['c'], operator: 'Equal', value: '3' },
    });
  });

  it('refuses nesting beyond its bound with the typed error (no stack overflow), and parses 40 levels at once', () => {
    assert.match(parseError(`${'('.repeat(5000)}a == 1${')'.repeat(5000)}`), /nests too deeply/);
    assert.match(parseError(Array.from({ length: 20_000 }, () => 'a == 1').join(' or ')), /nests too deeply/);
    assert.equal(parseFilterExpression(`${'('.repeat(40)}a == 1${')'.repeat(40)}`).kind, 'match');
  });
});

describe('filter selectors and values: Consul’s field sets and texts', () => {
  it('names the first unknown part of a selector', () => {
    assert.equal(bindError('Service.Nope == 1'), 'Selector "Service.Nope" is not valid');
    assert.equal(bindError('Nope.Deeper == 1'), 'Selector "Nope" is not valid');
  });

  it('refuses an operator the field does not take', () => {
    assert.equal(bindError('Service.Tags == x'), 'Invalid match operator "Equal" for selector "Service.Tags"');
    assert.equal(bindError('Service.Port matches "1"'), 'Invalid match operator "Matches" for selector "Service.Port"');
    assert.equal(bindError('Service.Weights is empty'), 'Invalid match operator "Is Empty" for selector "Service.Weights"');
  });

  it('coerces values with Go’s strconv texts', () => {
    assert.equal(bindError('Service.Port == abc'), 'Failed to coerce value "abc" for selector "Service.Port": strconv.ParseInt: parsing "abc": invalid syntax');
    assert.equal(
      bindError('Service.Port == 99999999999999999999'),
      'Failed to coerce value "99999999999999999999" for selector "Service.Port": strconv.ParseInt: parsing "99999999999999999999": value out of range',
    );
    assert.equal(bindError('Service.EnableTagOverride == yes'), 'Failed to coerce value "yes" for selector "Service.EnableTagOverride": strconv.ParseBool: parsing "yes": invalid syntax');
    assert.equal(bindError('Service.ID matches "("'), 'Failed to compile regular expression "(": error parsing regexp: missing closing ): `(`');
  });

  it('knows each endpoint’s own names (catalog ServiceTags, agent Tags, checks Status)', () => {
    assert.doesNotThrow(() => bindFilter(parseFilterExpression('ServiceMeta.version == "1" and "v1" in ServiceTags and NodeMeta is empty'), 'ServiceNode'));
    assert.equal(bindError('Service.Meta.x is empty'), 'Invalid match operator "Is Empty" for selector "Service.Meta.x"');
    assert.doesNotThrow(() => bindFilter(parseFilterExpression('Port == 80 and "v1" in Tags and Meta.version != x'), 'AgentService'));
    assert.doesNotThrow(() => bindFilter(parseFilterExpression('Status == passing and ServiceName == web'), 'HealthCheck'));
    assert.throws(() => bindFilter(parseFilterExpression('Service.Port == 80'), 'AgentService'), /Selector "Service.Port" is not valid/);
  });
});

describe('filter evaluation over health entries', () => {
  it('selects by port, tag, meta and check status (canary routing)', () => {
    assert.deepEqual(ids('Service.Port == 8080'), ['web-1']);
    assert.deepEqual(ids('canary in Service.Tags'), ['web-2']);
    assert.deepEqual(ids('Service.Tags not contains canary'), ['web-1', 'web-3']);
    assert.deepEqual(ids('Service.Meta.canary == "true"'), ['web-2']);
    // web-3 has no meta at all: a missing key "matches" (go-bexpr's quirk, below).
    assert.deepEqual(ids('Service.Meta["version"] matches "^1\\\\."'), ['web-1', 'web-3']);
    assert.deepEqual(ids('Service.Tags is empty'), ['web-3']);
    assert.deepEqual(ids('Service.Meta is not empty'), ['web-1', 'web-2']);
    assert.deepEqual(ids('Service.ID contains "-2"'), ['web-2']);
  });

  it('matches a list selector when any element matches, as go-bexpr does', () => {
    assert.deepEqual(ids('Checks.Status == critical'), ['web-2']);
    assert.deepEqual(ids('Checks.Status == passing'), ['web-1', 'web-2', 'web-3']);
    assert.deepEqual(ids('Checks.ServiceTags is empty'), ['web-1', 'web-2', 'web-3']);
  });

  it('treats a missing meta key as go-bexpr does: ==, in, is not empty false; the rest true', () => {
    assert.deepEqual(ids('Service.Meta.canary != "true"'), ['web-1', 'web-3']);
    assert.deepEqual(ids('Service.Meta.canary matches "x"'), ['web-1', 'web-3']);
    assert.deepEqual(ids('Service.Meta.canary not matches "true"'), ['web-1', 'web-3']);
    assert.deepEqual(ids('"canary" in Service.Meta'), ['web-2']);
  });

  it('reads an omitted zero Port as 0 and a null Meta as empty', () => {
    assert.deepEqual(ids('Service.Port == 0'), ['web-3']);
    assert.deepEqual(ids('Service.Meta is empty'), ['web-3']);
  });
});

describe('filter properties', () => {
  const ident = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,6}$/).filter((s) => !['and', 'or', 'not', 'in', 'is', 'contains', 'matches', 'empty'].includes(s));
  const key = fc.oneof(ident, fc.string({ maxLength: 6 }));
  const operators: MatchOperator[] = ['Equal', 'Not Equal', 'In', 'Not In', 'Is Empty', 'Is Not Empty', 'Matches', 'Not Matches'];
  const match = fc.record({ selector: fc.tuple(ident, fc.array(key, { maxLength: 3 })), operator: fc.constantFrom(...operators), value: fc.string({ maxLength: 8 }) }).map(
    ({ selector, operator, value }): Expression => {
      const m: Expression = { kind: 'match', selector: [selector[0], ...selector[1]], operator };
      if (operator !== 'Is Empty' && operator !== 'Is Not Empty') m.value = value;
      return m;
    },
  );
  const { tree } = fc.letrec<{ tree: Expression }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      match,
      tie('tree').filter((e) => e.kind !== 'not').map((operand): Expression => ({ kind: 'not', operand })),
      fc.tuple(fc.constantFrom('and' as const, 'or' as const), tie('tree'), tie('tree')).map(([kind, left, right]): Expression => ({ kind, left, right })),
    ),
  }));

  it('prints any tree to text that parses back to the same tree', () => {
    fc.assert(fc.property(tree, (expr) => assert.deepEqual(parseFilterExpression(printExpression(expr)), expr)), { numRuns: 300 });
  });

  it('never throws anything but FilterExpressionError, whatever the input', () => {
    const alphabet = fc.constantFrom(...'()[]"`.=!- \tabnotiscmy0123'.split(''), 'not ', ' and ', ' or ', ' in ', ' is empty', '==');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(alphabet, { maxLength: 30 }).map((a) => a.join(''))), (text) => {
        try {
          bindFilter(parseFilterExpression(text), 'CheckServiceNode');
        } catch (error) {
          assert.ok(error instanceof FilterExpressionError, `${text}: ${String(error)}`);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('`not X` keeps exactly the records X drops', () => {
    const selectors = ['Service.Port == 8080', 'canary in Service.Tags', 'Service.Meta.canary != "true"', 'Checks.Status == critical', 'Service.Tags is empty', 'Service.ID matches "1$"'];
    const expr = fc.array(fc.constantFrom(...selectors), { minLength: 1, maxLength: 3 }).chain((parts) =>
      fc.array(fc.constantFrom(' and ', ' or '), { minLength: parts.length - 1, maxLength: parts.length - 1 }).map((joins) =>
        parts.reduce((acc, part, i) => (i === 0 ? part : `${acc}${joins[i - 1]}${part}`), ''),
      ),
    );
    const record = fc.record({ port: fc.constantFrom(0, 8080, 8081), tags: fc.subarray(['v1', 'canary', 'x']), canary: fc.boolean(), statuses: fc.subarray(['passing', 'critical', 'warning']) }).map((r, ) =>
      entry(r.port === 8080 ? 'web-1' : 'web-2', { port: r.port, tags: r.tags, meta: r.canary ? { canary: 'true' } : null, statuses: r.statuses }),
    );
    fc.assert(
      fc.property(expr, record, (text, rec) => {
        const yes = bindFilter(parseFilterExpression(text), 'CheckServiceNode').matches(rec);
        const no = bindFilter(parseFilterExpression(`not (${text})`), 'CheckServiceNode').matches(rec);
        assert.equal(no, !yes);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Go strconv helpers', () => {
  it('quote and unquote as Go does', () => {
    assert.equal(goQuote('a"b\\c\n'), '"a\\"b\\\\c\\n"');
    assert.equal(goUnquote('"\\x41\\u00e9\\101\\t"'), 'Aé\x41\t');
    assert.equal(goUnquote('`raw\\n`'), 'raw\\n');
    assert.throws(() => goUnquote('"\\q"'), /invalid syntax/);
  });

  it('ParseInt(s, 0, 64) takes base prefixes and underscores', () => {
    assert.equal(goParseInt('0x1F'), 31n);
    assert.equal(goParseInt('0o17'), 15n);
    assert.equal(goParseInt('017'), 15n);
    assert.equal(goParseInt('1_000'), 1000n);
    assert.equal(goParseInt('-9223372036854775808'), -9223372036854775808n);
    assert.throws(() => goParseInt('1__0'), /invalid syntax/);
    assert.throws(() => goParseInt('9223372036854775808'), /value out of range/);
  });
});
