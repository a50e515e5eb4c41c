import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../files/write-atomic.js';
import { FarolError, systemErrorCode } from '../errors.js';
import { hashPassword } from './password-hash.js';
import {
  assertValidUserName,
  formatUsersFile,
  parseUsersFileLines,
  removeUserLine,
  upsertUserLine,
  usersDbFromLines,
  type UsersDb,
  type UsersFileLine,
} from './users-file.js';

const FILE_MODE = 0o600;

function fileError(operation: 'read' | 'write', path: string, error: unknown): FarolError {
  const code = systemErrorCode(error);
  const ownerHint = `check the owner and mode of ${path} and its folder; farol writes the file with mode 0600`;
  switch (code) {
    case 'ENOENT':
      return operation === 'read'
        ? new FarolError('USERS_FILE_UNREADABLE', `users file ${path} does not exist`, {
            hint: `create it with \`farol users add NAME --file ${path}\``,
            cause: error,
          })
        : new FarolError('USERS_FILE_UNREADABLE', `cannot write users file ${path}: its folder does not exist`, {
            hint: `create the folder ${dirname(path)} first, or pass another path with --file`,
            cause: error,
          });
    case 'EACCES':
    case 'EPERM':
      return new FarolError('USERS_FILE_UNREADABLE', `permission denied to ${operation} users file ${path}`, { hint: ownerHint, cause: error });
    case 'EISDIR':
      return new FarolError('USERS_FILE_UNREADABLE', `users file ${path} is a directory`, { hint: 'pass the path of a file', cause: error });
    default:
      return new FarolError('USERS_FILE_UNREADABLE', `cannot ${operation} users file ${path} (${code ?? String(error)})`, {
        hint: ownerHint,
        cause: error,
      });
  }
}

async function readLines(path: string, options: { missingIsEmpty: boolean }): Promise<UsersFileLine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (options.missingIsEmpty && systemErrorCode(error) === 'ENOENT') return [];
    throw fileError('read', path, error);
  }
  return parseUsersFileLines(text, path);
}

/** Replaces the file in one step (temp file in the same folder, then rename), so readers never see half a file. */
async function writeAtomically(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text, FILE_MODE);
  } catch (error) {
    throw fileError('write', path, error);
  }
}

/** The text of a users file, unparsed. USERS_FILE_UNREADABLE (with a hint) if it cannot be read. */
export async function readUsersFileText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw fileError('read', path, error);
  }
}

/** Reads and validates a users file. USERS_FILE_UNREADABLE if it cannot be read, USERS_FILE_INVALID naming a bad line. */
export async function readUsersFile(path: string): Promise<UsersDb> {
  return usersDbFromLines(await readLines(path, { missingIsEmpty: false }));
}

/**
 * Sets a user's password, creating the file (mode 0600) if needed. Comments, blank lines and
 * the order of users are kept. Refuses to touch a file it cannot parse. Concurrent writers to
 * the same file are not coordinated: the last rename wins.
 */
export async function addUser(path: string, name: string, password: string): Promise<'added' | 'updated'> {
  assertValidUserName(name);
  if (password === '') throw new FarolError('PASSWORD_REQUIRED', 'an empty password is not allowed', { hint: 'choose a non-empty password' });
  const hash = await hashPassword(password);
  const { lines, change } = upsertUserLine(await readLines(path, { missingIsEmpty: true }), name, hash);
  await writeAtomically(path, formatUsersFile(lines));
  return change;
}

/** Removes a user; USER_NOT_FOUND if the file has no such user. */
export async function removeUser(path: string, name: string): Promise<void> {
  const lines = await readLines(path, { missingIsEmpty: false });
  const kept = removeUserLine(lines, name);
  if (!kept) {
    const names = usersDbFromLines(lines).names();
    const listed = names.length === 0 ? 'the file has no users' : `the file has: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, and ${names.length - 10} more` : ''}`;
    throw new FarolError('USER_NOT_FOUND', `user ${JSON.stringify(name)} is not in users file ${path}`, {
      hint: `${listed} (names are case-sensitive)`,
    });
  }
  await writeAtomically(path, formatUsersFile(kept));
}
