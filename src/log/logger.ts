import { pino, type Logger, type DestinationStream } from 'pino';
import { FarolError, systemErrorCode } from '../errors.js';
import { FileDestination, reopenLogFiles } from './file-destination.js';

export { reopenLogFiles, FileDestination, LOG_FILE_MODE } from './file-destination.js';
import { createRedactor } from './redact.js';

export type { Logger } from 'pino';

/**
 * Paths whose values never reach a log line. Redaction happens at the logger, so a
 * careless `log.info({ headers })` anywhere in the code still cannot leak a secret.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'hash',
  '*.hash',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'clientSecret',
  '*.clientSecret',
  'client_secret',
  '*.client_secret',
  'refreshToken',
  '*.refreshToken',
  'refresh_token',
  '*.refresh_token',
  'id_token',
  '*.id_token',
  'privateKey',
  '*.privateKey',
  'keyPem',
  '*.keyPem',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  'headers["x-consul-token"]',
  'req.headers["x-consul-token"]',
  'headers.cookie',
  'req.headers.cookie',
  'request.headers.cookie',
  'headers["proxy-authorization"]',
  'req.headers["proxy-authorization"]',
  'headers["set-cookie"]',
];

export interface LoggerOptions {
  /** Component name written on every line, e.g. "server" or "client". */
  name: string;
  /**
   * File to append JSON lines to; its folder is created. '-' writes to stdout (containers). Omit
   * to write to `destination` or stdout. A file that cannot be opened is a LOG_FILE_UNWRITABLE error.
   */
  file?: string;
  /** An explicit destination (tests pass an in-memory stream). */
  destination?: DestinationStream;
  level?: string;
}

export const REDACTED_CENSOR = '[REDACTED]';

/** Applied to every logged object and to child bindings (see redact.ts for why not pino's `redact`). */
export const redactSecrets = createRedactor(REDACTED_PATHS, REDACTED_CENSOR);

let lastTimeMs = Number.NaN;
let lastTime = '';

/** pino's isoTime, formatted once per millisecond: under load many lines share one. */
function isoTime(): string {
  const now = Date.now();
  if (now !== lastTimeMs) {
    lastTimeMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/**
 * A pino logger writing JSON lines. To a file, lines are batched (see FileDestination): they
 * reach the file within 100 ms of being logged, at the latest on exit; `logger.flush()` writes
 * them at once.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.FAROL_LOG_LEVEL ?? 'info';
  let destination: DestinationStream;
  if (options.destination) {
    destination = options.destination;
  } else if (options.file && options.file !== STDOUT) {
    destination = openLogFile(options.file);
  } else {
    destination = pino.destination({ dest: 1, sync: true });
  }
  const logger = pino(
    {
      name: options.name,
      level,
      formatters: { log: redactSecrets, bindings: redactSecrets },
      // Objects interpolated into the message (logger.info('%o', value)) are redacted too.
      hooks: {
        logMethod(args, method) {
          for (let i = 1; i < args.length; i += 1) {
            const arg: unknown = args[i];
            if (typeof arg === 'object' && arg !== null) args[i] = redactSecrets(arg);
          }
          method.apply(this, args);
        },
      },
      timestamp: isoTime,
      base: { pid: process.pid },
    },
    destination,
  );
  // pino applies formatters.bindings to the root's base only, not to child() bindings: redact
  // those here (children inherit this method, so grandchildren are covered too).
  const child = logger.child;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactSecrets(bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/** The log file name that means standard output. */
export const STDOUT = '-';

function openLogFile(file: string): FileDestination {
  try {
    return new FileDestination(file);
  } catch (error) {
    const code = systemErrorCode(error) ?? 'error';
    throw new FarolError('LOG_FILE_UNWRITABLE', `cannot open the log file ${file} for writing (${code})`, {
      hint: 'make its folder writable by this user, choose another path (--log-file / logFile), or write to stdout with --log-file -',
      details: { file, code },
      cause: error,
    });
  }
}

/** A logger that drops everything: the default for library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Reopens the process's log files on `signal` (default SIGHUP), the way logrotate expects after
 * renaming them (`postrotate kill -HUP <pid>`), and logs one line to the new file. Returns a
 * function that removes the handler. Other SIGHUP listeners (a service reload) are unaffected.
 */
export function reopenLogFilesOnSignal(opts: { logger?: Logger; signal?: NodeJS.Signals } = {}): () => void {
  const signal = opts.signal ?? 'SIGHUP';
  const handler = (): void => {
    const files = reopenLogFiles();
    if (files > 0) opts.logger?.info({ event: 'log_reopened', files, signal }, `received ${signal}: log files reopened`);
  };
  process.on(signal, handler);
  return () => {
    process.off(signal, handler);
  };
}
