import { FarolError } from '../errors.js';
import { parseEncodedHash } from './password-hash.js';

/**
 * The users file format, as pure functions: one `NAME:HASH` per line (HASH as written by
 * hashPassword), blank lines and `#` comment lines allowed. Reading and writing the file lives
 * in users-store.ts.
 */
export interface UsersDb {
  /** The encoded password hash of a user, or undefined if there is no such user. */
  lookup(name: string): string | undefined;
  names(): string[];
}

export type UsersFileLine = { kind: 'user'; name: string; hash: string } | { kind: 'text'; text: string };

export const MAX_USER_NAME_LENGTH = 128;

export const USER_NAME_RULE = `a user name is 1 to ${MAX_USER_NAME_LENGTH} characters without ":", whitespace or control characters, and does not start with "#"`;

/** Why `name` cannot be a user name, or undefined if it can. */
export function userNameProblem(name: string): string | undefined {
  if (name === '') return 'the user name is empty';
  if ([...name].length > MAX_USER_NAME_LENGTH) return `the user name is longer than ${MAX_USER_NAME_LENGTH} characters`;
  if (name.includes(':')) return 'the user name contains ":"';
  if (/[\s\p{Cc}\p{Cs}]/u.test(name)) return 'the user name contains whitespace or a control character';
  if (name.startsWith('#')) return 'the user name starts with "#"';
  return undefined;
}

/** Throws CONFIG_INVALID if `name` cannot be a user name. */
export function assertValidUserName(name: string): void {
  const problem = userNameProblem(name);
  if (problem) throw new FarolError('CONFIG_INVALID', `invalid user name: ${problem}`, { hint: USER_NAME_RULE });
}

export function createUsersDb(entries: Iterable<readonly [string, string]>): UsersDb {
  const hashes = new Map(entries);
  return {
    lookup: (name) => hashes.get(name),
    names: () => [...hashes.keys()],
  };
}

function invalidLine(fileName: string, lineNumber: number, problem: string): FarolError {
  return new FarolError('USERS_FILE_INVALID', `users file ${fileName} line ${lineNumber}: ${problem}`, {
    hint: `each line is NAME:HASH as written by \`farol users add NAME --file ${fileName}\`; blank lines and lines starting with # are ignored`,
    details: { file: fileName, line: lineNumber },
  });
}

/**
 * Splits a users file into lines, validating every user line. Throws USERS_FILE_INVALID naming
 * the first bad line. Error messages never quote a line, in case someone pasted a password there.
 */
export function parseUsersFileLines(text: string, fileName: string): UsersFileLine[] {
  const rawLines = text.replace(/^\uFEFF/, '').split('\n');
  if (rawLines.at(-1) === '') rawLines.pop();
  const seen = new Map<string, number>();
  return rawLines.map((raw, index): UsersFileLine => {
    const lineNumber = index + 1;
    const line = raw.replace(/\r$/, '');
    const content = line.trim();
    if (content === '' || content.startsWith('#')) return { kind: 'text', text: line };
    const colon = content.indexOf(':');
    if (colon === -1) throw invalidLine(fileName, lineNumber, 'expected NAME:HASH');
    const name = content.slice(0, colon);
    const hash = content.slice(colon + 1);
    const nameProblem = userNameProblem(name);
    if (nameProblem) throw invalidLine(fileName, lineNumber, nameProblem);
    if (!parseEncodedHash(hash)) {
      throw invalidLine(fileName, lineNumber, `the password hash of ${JSON.stringify(name)} is not a $scrypt$ hash within the accepted cost limits`);
    }
    const firstLine = seen.get(name);
    if (firstLine !== undefined) throw invalidLine(fileName, lineNumber, `user ${JSON.stringify(name)} is already defined on line ${firstLine}`);
    seen.set(name, lineNumber);
    return { kind: 'user', name, hash };
  });
}

export function usersDbFromLines(lines: UsersFileLine[]): UsersDb {
  return createUsersDb(lines.flatMap((line) => (line.kind === 'user' ? [[line.name, line.hash] as const] : [])));
}

/** Parses a users file's text into a UsersDb; throws USERS_FILE_INVALID naming the line. */
export function parseUsersFile(text: string, fileName: string): UsersDb {
  return usersDbFromLines(parseUsersFileLines(text, fileName));
}

export function formatUsersFile(lines: UsersFileLine[]): string {
  return lines.map((line) => (line.kind === 'user' ? `${line.name}:${line.hash}` : line.text)).join('\n') + (lines.length > 0 ? '\n' : '');
}

/** Sets a user's hash in place, or appends the user. */
export function upsertUserLine(lines: UsersFileLine[], name: string, hash: string): { lines: UsersFileLine[]; change: 'added' | 'updated' } {
  const index = lines.findIndex((line) => line.kind === 'user' && line.name === name);
  if (index === -1) return { lines: [...lines, { kind: 'user', name, hash }], change: 'added' };
  return { lines: lines.map((line, i) => (i === index ? { kind: 'user', name, hash } : line)), change: 'updated' };
}

/** The lines without the user, or undefined if the user is not there. */
export function removeUserLine(lines: UsersFileLine[], name: string): UsersFileLine[] | undefined {
  const kept = lines.filter((line) => !(line.kind === 'user' && line.name === name));
  return kept.length === lines.length ? undefined : kept;
}
