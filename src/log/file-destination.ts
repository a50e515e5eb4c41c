import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Pending bytes that are written at once, without waiting for the flush timer. */
const MAX_PENDING_BYTES = 64 * 1024;
/** How long a line may wait in memory before it is written (with every line logged meanwhile). */
export const FLUSH_INTERVAL_MS = 100;

/**
 * A new log file is readable by its owner and group only (audit lines name users and addresses),
 * and the umask can only narrow that. A file that already exists keeps its mode: an operator who
 * chose one (or logrotate's `create 0640 user group`) is not overridden.
 */
export const LOG_FILE_MODE = 0o640;
/** A log folder Farol creates: owner and group only. */
export const LOG_DIR_MODE = 0o750;

/**
 * Appends log lines to a file in batches. A line is kept in memory and written, together with
 * every other line logged meanwhile, by one write(2) at most 100 ms later (an unref'd timer), or
 * at once when 64 KiB are pending.
 *
 * Why this rather than a write per line (pino.destination sync) or sonic-boom's asynchronous
 * mode: under load a service logs a line per request, and a write(2) per line cost more than
 * building the line; even one write per event-loop turn was ≈ 15% of a loaded instance's CPU
 * (a turn answers only a few requests). The writes stay synchronous, so there is never a write in
 * flight: lines keep their order; `flush()` (pino's logger.flush()), `end()`, `reopen()` (before
 * switching files) and the process's 'exit' (which also follows process.exit() and an uncaught
 * exception, so a fatal line is kept) write whatever is pending with one writeSync. Only a hard
 * kill (SIGKILL, a native crash) can lose the lines of the last 100 ms.
 */
export class FileDestination {
  readonly file: string;
  private fd: number;
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private failed = false;
  private readonly flushSoon = (): void => {
    this.timer = undefined;
    this.flushSync();
  };

  /** Opens (creating it and its folder) `file` for appending; throws if it cannot be opened. */
  constructor(file: string) {
    this.file = file;
    this.fd = openLogFile(file);
    open.add(this);
  }

  /**
   * Writes what is pending to the file open now, then opens `file` by its name again (creating it
   * when it was moved away) and writes there from now on: logrotate's rename-then-signal. Returns
   * false, keeping the old file, if the name cannot be opened (reported once on stderr).
   */
  reopen(): boolean {
    if (this.fd < 0) return false;
    this.flushSync();
    let fd: number;
    try {
      fd = openLogFile(this.file);
    } catch (error) {
      process.stderr.write(`farol: cannot reopen the log file ${this.file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); still writing to the file open before\n`);
      return false;
    }
    const old = this.fd;
    this.fd = fd;
    this.failed = false;
    try {
      closeSync(old);
    } catch {
      // already closed: nothing left to lose
    }
    return true;
  }

  /** Called by pino with one serialised line (newline included). Never throws. */
  write(line: string): boolean {
    if (this.fd < 0) return true;
    this.pending += line;
    if (this.pending.length >= MAX_PENDING_BYTES) this.flushSync();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.flushSoon, FLUSH_INTERVAL_MS);
      // the pending lines are written on exit anyway: the timer does not keep the process alive
      this.timer.unref();
    }
    return true;
  }

  /** Writes every pending line now. Never throws: a failed write is reported once on stderr. */
  flushSync(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === '' || this.fd < 0) return;
    const data = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    try {
      for (let offset = 0; offset < data.length; ) offset += writeSync(this.fd, data, offset);
      this.failed = false;
    } catch (error) {
      if (!this.failed) {
        this.failed = true;
        process.stderr.write(`farol: cannot write the log file ${this.file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); log lines are being lost\n`);
      }
    }
  }

  /** pino's logger.flush(cb) calls this: the lines are in the file when cb runs. */
  flush(cb?: (error?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  /** Flushes and closes the file; later lines are dropped. */
  end(): void {
    if (this.fd < 0) return;
    this.flushSync();
    open.delete(this);
    try {
      closeSync(this.fd);
    } catch {
      // already closed: nothing left to lose
    }
    this.fd = -1;
  }
}

function openLogFile(file: string): number {
  mkdirSync(dirname(file), { recursive: true, mode: LOG_DIR_MODE });
  return openSync(file, 'a', LOG_FILE_MODE);
}

const open = new Set<FileDestination>();
process.on('exit', () => {
  for (const destination of open) destination.flushSync();
});

/** Reopens every log file this process writes (see FileDestination.reopen); returns how many were reopened. */
export function reopenLogFiles(): number {
  let reopened = 0;
  for (const destination of open) if (destination.reopen()) reopened += 1;
  return reopened;
}
