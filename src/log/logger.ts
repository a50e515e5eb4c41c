import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger, type DestinationStream } from 'pino';

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
  'privateKey',
  '*.privateKey',
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
];

export interface LoggerOptions {
  /** Component name written on every line, e.g. "server" or "client". */
  name: string;
  /** File to append JSON lines to; its folder is created. Omit to write to `destination` or stdout. */
  file?: string;
  /** An explicit destination (tests pass an in-memory stream). */
  destination?: DestinationStream;
  level?: string;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.FAROL_LOG_LEVEL ?? 'info';
  let destination: DestinationStream;
  if (options.destination) {
    destination = options.destination;
  } else if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    destination = pino.destination({ dest: options.file, append: true, mkdir: true, sync: true });
  } else {
    destination = pino.destination({ dest: 1, sync: true });
  }
  return pino(
    {
      name: options.name,
      level,
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    destination,
  );
}

/** A logger that drops everything: the default for library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
