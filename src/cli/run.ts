import { isFarolError } from '../errors.js';
import { ExitCode, exitCodeFor, type ExitCodeValue } from './exit-codes.js';

/** Where a command writes: injectable so tests capture output without spawning a process. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Standard input as a stream (for --password-stdin). */
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** Whether stdin is an interactive terminal (prompts are only shown then). */
  isTTY: boolean;
}

export interface CliContext {
  io: CliIO;
  /** Set by --debug: print stack traces for errors. */
  debug: () => boolean;
  /** A command sets its exit code here; main() returns it. */
  setExitCode: (code: ExitCodeValue) => void;
}

/**
 * Turns an error into one line plus a hint. Expected conditions (FarolError) never print a
 * stack trace unless --debug is set.
 */
export function reportError(error: unknown, ctx: CliContext): ExitCodeValue {
  if (isFarolError(error)) {
    ctx.io.stderr(`farol: ${error.message}\n`);
    if (error.hint) ctx.io.stderr(`hint: ${error.hint}\n`);
    if (ctx.debug()) ctx.io.stderr(`${error.stack ?? ''}\n`);
    return exitCodeFor(error.code);
  }
  const message = error instanceof Error ? error.message : String(error);
  ctx.io.stderr(`farol: unexpected error: ${message}\n`);
  ctx.io.stderr(ctx.debug() ? `${(error as Error)?.stack ?? ''}\n` : 'hint: run again with --debug for details, and report it if it persists\n');
  return ExitCode.UNEXPECTED;
}

/** Wraps a command action so every error becomes an exit code instead of an unhandled rejection. */
export function action<Args extends unknown[]>(
  ctx: CliContext,
  fn: (...args: Args) => Promise<ExitCodeValue | void>,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      const code = await fn(...args);
      ctx.setExitCode(code ?? ExitCode.OK);
    } catch (error) {
      ctx.setExitCode(reportError(error, ctx));
    }
  };
}
