/**
 * go-bexpr's expression tree (v0.1.2, the version Consul 1.15.4 vendors) and a printer whose
 * output parses back to the same tree.
 */

/** go-bexpr's MatchOperator names, as its %q error texts print them. */
export type MatchOperator = 'Equal' | 'Not Equal' | 'In' | 'Not In' | 'Is Empty' | 'Is Not Empty' | 'Matches' | 'Not Matches';

export interface MatchExpression {
  kind: 'match';
  /** Dotted parts and ["index"] keys alike: `Service.Meta["a b"]` is ["Service", "Meta", "a b"]. */
  selector: string[];
  operator: MatchOperator;
  /** The value as written (unquoted); absent for `is empty` / `is not empty`. */
  value?: string;
}

export interface NotExpression {
  kind: 'not';
  operand: Expression;
}

export interface BinaryExpression {
  kind: 'and' | 'or';
  left: Expression;
  right: Expression;
}

export type Expression = MatchExpression | NotExpression | BinaryExpression;

const IDENTIFIER = /^[a-zA-Z][a-zA-Z0-9_]*$/;

/** A Go double-quoted literal that the grammar reads back (a `"` inside is written \x22). */
function quoteValue(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\x22';
    else if (ch === '\\') out += '\\\\';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

export function printSelector(selector: readonly string[]): string {
  return selector.map((part, i) => (i > 0 && IDENTIFIER.test(part) ? `.${part}` : i === 0 ? part : `[${quoteValue(part)}]`)).join('');
}

const PRINTED: Record<MatchOperator, string> = {
  Equal: '==',
  'Not Equal': '!=',
  In: 'in',
  'Not In': 'not in',
  'Is Empty': 'is empty',
  'Is Not Empty': 'is not empty',
  Matches: 'matches',
  'Not Matches': 'not matches',
};

/** Text that parses back to `expr` (binary operands parenthesised; values always quoted). */
export function printExpression(expr: Expression): string {
  switch (expr.kind) {
    case 'match': {
      const selector = printSelector(expr.selector);
      const value = quoteValue(expr.value ?? '');
      if (expr.operator === 'In' || expr.operator === 'Not In') return `${value} ${PRINTED[expr.operator]} ${selector}`;
      if (expr.operator === 'Is Empty' || expr.operator === 'Is Not Empty') return `${selector} ${PRINTED[expr.operator]}`;
      return `${selector} ${PRINTED[expr.operator]} ${value}`;
    }
    case 'not':
      return `not (${printExpression(expr.operand)})`;
    default:
      return `(${printExpression(expr.left)}) ${expr.kind} (${printExpression(expr.right)})`;
  }
}
