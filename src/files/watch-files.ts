import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { systemErrorCode } from '../errors.js';
import { clampTimerDelay } from '../timers/long-timeout.js';

export interface WatchFilesOptions {
  /** Wait after the first notice before calling onChange, so the several writes of one save make one call. */
  debounceMs: number;
  /** How often the files' stat (device, inode, size, times) is compared with the last mark. */
  pollIntervalMs: number;
  /** Also use fs.watch (default true); false leaves the poll alone. */
  fsWatch?: boolean;
  /** A folder could not be watched (no inotify, folder gone): the poll carries on alone. */
  onWatchUnavailable?: (folder: string, error: unknown) => void;
}

export interface FileWatch {
  /** The files, as absolute paths. */
  readonly files: readonly string[];
  /**
   * Records the files as they are now. Call it just BEFORE reading them: a write after the mark
   * differs from it, so it is noticed even if it lands while the read is under way.
   */
  mark(): Promise<void>;
  close(): void;
}

/** What identifies one version of a file on disk; an error code when there is none. */
async function signature(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (error) {
    return `error:${systemErrorCode(error) ?? 'unknown'}`;
  }
}

async function signatures(files: readonly string[]): Promise<Map<string, string>> {
  return new Map(await Promise.all(files.map(async (file): Promise<[string, string]> => [file, await signature(file)])));
}

function namesByFolder(files: readonly string[]): Map<string, Set<string>> {
  const folders = new Map<string, Set<string>>();
  for (const file of files) {
    const names = folders.get(dirname(file)) ?? new Set<string>();
    names.add(basename(file));
    folders.set(dirname(file), names);
  }
  return folders;
}

/**
 * Calls `onChange` (debounced) when any of `files` may have changed: rewritten in place, replaced
 * by a rename (what editors, `mv`, configuration tools and Farol's own writers do), deleted or
 * created again.
 *
 * Two ways of noticing, because neither is enough alone: fs.watch on each file's FOLDER, filtered
 * by name (a watch on the file itself follows the old inode and goes deaf after the first
 * rename), which is immediate where inotify works; and a stat poll, for network and container
 * filesystems where fs.watch sees nothing (a Kubernetes secret is a symlink retargeted). The poll
 * compares with the last mark(), so it keeps noticing until the consumer has read the change.
 * Written by hand: chokidar would add a dependency for the same two mechanisms. Everything is
 * unref'd: a watch never keeps the process alive.
 */
export async function watchFiles(files: readonly string[], onChange: () => void, opts: WatchFilesOptions): Promise<FileWatch> {
  const absolute = [...new Set(files.map((file) => resolve(file)))];
  const marked = await signatures(absolute);
  let closed = false;

  let debounce: NodeJS.Timeout | undefined;
  const notice = (): void => {
    if (closed || debounce !== undefined) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!closed) onChange();
    }, clampTimerDelay(opts.debounceMs));
    debounce.unref();
  };

  const watchers: FSWatcher[] = [];
  if (opts.fsWatch !== false) {
    for (const [folder, names] of namesByFolder(absolute)) {
      try {
        const watcher = watch(folder, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name.toString())) notice();
        });
        watcher.on('error', (error) => {
          watcher.close();
          opts.onWatchUnavailable?.(folder, error);
        });
        watchers.push(watcher);
      } catch (error) {
        opts.onWatchUnavailable?.(folder, error);
      }
    }
  }

  let polling = false;
  const poll = setInterval(() => {
    if (polling || closed) return;
    polling = true;
    void signatures(absolute)
      .then((now) => {
        if (absolute.some((file) => now.get(file) !== marked.get(file))) notice();
      })
      .finally(() => {
        polling = false;
      });
  }, Math.max(1, clampTimerDelay(opts.pollIntervalMs)));
  poll.unref();

  return {
    files: absolute,
    async mark() {
      for (const [file, current] of await signatures(absolute)) marked.set(file, current);
    },
    close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(debounce);
      debounce = undefined;
      for (const watcher of watchers) watcher.close();
      watchers.length = 0;
    },
  };
}
