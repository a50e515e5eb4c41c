import type { Command } from 'commander';
import type { CliContext } from '../run.js';
import { registerCallCommand } from './call.js';
import { registerCertsCommand } from './certs.js';
import { registerDemoCommand } from './demo.js';
import { registerInstancesCommand } from './instances.js';
import { registerRegistryCommand } from './registry.js';
import { registerServeCommand } from './serve.js';
import { registerUsersCommand } from './users.js';

/** Each command lives in its own file and registers itself here. */
export function registerCommands(program: Command, ctx: CliContext): void {
  registerCertsCommand(program, ctx);
  registerUsersCommand(program, ctx);
  registerServeCommand(program, ctx);
  registerCallCommand(program, ctx);
  registerInstancesCommand(program, ctx);
  registerDemoCommand(program, ctx);
  registerRegistryCommand(program, ctx);
}
