/**
 * go-bexpr v0.1.2's grammar (grammar.peg), run the way its pigeon-generated parser runs it, so
 * that every error text matches Consul 1.15.4's: the farthest failure position with the sorted
 * list of what was expected there ("1:5 (4): no match found, expected: ..."), and the grammar's
 * own errors prefixed by the rule they come from ("1:17 (16): rule \"grouping\": Unmatched
 * parentheses"). Written by hand because no JavaScript PEG library reproduces pigeon's messages.
 *
 * Two deliberate differences: results are memoised per (rule, position), which pigeon does not do
 * (Consul takes ~30 s of CPU for ten nested parentheses, exponential in the depth; the answers and
 * error texts are the same, since pigeon's failure bookkeeping only ever keeps the farthest
 * position); and nesting is bounded (MAX_RULE_DEPTH) so no input can overflow the stack.
 */
import type { Expression, MatchExpression, MatchOperator } from './ast.js';
import { goUnquote } from './go-strconv.js';

/** A filter that does not parse or does not fit the endpoint; `message` is go-bexpr's text. */
export class FilterExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterExpressionError';
  }
}

/**
 * How deep grammar rules may nest: about 50 levels of parentheses or a chain of about 120 and/or
 * terms (each term nests: the grammar is right-recursive). Deeper input gets a FilterExpressionError.
 */
export const MAX_RULE_DEPTH = 500;

type Value = unknown;
type Labels = Record<string, Value>;

type Node =
  | { t: 'lit'; val: string; want: string }
  | { t: 'cls'; test: (c: string) => boolean; want: string }
  | { t: 'any' }
  | { t: 'seq'; items: Node[] }
  | { t: 'choice'; alts: Node[] }
  | { t: 'opt' | 'star' | 'plus' | 'and' | 'not'; e: Node }
  | { t: 'ref'; name: string }
  | { t: 'label'; name: string; e: Node }
  | { t: 'action'; e: Node; run: (labels: Labels, text: string) => Value }
  | { t: 'fail'; message: string };

interface Rule {
  name: string;
  display?: string;
  e: Node;
}

const lit = (val: string): Node => ({ t: 'lit', val, want: JSON.stringify(val) });
const cls = (want: string, re: RegExp): Node => ({ t: 'cls', want, test: (c) => re.test(c) });
const seq = (...items: Node[]): Node => ({ t: 'seq', items });
const choice = (...alts: Node[]): Node => ({ t: 'choice', alts });
const opt = (e: Node): Node => ({ t: 'opt', e });
const star = (e: Node): Node => ({ t: 'star', e });
const plus = (e: Node): Node => ({ t: 'plus', e });
const and = (e: Node): Node => ({ t: 'and', e });
const not = (e: Node): Node => ({ t: 'not', e });
const ref = (name: string): Node => ({ t: 'ref', name });
const label = (name: string, e: Node): Node => ({ t: 'label', name, e });
const action = (e: Node, run: (labels: Labels, text: string) => Value): Node => ({ t: 'action', e, run });
/** pigeon's `&{ return false, errors.New(message) }`: records the error, fails. */
const fail = (message: string): Node => ({ t: 'fail', message });

const _ = ref('_');
const op = (name: string, operator: MatchOperator, ...parts: Node[]): Rule => ({ name, e: action(seq(...parts), () => operator) });
const matchOf = (labels: Labels, value: MatchExpression['value']): MatchExpression => {
  const m: MatchExpression = { kind: 'match', selector: labels.selector as string[], operator: labels.operator as MatchOperator };
  if (value !== undefined) m.value = value;
  return m;
};
const binary = (kind: 'and' | 'or') => (l: Labels): Expression => ({ kind, left: l.left as Expression, right: l.right as Expression });
const pass = (l: Labels): Value => l.expr;

const RULES: Rule[] = [
  {
    name: 'Input',
    e: choice(
      action(seq(opt(_), lit('('), opt(_), label('expr', ref('OrExpression')), opt(_), lit(')'), opt(_), ref('EOF')), pass),
      action(seq(opt(_), label('expr', ref('OrExpression')), opt(_), ref('EOF')), pass),
    ),
  },
  {
    name: 'OrExpression',
    e: choice(
      action(seq(label('left', ref('AndExpression')), _, lit('or'), _, label('right', ref('OrExpression'))), binary('or')),
      action(label('expr', ref('AndExpression')), pass),
    ),
  },
  {
    name: 'AndExpression',
    e: choice(
      action(seq(label('left', ref('NotExpression')), _, lit('and'), _, label('right', ref('AndExpression'))), binary('and')),
      action(label('expr', ref('NotExpression')), pass),
    ),
  },
  {
    name: 'NotExpression',
    e: choice(
      action(seq(lit('not'), _, label('expr', ref('NotExpression'))), (l) => {
        const operand = l.expr as Expression;
        // go-bexpr drops a double negation: `not not x` is `x`.
        return operand.kind === 'not' ? operand.operand : { kind: 'not', operand };
      }),
      action(label('expr', ref('ParenthesizedExpression')), pass),
    ),
  },
  {
    name: 'ParenthesizedExpression',
    display: '"grouping"',
    e: choice(
      action(seq(lit('('), opt(_), label('expr', ref('OrExpression')), opt(_), lit(')')), pass),
      action(label('expr', ref('MatchExpression')), pass),
      seq(lit('('), opt(_), ref('OrExpression'), opt(_), not(lit(')')), fail('Unmatched parentheses')),
    ),
  },
  { name: 'MatchExpression', display: '"match"', e: choice(ref('MatchSelectorOpValue'), ref('MatchSelectorOp'), ref('MatchValueOpSelector')) },
  {
    name: 'MatchSelectorOpValue',
    display: '"match"',
    e: action(
      seq(
        label('selector', ref('Selector')),
        label('operator', choice(...['MatchEqual', 'MatchNotEqual', 'MatchContains', 'MatchNotContains', 'MatchMatches', 'MatchNotMatches'].map(ref))),
        label('value', ref('Value')),
      ),
      (l) => matchOf(l, l.value as string),
    ),
  },
  {
    name: 'MatchSelectorOp',
    display: '"match"',
    e: action(seq(label('selector', ref('Selector')), label('operator', choice(ref('MatchIsEmpty'), ref('MatchIsNotEmpty')))), (l) => matchOf(l, undefined)),
  },
  {
    name: 'MatchValueOpSelector',
    display: '"match"',
    e: choice(
      action(
        seq(label('value', ref('Value')), label('operator', choice(ref('MatchIn'), ref('MatchNotIn'))), label('selector', ref('Selector'))),
        (l) => matchOf(l, l.value as string),
      ),
      seq(ref('Value'), label('operator', choice(ref('MatchIn'), ref('MatchNotIn'))), not(ref('Selector')), fail('Invalid selector')),
    ),
  },
  op('MatchEqual', 'Equal', opt(_), lit('=='), opt(_)),
  op('MatchNotEqual', 'Not Equal', opt(_), lit('!='), opt(_)),
  op('MatchIsEmpty', 'Is Empty', _, lit('is'), _, lit('empty')),
  op('MatchIsNotEmpty', 'Is Not Empty', _, lit('is'), _, lit('not'), _, lit('empty')),
  op('MatchIn', 'In', _, lit('in'), _),
  op('MatchNotIn', 'Not In', _, lit('not'), _, lit('in'), _),
  op('MatchContains', 'In', _, lit('contains'), _),
  op('MatchNotContains', 'Not In', _, lit('not'), _, lit('contains'), _),
  op('MatchMatches', 'Matches', _, lit('matches'), _),
  op('MatchNotMatches', 'Not Matches', _, lit('not'), _, lit('matches'), _),
  {
    name: 'Selector',
    display: '"selector"',
    e: action(seq(label('first', ref('Identifier')), label('rest', star(ref('SelectorOrIndex')))), (l) => [l.first as string, ...(l.rest as string[])]),
  },
  { name: 'Identifier', e: action(seq(cls('[a-zA-Z]', /^[a-zA-Z]$/), star(cls('[a-zA-Z0-9_]', /^[a-zA-Z0-9_]$/))), (_l, text) => text) },
  {
    name: 'SelectorOrIndex',
    e: choice(action(seq(lit('.'), label('ident', ref('Identifier'))), (l) => l.ident), action(label('expr', ref('IndexExpression')), pass)),
  },
  {
    name: 'IndexExpression',
    display: '"index"',
    e: choice(
      action(seq(lit('['), opt(_), label('lit', ref('StringLiteral')), opt(_), lit(']')), (l) => l.lit),
      seq(lit('['), opt(_), not(ref('StringLiteral')), fail('Invalid index')),
      seq(lit('['), opt(_), ref('StringLiteral'), opt(_), not(lit(']')), fail('Unclosed index expression')),
    ),
  },
  {
    name: 'Value',
    display: '"value"',
    e: choice(
      action(label('selector', ref('Selector')), (l) => (l.selector as string[]).join('.')),
      action(label('n', ref('NumberLiteral')), (l) => l.n),
      action(label('s', ref('StringLiteral')), (l) => l.s),
    ),
  },
  {
    name: 'NumberLiteral',
    display: '"number"',
    e: choice(
      action(seq(opt(lit('-')), ref('IntegerOrFloat'), and(ref('AfterNumbers'))), (_l, text) => text),
      seq(opt(lit('-')), ref('IntegerOrFloat'), not(ref('AfterNumbers')), fail('Invalid number literal')),
    ),
  },
  { name: 'AfterNumbers', e: and(choice(_, ref('EOF'), lit(')'))) },
  {
    name: 'IntegerOrFloat',
    e: seq(choice(lit('0'), seq(cls('[1-9]', /^[1-9]$/), star(cls('[0-9]', /^[0-9]$/)))), opt(seq(lit('.'), plus(cls('[0-9]', /^[0-9]$/))))),
  },
  {
    name: 'StringLiteral',
    display: '"string"',
    e: choice(
      action(
        choice(seq(lit('`'), star(ref('RawStringChar')), lit('`')), seq(lit('"'), star(ref('DoubleStringChar')), lit('"'))),
        (_l, text) => {
          try {
            return goUnquote(text);
          } catch {
            throw new ActionError('invalid syntax', '');
          }
        },
      ),
      seq(choice(seq(lit('`'), star(ref('RawStringChar'))), seq(lit('"'), star(ref('DoubleStringChar')))), ref('EOF'), fail('Unterminated string literal')),
    ),
  },
  { name: 'RawStringChar', e: seq(not(lit('`')), { t: 'any' }) },
  { name: 'DoubleStringChar', e: seq(not(lit('"')), { t: 'any' }) },
  { name: '_', display: '"whitespace"', e: plus(cls('[ \\t\\r\\n]', /^[ \t\r\n]$/)) },
  { name: 'EOF', e: not({ t: 'any' }) },
];

const RULE_TABLE = new Map(RULES.map((r) => [r.name, r]));

/** An action that failed (pigeon records the error and keeps the action's value). */
class ActionError extends Error {
  constructor(
    message: string,
    readonly value: Value,
  ) {
    super(message);
  }
}

class TooDeep extends Error {}

interface Position {
  line: number;
  col: number;
  offset: number;
}

interface Memo {
  ok: boolean;
  value: Value;
  end: number;
}

class Parser {
  private readonly chars: string[];
  private readonly positions: Position[];
  private pos = 0;
  private maxFail = -1;
  private maxFailExpected: string[] = [];
  private invert = false;
  private readonly errors: string[] = [];
  private readonly rstack: Rule[] = [];
  private readonly memo = new Map<string, Memo>();

  constructor(input: string) {
    this.chars = [...input];
    // pigeon's positions: columns count runes, offsets count UTF-8 bytes, and a newline belongs to the next line (column 0).
    this.positions = [];
    let line = 1;
    let col = 0;
    let offset = 0;
    for (let i = 0; i <= this.chars.length; i++) {
      col++;
      const ch = this.chars[i];
      if (ch === '\n') {
        line++;
        col = 0;
      }
      this.positions.push({ line, col, offset });
      if (ch !== undefined) offset += Buffer.byteLength(ch, 'utf8');
    }
  }

  run(): Expression {
    const result = this.rule(RULE_TABLE.get('Input')!);
    if (!result.ok && this.errors.length === 0) {
      const set = new Set(this.maxFailExpected);
      const eof = set.delete('!.');
      const expected = [...set].sort(compareGoStrings);
      if (eof) expected.push('EOF');
      this.addErrorAt(`no match found, expected: ${listJoin(expected)}`, this.maxFail < 0 ? 0 : this.maxFail, false);
    }
    if (this.errors.length > 0) throw new FilterExpressionError(this.errors.join('\n'));
    return result.value as Expression;
  }

  private addErrorAt(message: string, at: number, withRule = true): void {
    const p = this.positions[at]!;
    let text = `${p.line}:${p.col} (${p.offset})`;
    const top = this.rstack[this.rstack.length - 1];
    if (withRule && top) text += `: rule ${top.display ?? top.name}`;
    text += `: ${message}`;
    if (!this.errors.includes(text)) this.errors.push(text);
  }

  private failAt(matched: boolean, at: number, want: string): void {
    if (matched !== this.invert) return;
    if (at < this.maxFail) return;
    if (at > this.maxFail) {
      this.maxFail = at;
      this.maxFailExpected = [];
    }
    this.maxFailExpected.push(this.invert ? `!${want}` : want);
  }

  private rule(rule: Rule): Memo {
    const key = `${rule.name}:${this.pos}:${this.invert ? 1 : 0}`;
    const known = this.memo.get(key);
    if (known) {
      this.pos = known.end;
      return known;
    }
    if (this.rstack.length >= MAX_RULE_DEPTH) throw new TooDeep();
    this.rstack.push(rule);
    const ok = this.node(rule.e, {});
    this.rstack.pop();
    const result = { ok: ok.ok, value: ok.value, end: this.pos };
    this.memo.set(key, result);
    return result;
  }

  private node(n: Node, labels: Labels): { ok: boolean; value: Value } {
    switch (n.t) {
      case 'lit': {
        const start = this.pos;
        const wanted = [...n.val];
        for (let i = 0; i < wanted.length; i++) {
          if (this.chars[start + i] !== wanted[i]) {
            this.failAt(false, start, n.want);
            this.pos = start;
            return { ok: false, value: undefined };
          }
        }
        this.pos = start + wanted.length;
        this.failAt(true, start, n.want);
        return { ok: true, value: n.val };
      }
      case 'cls': {
        const ch = this.chars[this.pos];
        if (ch !== undefined && n.test(ch)) {
          this.failAt(true, this.pos, n.want);
          this.pos++;
          return { ok: true, value: ch };
        }
        this.failAt(false, this.pos, n.want);
        return { ok: false, value: undefined };
      }
      case 'any': {
        const ch = this.chars[this.pos];
        if (ch === undefined) {
          this.failAt(false, this.pos, '.');
          return { ok: false, value: undefined };
        }
        this.failAt(true, this.pos, '.');
        this.pos++;
        return { ok: true, value: ch };
      }
      case 'seq': {
        const start = this.pos;
        const values: Value[] = [];
        for (const item of n.items) {
          const r = this.node(item, labels);
          if (!r.ok) {
            this.pos = start;
            return { ok: false, value: undefined };
          }
          values.push(r.value);
        }
        return { ok: true, value: values };
      }
      case 'choice':
        for (const alt of n.alts) {
          const r = this.node(alt, {});
          if (r.ok) return r;
        }
        return { ok: false, value: undefined };
      case 'opt': {
        const r = this.node(n.e, {});
        return { ok: true, value: r.value };
      }
      case 'star':
      case 'plus': {
        const values: Value[] = [];
        for (;;) {
          const r = this.node(n.e, {});
          if (!r.ok) break;
          values.push(r.value);
        }
        return { ok: n.t === 'star' || values.length > 0, value: values };
      }
      case 'and': {
        const start = this.pos;
        const r = this.node(n.e, {});
        this.pos = start;
        return { ok: r.ok, value: undefined };
      }
      case 'not': {
        const start = this.pos;
        this.invert = !this.invert;
        const r = this.node(n.e, {});
        this.invert = !this.invert;
        this.pos = start;
        return { ok: !r.ok, value: undefined };
      }
      case 'ref':
        return this.rule(RULE_TABLE.get(n.name)!);
      case 'label': {
        const r = this.node(n.e, {});
        if (r.ok) labels[n.name] = r.value;
        return r;
      }
      case 'action': {
        const start = this.pos;
        const own: Labels = {};
        const r = this.node(n.e, own);
        if (!r.ok) return r;
        const text = this.chars.slice(start, this.pos).join('');
        try {
          return { ok: true, value: n.run(own, text) };
        } catch (error) {
          if (!(error instanceof ActionError)) throw error;
          this.addErrorAt(error.message, start);
          return { ok: true, value: error.value };
        }
      }
      case 'fail':
        this.addErrorAt(n.message, this.pos);
        return { ok: false, value: undefined };
    }
  }
}

/** Go's sort.Strings order (bytewise UTF-8), which is code point order. */
function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function listJoin(list: string[]): string {
  if (list.length <= 1) return list[0] ?? '';
  return `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

/**
 * Parses a filter expression. Throws FilterExpressionError (and nothing else) for any input that
 * Consul would refuse, with go-bexpr's message.
 */
export function parseFilterExpression(input: string): Expression {
  try {
    return new Parser(input).run();
  } catch (error) {
    // RangeError: a stack smaller than MAX_RULE_DEPTH assumes (a deep caller) ends the same way.
    if (error instanceof TooDeep || error instanceof RangeError) {
      throw new FilterExpressionError(`filter expression nests too deeply (more than ${MAX_RULE_DEPTH} grammar rules); use fewer parentheses or shorter and/or chains`);
    }
    throw error;
  }
}
