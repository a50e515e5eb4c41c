import type { Command, CommanderError } from 'commander';
import { FarolError } from '../errors.js';

/** `farol certs init`: the words a user types to reach a command. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * A commander parse error (unknown option, missing argument, a value its parser refused...) as
 * the FarolError every other CLI error is, so it prints as `farol: <message>` + `hint: <hint>`.
 * Commander only gives its English sentence, so the sentence is kept and its "Did you mean"
 * suggestion moves into the hint.
 */
export function usageError(error: CommanderError, command: Command): FarolError {
  const [sentence = '', ...rest] = error.message.replace(/^error: /, '').split('\n');
  const suggestion = /^\(Did you mean (.+)\?\)$/.exec(rest.join(' ').trim())?.[1];
  const path = commandPath(command);
  const help = `${path} --help`;
  let hint: string;
  switch (error.code) {
    case 'commander.unknownCommand':
    case 'commander.missingCommand':
      hint = `${suggestion ? `did you mean ${suggestion}? ` : ''}${help} lists the commands`;
      break;
    case 'commander.unknownOption':
      hint = `${suggestion ? `did you mean ${suggestion}? ` : ''}${help} lists the flags`;
      break;
    case 'commander.missingArgument':
    case 'commander.excessArguments':
      hint = `usage: ${path} ${command.usage()}`;
      break;
    default:
      hint = `${help} describes every flag`;
  }
  const message = sentence.replace(/\.$/, '').replace(/ is invalid\. /, ' is invalid: ');
  return new FarolError('CONFIG_INVALID', message, { hint, cause: error });
}
