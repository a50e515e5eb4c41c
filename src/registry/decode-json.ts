/**
 * JSON request bodies read as Consul reads them with Go's encoding/json: unknown fields refused
 * (DisallowUnknownFields), field names matched case-insensitively, snake_case aliases accepted,
 * null left as the zero value, and Go's error texts behind "Request decode failed: ...".
 * Pure: the body text in, a field map or a RegistryHttpError (400) out.
 */
import { tryParseGoDuration } from '../consul-wire/duration.js';
import { RegistryHttpError } from './http-error.js';

export const decodeFailed = (reason: string): RegistryHttpError => new RegistryHttpError(400, `Request decode failed: ${reason}`);

export type GoKind = 'string' | 'int' | 'bool' | 'strings' | 'map' | 'object' | 'objects' | 'duration' | 'any';

/** A body's fields: lower-cased name without underscores → [Go field name, kind]. */
export type GoFields = Record<string, [string, GoKind]>;

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

function typeMismatch(value: unknown, field: string, goType: string): RegistryHttpError {
  return decodeFailed(`json: cannot unmarshal ${jsonKind(value)} into Go struct field .Alias.${field} of type ${goType}`);
}

const GO_TYPES: Record<GoKind, string> = {
  string: 'string',
  int: 'int',
  bool: 'bool',
  strings: '[]string',
  map: 'map[string]string',
  object: 'structs.CheckType',
  objects: 'structs.CheckTypes',
  duration: 'time.Duration',
  any: 'interface {}',
};

function checkKind(value: unknown, kind: GoKind, field: string): void {
  if (value === null) return; // Go leaves the zero value for null
  const bad = () => typeMismatch(value, field, GO_TYPES[kind]);
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') throw bad();
      return;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw bad();
      return;
    case 'strings':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad();
      return;
    case 'map':
      if (jsonKind(value) !== 'object' || Object.values(value as object).some((v) => typeof v !== 'string')) throw bad();
      return;
    case 'object':
      if (jsonKind(value) !== 'object') throw bad();
      return;
    case 'objects':
      if (!Array.isArray(value)) throw bad();
      return;
    case 'duration':
      if (typeof value === 'string') {
        const parsed = tryParseGoDuration(value);
        if ('error' in parsed) throw decodeFailed(parsed.error.message);
        return;
      }
      if (typeof value !== 'number') throw bad();
      return;
    case 'any':
      return;
  }
}

/** Maps keys to canonical field names, refusing unknown ones as Go's DisallowUnknownFields does. */
export function normalise(raw: unknown, fields: GoFields, goType: string): Record<string, unknown> {
  if (raw === null) return {}; // Go leaves the zero value for null
  if (jsonKind(raw) !== 'object') {
    throw decodeFailed(`json: cannot unmarshal ${jsonKind(raw)} into Go value of type ${goType}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const field = fields[key.toLowerCase().replace(/_/g, '')];
    if (!field) throw decodeFailed(`json: unknown field ${JSON.stringify(key)}`);
    checkKind(value, field[1], field[0]);
    if (value !== null) out[field[0]] = value;
  }
  return out;
}

export function parseJson(text: string): unknown {
  if (text.trim() === '') throw decodeFailed('EOF');
  try {
    return JSON.parse(text);
  } catch {
    throw decodeFailed(goSyntaxError(text));
  }
}

/**
 * Go's encoding/json syntax error for the first offending character. Covers the common
 * cases (a bad key, a bad value, a missing comma or colon, truncated input).
 */
export function goSyntaxError(text: string): string {
  const stack: ('{' | '[')[] = [];
  let expect: 'value' | 'key-or-end' | 'key' | 'colon' | 'comma-or-end' = 'value';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    const bad = (context: string) => `invalid character ${quoteChar(c)} ${context}`;
    switch (expect) {
      case 'key-or-end':
      case 'key':
        if (c === '}' && expect === 'key-or-end') {
          stack.pop();
          expect = 'comma-or-end';
          break;
        }
        if (c !== '"') return bad('looking for beginning of object key string');
        i = skipString(text, i);
        if (i < 0) return 'unexpected EOF';
        expect = 'colon';
        break;
      case 'colon':
        if (c !== ':') return bad('after object key');
        expect = 'value';
        break;
      case 'comma-or-end': {
        const top = stack[stack.length - 1];
        if (top === undefined) return bad('after top-level value');
        if (c === ',') expect = top === '{' ? 'key' : 'value';
        else if ((c === '}' && top === '{') || (c === ']' && top === '[')) stack.pop();
        else return bad(top === '{' ? 'after object key:value pair' : 'after array element');
        break;
      }
      case 'value': {
        if (c === '{') {
          stack.push('{');
          expect = 'key-or-end';
        } else if (c === '[') {
          stack.push('[');
          expect = 'value';
          const next = text.slice(i + 1).trimStart();
          if (next.startsWith(']')) {
            i = text.indexOf(']', i + 1);
            stack.pop();
            expect = 'comma-or-end';
          }
        } else if (c === '"') {
          i = skipString(text, i);
          if (i < 0) return 'unexpected EOF';
          expect = 'comma-or-end';
        } else {
          const literal = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
          if (!literal) return bad('looking for beginning of value');
          i += literal[0].length - 1;
          expect = 'comma-or-end';
        }
        break;
      }
    }
  }
  return 'unexpected EOF';
}

/** Go's encoding/json quoteChar. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  return `'${JSON.stringify(c).slice(1, -1)}'`;
}

/** Index of the closing quote of the string starting at `start`, or -1. */
function skipString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i;
  }
  return -1;
}
