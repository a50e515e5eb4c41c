/**
 * The parts of Go's strconv that go-bexpr's texts and values go through: Quote (for %q in error
 * texts), Unquote (string literals), ParseInt(s, 0, 64) and ParseBool (value coercion), with Go's
 * error texts. Written here because no JavaScript library reproduces Go's exact rules and messages.
 */

/** strconv.Quote: a double-quoted Go string literal (printable runes kept, the rest escaped). */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp === 0x07) out += '\\a';
    else if (cp === 0x08) out += '\\b';
    else if (cp === 0x0c) out += '\\f';
    else if (cp === 0x0a) out += '\\n';
    else if (cp === 0x0d) out += '\\r';
    else if (cp === 0x09) out += '\\t';
    else if (cp === 0x0b) out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0xfffd && ch === '\ufffd') out += ch;
    else if (isPrintable(cp)) out += ch;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

function isPrintable(cp: number): boolean {
  // Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
  return /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(String.fromCodePoint(cp));
}

export class GoSyntaxError extends Error {
  constructor() {
    super('invalid syntax');
  }
}

/**
 * strconv.Unquote of a `...` or "..." literal (the only forms go-bexpr's grammar passes it).
 * Go's \x and octal escapes make bytes; bytes that are not UTF-8 become U+FFFD here.
 */
export function goUnquote(literal: string): string {
  const quote = literal[0];
  if (literal.length < 2 || literal[literal.length - 1] !== quote) throw new GoSyntaxError();
  const body = literal.slice(1, -1);
  if (quote === '`') {
    if (body.includes('`')) throw new GoSyntaxError();
    return body.replaceAll('\r', '');
  }
  if (quote !== '"') throw new GoSyntaxError();
  if (body.includes('\n')) throw new GoSyntaxError();
  if (!body.includes('\\') && !body.includes('"')) return body;
  const bytes: number[] = [];
  const pushRune = (cp: number): void => {
    bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  };
  const chars = [...body];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '"') throw new GoSyntaxError();
    if (ch !== '\\') {
      pushRune(ch.codePointAt(0)!);
      continue;
    }
    const esc = chars[++i];
    if (esc === undefined) throw new GoSyntaxError();
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34 };
    if (esc in simple) {
      bytes.push(simple[esc]!);
      continue;
    }
    if (esc === 'x' || esc === 'u' || esc === 'U') {
      const width = esc === 'x' ? 2 : esc === 'u' ? 4 : 8;
      const digits = chars.slice(i + 1, i + 1 + width).join('');
      if (digits.length !== width || !/^[0-9a-fA-F]+$/.test(digits)) throw new GoSyntaxError();
      i += width;
      const value = parseInt(digits, 16);
      if (esc === 'x') bytes.push(value);
      else if (value > 0x10ffff || (value >= 0xd800 && value < 0xe000)) throw new GoSyntaxError();
      else pushRune(value);
      continue;
    }
    if (esc >= '0' && esc <= '7') {
      const digits = chars.slice(i, i + 3).join('');
      if (!/^[0-7]{3}$/.test(digits)) throw new GoSyntaxError();
      const value = parseInt(digits, 8);
      if (value > 255) throw new GoSyntaxError();
      bytes.push(value);
      i += 2;
      continue;
    }
    throw new GoSyntaxError();
  }
  return Buffer.from(bytes).toString('utf8');
}

/** strconv.ParseInt(text, 0, 64): base prefixes 0x/0o/0b/0 and underscores after a prefix. */
export function goParseInt(text: string): bigint {
  const fail = (reason: string): never => {
    throw new Error(`strconv.ParseInt: parsing ${goQuote(text)}: ${reason}`);
  };
  let s = text;
  let negative = false;
  if (s.startsWith('+') || s.startsWith('-')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '') fail('invalid syntax');
  let base = 10;
  if (s[0] === '0' && s.length > 1) {
    const p = s[1]!.toLowerCase();
    if (p === 'x' || p === 'o' || p === 'b') {
      base = p === 'x' ? 16 : p === 'o' ? 8 : 2;
      s = s.slice(2);
    } else {
      base = 8;
      s = s.slice(1);
    }
  }
  if (s.includes('_') && !underscoreOk(text.replace(/^[+-]/, ''))) fail('invalid syntax');
  const digits = s.replaceAll('_', '');
  if (digits === '') fail('invalid syntax');
  const valid = { 2: /^[01]*$/, 8: /^[0-7]*$/, 10: /^[0-9]*$/, 16: /^[0-9a-fA-F]*$/ }[base]!;
  if (!valid.test(digits)) fail('invalid syntax');
  let value = 0n;
  for (const d of digits) value = value * BigInt(base) + BigInt(parseInt(d, base));
  if (negative) value = -value;
  if (value > 9223372036854775807n || value < -9223372036854775808n) fail('value out of range');
  return value;
}

/** Go's underscoreOK: underscores only between digits or after a base prefix, and only with a prefix. */
function underscoreOk(s: string): boolean {
  let saw = '^';
  let i = 0;
  let hex = false;
  if (s.length >= 2 && s[0] === '0') {
    const p = s[1]!.toLowerCase();
    if (p === 'x' || p === 'o' || p === 'b') {
      i = 2;
      saw = '0';
      hex = p === 'x';
    }
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** strconv.ParseBool. */
export function goParseBool(text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuote(text)}: invalid syntax`);
}
