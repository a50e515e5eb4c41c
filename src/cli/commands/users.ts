import type { Command } from 'commander';
import { optionWithDescribedDefault } from '../help.js';
import { addUser, assertValidUserName, readUsersFile, removeUser } from '../../auth/index.js';
import { FarolError } from '../../errors.js';
import { ExitCode } from '../exit-codes.js';
import { promptSecret, readAllStdin } from '../prompt.js';
import { action, type CliContext } from '../run.js';

const DEFAULT_USERS_FILE = 'users.txt';

function usersFilePath(ctx: CliContext, flag: string | undefined): string {
  return flag ?? ctx.io.env.FAROL_USERS_FILE ?? DEFAULT_USERS_FILE;
}

async function readNewPassword(ctx: CliContext, name: string, fromStdin: boolean): Promise<string> {
  if (fromStdin) return readAllStdin(ctx.io);
  const hint = `pipe the password and pass --password-stdin, e.g. \`printf '%s' "$PASSWORD" | farol users add ${name} --password-stdin\``;
  const password = await promptSecret(ctx.io, `Password for ${name}`, hint);
  if (password === '') return password;
  const again = await promptSecret(ctx.io, 'Repeat the password', hint);
  if (again !== password) throw new FarolError('PASSWORD_REQUIRED', 'the passwords do not match', { hint: 'run the command again and type the same password twice' });
  return password;
}

/** Said after every change: services watch the file, so nobody should restart them for it. */
const PICKED_UP = 'running services using this file pick the change up within 2 s (no restart needed)';

/** `farol users add|remove|list`: manage the users file that Basic auth checks passwords against. */
export function registerUsersCommand(program: Command, ctx: CliContext): void {
  const users = program.command('users').description('add, remove or list users in the users file (Basic auth)');
  const fileOption = () => optionWithDescribedDefault('--file <path>', 'users file', `$FAROL_USERS_FILE, else ${DEFAULT_USERS_FILE}`);

  users
    .command('add')
    .description('add a user, or set the password of an existing one')
    .argument('<name>', 'user name')
    .addOption(fileOption())
    .option('--password-stdin', 'read the password from standard input instead of prompting')
    .action(
      action(ctx, async (name: string, options: { file?: string; passwordStdin?: boolean }) => {
        assertValidUserName(name); // before asking for a password that would then be thrown away
        const file = usersFilePath(ctx, options.file);
        const password = await readNewPassword(ctx, name, options.passwordStdin === true);
        if (password === '') {
          throw new FarolError('PASSWORD_REQUIRED', 'an empty password is not allowed', {
            hint: options.passwordStdin ? 'write the password to standard input' : 'type a non-empty password',
          });
        }
        const change = await addUser(file, name, password);
        ctx.io.stdout(change === 'added' ? `added user ${name} to ${file}\n` : `updated user ${name} in ${file}\n`);
        ctx.io.stdout(`${PICKED_UP}\n`);
        return ExitCode.OK;
      }),
    );

  users
    .command('remove')
    .description('remove a user')
    .argument('<name>', 'user name')
    .addOption(fileOption())
    .action(
      action(ctx, async (name: string, options: { file?: string }) => {
        const file = usersFilePath(ctx, options.file);
        await removeUser(file, name);
        ctx.io.stdout(`removed user ${name} from ${file}\n`);
        ctx.io.stdout(`${PICKED_UP}\n`);
        return ExitCode.OK;
      }),
    );

  users
    .command('list')
    .description('print the user names, one per line (never the password hashes)')
    .addOption(fileOption())
    .action(
      action(ctx, async (options: { file?: string }) => {
        const file = usersFilePath(ctx, options.file);
        const names = (await readUsersFile(file)).names();
        if (names.length > 0) ctx.io.stdout(names.map((name) => `${name}\n`).join(''));
        else ctx.io.stderr(`farol: ${file} has no users; add one with \`farol users add NAME --file ${file}\`\n`);
        return ExitCode.OK;
      }),
    );
}
