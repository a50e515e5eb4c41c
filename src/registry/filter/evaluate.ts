/**
 * go-bexpr's validation and evaluation over Consul-shaped JSON records: selectors are checked
 * against the endpoint's field set (fields.ts) before anything is read, values are coerced to
 * the field's type, and matching follows go-bexpr v0.1.2 exactly, quirks included: a selector
 * through a list matches if any element matches (`Checks.Status == passing` is true when one
 * check passes), and a missing map key makes `==`, `in` and `is not empty` false and every
 * other operator true (`Service.Meta.x != y`, `not in`, even `matches`).
 */
import type { Expression, MatchExpression, MatchOperator } from './ast.js';
import { CONSUL_FIELDS, type FieldSpec } from './fields.js';
import { FilterExpressionError } from './parser.js';
import { goParseBool, goParseInt, goQuote } from './go-strconv.js';

/** The Consul types a filter runs over, one per endpoint family (see FILTER_TYPES in query-params.ts). */
export type FilterDataType = keyof typeof CONSUL_FIELDS;

const OPERATOR_CODES: Record<MatchOperator, string> = {
  Equal: '=',
  'Not Equal': '!',
  In: 'i',
  'Not In': 'I',
  'Is Empty': 'e',
  'Is Not Empty': 'E',
  Matches: 'm',
  'Not Matches': 'M',
};

type Shape = 'scalar' | 'map' | 'slice' | 'struct';

function shapeOf(spec: FieldSpec): Shape {
  const ops = spec.o ?? '';
  if (spec.s?.['*'] !== undefined || ops.startsWith('eEiI')) return 'map';
  if (ops.includes('e')) return 'slice';
  if (spec.c !== undefined) return 'scalar';
  return 'struct';
}

type Converted = string | bigint | boolean | RegExp | undefined;

interface BoundMatch {
  expr: MatchExpression;
  /** The spec of each selector step (the last one is the leaf's). */
  value: Converted;
}

/** A filter checked against one data type, ready to run over records of that type. */
export class BoundFilter {
  private readonly bound = new Map<MatchExpression, BoundMatch>();

  constructor(
    readonly expression: Expression,
    private readonly root: FieldSpec,
  ) {
    this.validate(expression);
  }

  /** Whether a record (a Consul JSON object of the bound type) passes the filter. */
  matches(record: unknown): boolean {
    return this.evaluate(this.expression, record);
  }

  private validate(expr: Expression): void {
    if (expr.kind === 'not') return this.validate(expr.operand);
    if (expr.kind !== 'match') {
      this.validate(expr.left);
      this.validate(expr.right);
      return;
    }
    let fields = this.root.s ?? {};
    let last: FieldSpec | undefined;
    expr.selector.forEach((part, idx) => {
      const spec = Object.hasOwn(fields, part) ? fields[part] : fields['*'];
      if (spec === undefined) throw new FilterExpressionError(`Selector ${goQuote(expr.selector.slice(0, idx + 1).join('.'))} is not valid`);
      last = spec;
      fields = spec.s ?? {};
    });
    const leaf = last!;
    const selector = goQuote(expr.selector.join('.'));
    if (!(leaf.o ?? '').includes(OPERATOR_CODES[expr.operator])) {
      throw new FilterExpressionError(`Invalid match operator ${goQuote(expr.operator)} for selector ${selector}`);
    }
    let value: Converted;
    if (expr.value !== undefined) {
      const raw = expr.value;
      try {
        if (leaf.c === 'int') value = goParseInt(raw);
        else if (leaf.c === 'bool') value = goParseBool(raw);
        else value = raw;
      } catch (error) {
        throw new FilterExpressionError(`Failed to coerce value ${goQuote(raw)} for selector ${selector}: ${(error as Error).message}`);
      }
      if (expr.operator === 'Matches' || expr.operator === 'Not Matches') value = compileGoRegexp(raw);
    }
    this.bound.set(expr, { expr, value });
  }

  private evaluate(expr: Expression, record: unknown): boolean {
    switch (expr.kind) {
      case 'not':
        return !this.evaluate(expr.operand, record);
      case 'and':
        return this.evaluate(expr.left, record) && this.evaluate(expr.right, record);
      case 'or':
        return this.evaluate(expr.left, record) || this.evaluate(expr.right, record);
      default: {
        const bound = this.bound.get(expr)!;
        return matchAt(bound, 0, record, this.root);
      }
    }
  }
}

function matchAt(bound: BoundMatch, depth: number, value: unknown, spec: FieldSpec): boolean {
  const { expr } = bound;
  const shape = shapeOf(spec);
  if (depth >= expr.selector.length) return leafMatch(bound, value, spec, shape);
  const part = expr.selector[depth]!;
  if (shape === 'slice') {
    const items = Array.isArray(value) ? value : [];
    return items.some((item) => matchAt(bound, depth, item, { s: spec.s ?? {} }));
  }
  const object = isObject(value) ? value : {};
  if (shape === 'map') {
    if (!Object.hasOwn(object, part)) return !['Equal', 'Is Not Empty', 'In'].includes(expr.operator);
    return matchAt(bound, depth + 1, object[part], spec.s?.['*'] ?? {});
  }
  return matchAt(bound, depth + 1, object[part], spec.s?.[part] ?? {});
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalarEqual(kind: FieldSpec['c'], actual: unknown, wanted: Converted): boolean {
  if (kind === 'int') return typeof actual === 'number' || actual === undefined || actual === null ? BigInt(Math.trunc(Number(actual ?? 0))) === wanted : false;
  if (kind === 'bool') return (actual ?? false) === wanted;
  return String(actual ?? '') === wanted;
}

function leafMatch(bound: BoundMatch, value: unknown, spec: FieldSpec, shape: Shape): boolean {
  const { expr, value: wanted } = bound;
  switch (expr.operator) {
    case 'Equal':
      return scalarEqual(spec.c, value, wanted);
    case 'Not Equal':
      return !scalarEqual(spec.c, value, wanted);
    case 'In':
    case 'Not In': {
      let found: boolean;
      if (shape === 'map') found = isObject(value) && Object.hasOwn(value, wanted as string);
      else if (shape === 'slice') found = (Array.isArray(value) ? value : []).some((item) => scalarEqual(spec.c, item, wanted));
      else found = String(value ?? '').includes(wanted as string);
      return expr.operator === 'In' ? found : !found;
    }
    case 'Is Empty':
    case 'Is Not Empty': {
      const size = Array.isArray(value) ? value.length : isObject(value) ? Object.keys(value).length : typeof value === 'string' ? value.length : 0;
      return expr.operator === 'Is Empty' ? size === 0 : size !== 0;
    }
    case 'Matches':
    case 'Not Matches': {
      const found = (wanted as RegExp).test(String(value ?? ''));
      return expr.operator === 'Matches' ? found : !found;
    }
  }
}

/**
 * A Go (RE2) regular expression as a JavaScript RegExp: leading inline flags, (?P<name>), \A and
 * \z translated; the constructs Go refuses (look-around, back-references) refused with Go's texts.
 */
export function compileGoRegexp(raw: string): RegExp {
  const fail = (reason: string): never => {
    throw new FilterExpressionError(`Failed to compile regular expression ${goQuote(raw)}: error parsing regexp: ${reason}`);
  };
  let source = raw;
  let flags = '';
  const inline = /^\(\?([imsU]+)\)/.exec(source);
  if (inline) {
    flags = [...new Set(inline[1]!.replace('U', ''))].join('');
    source = source.slice(inline[0].length);
  }
  const perl = /\(\?(<=|<!|=|!)/.exec(source);
  if (perl) fail(`invalid or unsupported Perl syntax: \`${perl[0].slice(0, 3)}\``);
  const backref = /\\[1-9]/.exec(source);
  if (backref) fail(`invalid escape sequence: \`${backref[0]}\``);
  source = source.replaceAll('(?P<', '(?<').replaceAll('\\A', '^').replaceAll('\\z', '$(?![\\s\\S])');
  try {
    return new RegExp(source, flags);
  } catch (error) {
    const message = (error as Error).message;
    if (/Unterminated group/.test(message)) fail(`missing closing ): \`${raw}\``);
    if (/Unmatched '\)'/.test(message)) fail(`unexpected ): \`${raw}\``);
    if (/missing \/|Unterminated character class/.test(message)) fail(`missing closing ]: \`${raw.slice(raw.indexOf('['))}\``);
    if (/Nothing to repeat/.test(message)) fail(`missing argument to repetition operator: \`${/[*+?{]/.exec(raw)?.[0] ?? raw}\``);
    if (/\\ at end of pattern/.test(message)) fail('trailing backslash at end of expression: ``');
    return fail(`invalid regular expression: \`${raw}\``);
  }
}

/** Binds a parsed expression to one of Consul's data types (throws go-bexpr's validation texts). */
export function bindFilter(expression: Expression, type: FilterDataType): BoundFilter {
  return new BoundFilter(expression, { s: CONSUL_FIELDS[type] as Record<string, FieldSpec> });
}


