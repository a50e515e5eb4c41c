import type { Command } from 'commander';
import type { CliContext } from '../run.js';

/** Each command lives in its own file and registers itself here. */
export function registerCommands(_program: Command, _ctx: CliContext): void {
  // commands are added by their modules
}
