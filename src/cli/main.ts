import { Command, CommanderError } from 'commander';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import type { CliContext, CliIO } from './run.js';
import { registerCommands } from './commands/index.js';

export function defaultIO(): CliIO {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stdin: process.stdin,
    env: process.env,
    isTTY: Boolean(process.stdin.isTTY),
  };
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('farol')
    .description('Find services through Consul and call them over verified TLS')
    .option('--debug', 'print stack traces for errors')
    .exitOverride()
    .configureOutput({ writeOut: ctx.io.stdout, writeErr: ctx.io.stderr })
    .showHelpAfterError('(run with --help for usage)');
  registerCommands(program, ctx);
  return program;
}

/** Runs the CLI and resolves with the exit code; never throws. */
export async function main(argv: string[], io: CliIO = defaultIO()): Promise<ExitCodeValue> {
  let exitCode: ExitCodeValue = ExitCode.OK;
  const ctx: CliContext = {
    io,
    debug: () => argv.includes('--debug'),
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    throw error;
  }
  return exitCode;
}
