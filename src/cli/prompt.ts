import { FarolError } from '../errors.js';
import type { CliIO } from './run.js';

/** Reads all of standard input (for --password-stdin), without the trailing newline. */
export async function readAllStdin(io: CliIO): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Asks for a secret on the terminal without echoing it. Refuses when stdin is not a
 * terminal, so a script never hangs waiting for a prompt nobody sees.
 */
export async function promptSecret(io: CliIO, label: string, hint: string): Promise<string> {
  if (!io.isTTY) {
    throw new FarolError('PASSWORD_REQUIRED', `${label} is required and standard input is not a terminal`, { hint });
  }
  const stdin = io.stdin as NodeJS.ReadStream;
  io.stderr(`${label}: `);
  stdin.setRawMode?.(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: string): void => {
        for (const char of chunk) {
          if (char === '\r' || char === '\n' || char === '\u0004') {
            stdin.off('data', onData);
            io.stderr('\n');
            resolve(value);
            return;
          }
          if (char === '\u0003') {
            stdin.off('data', onData);
            io.stderr('\n');
            reject(new FarolError('PASSWORD_REQUIRED', 'cancelled at the password prompt', { hint }));
            return;
          }
          if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
          else value += char;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode?.(false);
    stdin.pause();
  }
}
