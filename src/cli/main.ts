import { Command, CommanderError } from 'commander';
import { farolVersion } from '../service/version.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { helpConfiguration } from './help.js';
import { reportError, type CliContext, type CliIO } from './run.js';
import { registerCommands } from './commands/index.js';
import { usageError } from './usage-error.js';

export function defaultIO(): CliIO {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stdin: process.stdin,
    env: process.env,
    isTTY: Boolean(process.stdin.isTTY),
  };
}

/** Commander's own end of a parse (help shown, version printed, a parse error), with the command it happened in. */
class ParseEnded extends Error {
  constructor(
    readonly commanderError: CommanderError,
    readonly command: Command,
  ) {
    super(commanderError.message);
  }
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('farol')
    .description('Find services through Consul and call them over verified TLS')
    .version(farolVersion(), '-V, --version', 'print the version of farol')
    .option('--debug', 'print stack traces for errors')
    .configureHelp(helpConfiguration())
    // Commander's own "error: ..." line is replaced by the one format of every CLI error (main()).
    .configureOutput({ writeOut: ctx.io.stdout, writeErr: ctx.io.stderr, outputError: () => undefined });
  registerCommands(program, ctx);
  const endParseIn = (command: Command): void => {
    command.exitOverride((error) => {
      throw new ParseEnded(error, command);
    });
    for (const sub of command.commands) endParseIn(sub);
  };
  endParseIn(program);
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
  try {
    await buildProgram(ctx).parseAsync(argv);
  } catch (error) {
    if (error instanceof ParseEnded) {
      const { commanderError, command } = error;
      if (commanderError.exitCode === 0) return ExitCode.OK; // --help, --version
      if (commanderError.code === 'commander.help') {
        // `farol` or `farol certs` alone: the help went to stderr; say why it is there.
        io.stderr('\n');
        return reportError(usageErrorForMissingCommand(command), ctx);
      }
      return reportError(usageError(commanderError, command), ctx);
    }
    return reportError(error, ctx);
  }
  return exitCode;
}

function usageErrorForMissingCommand(command: Command): ReturnType<typeof usageError> {
  return usageError(new CommanderError(1, 'commander.missingCommand', `error: '${command.name()}' needs a command`), command);
}
