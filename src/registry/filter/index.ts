export { printExpression, printSelector, type Expression, type MatchExpression, type MatchOperator } from './ast.js';
export { FilterExpressionError, MAX_RULE_DEPTH, parseFilterExpression } from './parser.js';
export { bindFilter, BoundFilter, compileGoRegexp, type FilterDataType } from './evaluate.js';
