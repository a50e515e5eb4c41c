import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { FarolError, systemErrorCode } from '../errors.js';
import { watchFiles } from '../files/watch-files.js';
import { channels, eventError, type EventOwner } from '../events/channels.js';
import { componentEvents } from '../events/owner.js';
import type { Logger } from '../log/logger.js';
import { parseUsersFile, type UsersDb } from './users-file.js';
import { readUsersFileText } from './users-store.js';

/** What a reload changed: the new generation, how many users there are, and who lost access. */
export interface UsersChange {
  generation: number;
  users: number;
  /** Users removed, or whose password changed: whatever was trusted for them no longer holds. */
  revoked: string[];
}

export type ReloadOutcome =
  | { status: 'reloaded'; generation: number; users: number; revoked: string[] }
  /** The file holds what was loaded already (or the source is closed). */
  | { status: 'unchanged'; generation: number; users: number }
  /** The file could not be read or does not parse: the last good users are kept. */
  | { status: 'kept'; generation: number; users: number; error: FarolError };

/** A users db that follows its file: every lookup sees the users of the last good version. */
export interface UsersSource extends UsersDb {
  readonly file: string;
  /** Starts at 0; goes up by one each time a reload changes the users. */
  readonly generation: number;
  /** Calls `listener` after each reload that changed the users; returns a function that unsubscribes. */
  onChange(listener: (change: UsersChange) => void): () => void;
  /** Reads the file now (SIGHUP). Never rejects: a bad file is reported in the outcome (and logged once). */
  reload(): Promise<ReloadOutcome>;
  /** Stops watching; lookups keep answering with the last users. */
  close(): void;
}

export interface WatchUsersFileOptions {
  /** Where reloads (info) and a bad new file (one error per distinct problem) are logged, for a source made on its own. */
  logger?: Logger;
  /** The owner to publish events under (the service that made the source); its logger writes the lines. */
  events?: EventOwner;
  /** Called after every reload, whatever its outcome. */
  onReload?: (outcome: ReloadOutcome) => void;
  /** Wait after a change event before reading, so an editor's several writes make one reload. Default 100 ms. */
  debounceMs?: number;
  /** How often the file's stat (inode, size, times) is compared, for filesystems where fs.watch misses changes. Default 1 s. */
  pollIntervalMs?: number;
  /** Also use fs.watch (default true); false leaves the poll alone, as on filesystems where watching sees nothing. */
  fsWatch?: boolean;
}

export const USERS_RELOAD_DEBOUNCE_MS = 100;
export const USERS_RELOAD_POLL_MS = 1000;

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64');
}

function revokedUsers(before: UsersDb, after: UsersDb): string[] {
  return before.names().filter((name) => after.lookup(name) !== before.lookup(name));
}

/**
 * Loads a users file and keeps following it (watchFiles: folder watch + stat poll): a change is
 * picked up within about a second, whether the file is rewritten in place, replaced by a rename
 * (what `farol users`, editors and configuration tools do) or deleted and recreated. A notice
 * only schedules a read; reads never overlap, and one that finds the text it already has changes
 * nothing.
 *
 * A new version that cannot be read or does not parse keeps the last good users (nobody is
 * locked out, nobody removed gets in again) and logs one error; the same problem is not logged
 * again until the file changes. The first load throws instead (USERS_FILE_UNREADABLE or
 * USERS_FILE_INVALID), so a service never starts on a bad file.
 */
export async function watchUsersFile(path: string, opts: WatchUsersFileOptions = {}): Promise<UsersSource> {
  const debounceMs = opts.debounceMs ?? USERS_RELOAD_DEBOUNCE_MS;
  const pollIntervalMs = opts.pollIntervalMs ?? USERS_RELOAD_POLL_MS;
  for (const [name, value] of [['debounceMs', debounceMs], ['pollIntervalMs', pollIntervalMs]] as const) {
    if (!Number.isFinite(value) || value < 0 || value > 2 ** 31 - 1) {
      throw new FarolError('CONFIG_INVALID', `invalid users file option ${name}: ${value}`, { hint: 'give milliseconds from 0 to 2147483647' });
    }
  }

  // Followed by its absolute path from now on: a later chdir does not change which file it is.
  const absolute = resolve(path);
  const events = componentEvents('users', absolute, opts);
  // Watching starts (and marks the file) before the first read, so no write between them is missed;
  // a notice that comes before the reloader exists is noticed again by the next poll.
  const onFileChange = { reload: (): void => undefined };
  const fileWatch = await watchFiles([absolute], () => onFileChange.reload(), {
    debounceMs,
    pollIntervalMs,
    ...(opts.fsWatch === undefined ? {} : { fsWatch: opts.fsWatch }),
    onWatchUnavailable: (_folder, error) => {
      if (!channels.usersFailed.hasSubscribers) return;
      const code = systemErrorCode(error) ?? String(error);
      channels.usersFailed.publish({ owner: events.owner, file: path, stage: 'watch', error: { code, message: code }, pollIntervalMs });
    },
  });
  let text: string;
  let db: UsersDb;
  try {
    text = await readUsersFileText(path);
    db = parseUsersFile(text, path);
  } catch (error) {
    fileWatch.close();
    events.close();
    throw error;
  }
  let generation = 0;
  /** The problem last logged, so a bad file is reported once and not at every poll. */
  let loggedProblem: string | undefined;
  let closed = false;
  const listeners = new Set<(change: UsersChange) => void>();

  const readAndSwap = async (): Promise<ReloadOutcome> => {
    await fileWatch.mark();
    let newText: string | undefined;
    let newDb: UsersDb;
    try {
      newText = await readUsersFileText(absolute);
      if (newText === text) {
        loggedProblem = undefined;
        return { status: 'unchanged', generation, users: db.names().length };
      }
      newDb = parseUsersFile(newText, path);
    } catch (error) {
      const farolError = error instanceof FarolError
        ? error
        : new FarolError('USERS_FILE_UNREADABLE', `cannot read users file ${path}`, { cause: error });
      const users = db.names().length;
      const problem = newText === undefined ? `unreadable:${farolError.message}` : `invalid:${digest(newText)}`;
      if (problem !== loggedProblem && !closed) {
        loggedProblem = problem;
        if (channels.usersFailed.hasSubscribers) {
          channels.usersFailed.publish({
            owner: events.owner,
            file: path,
            stage: 'reload',
            error: { code: farolError.code, message: farolError.message, hint: farolError.hint },
            usersKept: users,
          });
        }
      }
      return { status: 'kept', generation, users, error: farolError };
    }
    const revoked = revokedUsers(db, newDb);
    text = newText;
    db = newDb;
    generation += 1;
    loggedProblem = undefined;
    const users = newDb.names().length;
    if (channels.usersReloaded.hasSubscribers) {
      channels.usersReloaded.publish({ owner: events.owner, file: path, users, generation, revoked: revoked.length });
    }
    const change: UsersChange = { generation, users, revoked };
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        if (channels.usersFailed.hasSubscribers) channels.usersFailed.publish({ owner: events.owner, file: path, stage: 'listener', error: eventError(error) });
      }
    }
    return { status: 'reloaded', generation, users, revoked };
  };

  // One read at a time; requests made during a read share one more read after it.
  let running: Promise<ReloadOutcome> | undefined;
  let queued: Promise<ReloadOutcome> | undefined;
  const start = (): Promise<ReloadOutcome> => {
    const current: Promise<ReloadOutcome> = readAndSwap()
      .then((outcome) => {
        opts.onReload?.(outcome);
        return outcome;
      })
      .finally(() => {
        if (running === current) running = undefined;
      });
    running = current;
    return current;
  };
  const reload = (): Promise<ReloadOutcome> => {
    if (closed) return Promise.resolve({ status: 'unchanged', generation, users: db.names().length });
    if (queued !== undefined) return queued;
    if (running === undefined) return start();
    const next = running.then(() => {
      queued = undefined;
      return start();
    });
    queued = next;
    return next;
  };

  onFileChange.reload = () => void reload();

  return {
    file: path,
    get generation() {
      return generation;
    },
    lookup: (user) => db.lookup(user),
    names: () => db.names(),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    reload,
    close() {
      closed = true;
      fileWatch.close();
      listeners.clear();
      events.close();
    },
  };
}
