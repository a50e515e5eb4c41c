import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.js';

/** A line the logger wrote, parsed: pino's level number, the event name, the message and any other field. */
export interface LoggedLine {
  level: number;
  event: string;
  msg: string;
  [field: string]: unknown;
}

/** A real pino logger (Farol's, redaction included) that writes to memory, for tests that read what was logged. */
export function memoryLogger(name = 'test'): { logger: Logger; lines: () => LoggedLine[]; events: () => string[] } {
  let text = '';
  const logger = createLogger({
    name,
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    }),
  });
  const lines = (): LoggedLine[] => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LoggedLine);
  return { logger, lines, events: () => lines().map((line) => line.event) };
}
