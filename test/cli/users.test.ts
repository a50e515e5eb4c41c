import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { readUsersFile } from '../../src/auth/users-store.js';
import { verifyPassword } from '../../src/auth/password-hash.js';
import { registerUsersCommand } from '../../src/cli/commands/users.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { CliContext } from '../../src/cli/run.js';

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  stdin?: NodeJS.ReadableStream;
  isTTY?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Answers to terminal prompts, written to stdin when a prompt appears on stderr. */
  answers?: string[];
}

async function runFarol(args: string[], options: RunOptions = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  let exitCode: number = ExitCode.OK;
  const answers = [...(options.answers ?? [])];
  const terminal = new PassThrough();
  const stdin = options.stdin ?? (options.answers ? terminal : Readable.from([]));
  const ctx: CliContext = {
    io: {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
        if (options.answers && text.endsWith(': ') && answers.length > 0) terminal.write(answers.shift());
      },
      stdin,
      env: options.env ?? {},
      isTTY: options.isTTY ?? false,
    },
    debug: () => false,
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  const program = new Command('farol').option('--debug').exitOverride().configureOutput({ writeOut: ctx.io.stdout, writeErr: ctx.io.stderr });
  registerUsersCommand(program, ctx);
  await program.parseAsync(['node', 'farol', ...args]);
  terminal.end();
  return { exitCode, stdout, stderr };
}

const PICKED_UP = 'running services using this file pick the change up within 2 s (no restart needed)\n';

describe('farol users', () => {
  let dir = '';
  let fileNumber = 0;
  const newPath = (): string => join(dir, `users-${(fileNumber += 1)}.txt`);
  const passwordOf = async (path: string, name: string): Promise<string> => (await readUsersFile(path)).lookup(name) ?? '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-cli-users-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds a user with the password from standard input, then updates it', async () => {
    const path = newPath();
    const added = await runFarol(['users', 'add', 'alice', '--file', path, '--password-stdin'], { stdin: Readable.from(['secret\n']) });
    assert.deepEqual(added, { exitCode: ExitCode.OK, stdout: `added user alice to ${path}\n${PICKED_UP}`, stderr: '' });
    assert.equal(await verifyPassword('secret', await passwordOf(path, 'alice')), true);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await readFile(path, 'utf8')).includes('secret'), false);

    const updated = await runFarol(['users', 'add', 'alice', '--file', path, '--password-stdin'], { stdin: Readable.from(['other secret\n']) });
    assert.deepEqual(updated, { exitCode: ExitCode.OK, stdout: `updated user alice in ${path}\n${PICKED_UP}`, stderr: '' });
    assert.equal(await verifyPassword('other secret', await passwordOf(path, 'alice')), true);
  });

  it('removes a user', async () => {
    const path = newPath();
    await runFarol(['users', 'add', 'bob', '--file', path, '--password-stdin'], { stdin: Readable.from(['pw\n']) });
    const removed = await runFarol(['users', 'remove', 'bob', '--file', path]);
    assert.deepEqual(removed, { exitCode: ExitCode.OK, stdout: `removed user bob from ${path}\n${PICKED_UP}`, stderr: '' });
    assert.deepEqual((await readUsersFile(path)).names(), []);
  });

  it('lists the user names one per line, never their hashes', async () => {
    const path = newPath();
    for (const name of ['alice', 'bob']) await runFarol(['users', 'add', name, '--file', path, '--password-stdin'], { stdin: Readable.from(['pw\n']) });
    const listed = await runFarol(['users', 'list', '--file', path]);
    assert.deepEqual(listed, { exitCode: ExitCode.OK, stdout: 'alice\nbob\n', stderr: '' });
    assert.doesNotMatch(listed.stdout, /scrypt/);
  });

  it('lists nothing on stdout for a file without users, and says so on stderr; a missing file exits 9 with a hint', async () => {
    const path = newPath();
    await writeFile(path, '# no users yet\n');
    const empty = await runFarol(['users', 'list', '--file', path]);
    assert.equal(empty.exitCode, ExitCode.OK);
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /has no users; add one with `farol users add NAME/);
    const missing = await runFarol(['users', 'list', '--file', join(dir, 'nope.txt')]);
    assert.equal(missing.exitCode, ExitCode.USERS);
    assert.match(missing.stderr, /does not exist\nhint: create it with `farol users add NAME/);
  });

  it('exits 9 with one line and a hint, no stack, when removing an unknown user', async () => {
    const path = newPath();
    await runFarol(['users', 'add', 'alice', '--file', path, '--password-stdin'], { stdin: Readable.from(['pw\n']) });
    const result = await runFarol(['users', 'remove', 'bob', '--file', path]);
    assert.equal(result.exitCode, ExitCode.USERS);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, `farol: user "bob" is not in users file ${path}\nhint: the file has: alice (names are case-sensitive)\n`);
  });

  it('exits 9 with a hint to create the file when it does not exist', async () => {
    const path = join(dir, 'absent.txt');
    const result = await runFarol(['users', 'remove', 'bob', '--file', path]);
    assert.equal(result.exitCode, ExitCode.USERS);
    assert.equal(result.stderr, `farol: users file ${path} does not exist\nhint: create it with \`farol users add NAME --file ${path}\`\n`);
  });

  it('exits 2 with a hint to use --password-stdin when standard input is not a terminal', async () => {
    const path = newPath();
    const result = await runFarol(['users', 'add', 'alice', '--file', path], { isTTY: false });
    assert.equal(result.exitCode, ExitCode.USAGE);
    const lines = result.stderr.split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^farol: .*not a terminal$/);
    assert.match(lines[1] ?? '', /^hint: .*--password-stdin/);
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });

  it('refuses an empty password with exit 2', async () => {
    const path = newPath();
    const result = await runFarol(['users', 'add', 'alice', '--file', path, '--password-stdin'], { stdin: Readable.from(['\n']) });
    assert.equal(result.exitCode, ExitCode.USAGE);
    assert.match(result.stderr, /^farol: an empty password is not allowed\nhint: /);
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });

  it('refuses an invalid user name with exit 2 before reading a password', async () => {
    const path = newPath();
    const result = await runFarol(['users', 'add', 'al:ice', '--file', path, '--password-stdin'], { stdin: Readable.from(['pw\n']) });
    assert.equal(result.exitCode, ExitCode.USAGE);
    assert.match(result.stderr, /^farol: invalid user name: the user name contains ":"\nhint: /);
  });

  it('asks twice on a terminal and stores the password when both match', async () => {
    const path = newPath();
    const result = await runFarol(['users', 'add', 'carol', '--file', path], { isTTY: true, answers: ['tty-secret\r', 'tty-secret\r'] });
    assert.equal(result.exitCode, ExitCode.OK, result.stderr);
    assert.equal(result.stderr, 'Password for carol: \nRepeat the password: \n');
    assert.equal(await verifyPassword('tty-secret', await passwordOf(path, 'carol')), true);
  });

  it('exits 2 when the two passwords typed on a terminal differ', async () => {
    const path = newPath();
    const result = await runFarol(['users', 'add', 'carol', '--file', path], { isTTY: true, answers: ['one\r', 'two\r'] });
    assert.equal(result.exitCode, ExitCode.USAGE);
    assert.match(result.stderr, /farol: the passwords do not match\nhint: /);
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });

  it('uses FAROL_USERS_FILE when --file is not given, and --file over it', async () => {
    const fromEnv = newPath();
    const fromFlag = newPath();
    const viaEnv = await runFarol(['users', 'add', 'dave', '--password-stdin'], { stdin: Readable.from(['pw\n']), env: { FAROL_USERS_FILE: fromEnv } });
    assert.equal(viaEnv.stdout, `added user dave to ${fromEnv}\n${PICKED_UP}`);
    const viaFlag = await runFarol(['users', 'add', 'erin', '--file', fromFlag, '--password-stdin'], {
      stdin: Readable.from(['pw\n']),
      env: { FAROL_USERS_FILE: fromEnv },
    });
    assert.equal(viaFlag.stdout, `added user erin to ${fromFlag}\n${PICKED_UP}`);
    assert.deepEqual((await readUsersFile(fromEnv)).names(), ['dave']);
    assert.deepEqual((await readUsersFile(fromFlag)).names(), ['erin']);
  });

  it('defaults to users.txt in the working folder', async () => {
    const previous = process.cwd();
    const workdir = await mkdtemp(join(dir, 'cwd-'));
    process.chdir(workdir);
    try {
      const result = await runFarol(['users', 'add', 'frank', '--password-stdin'], { stdin: Readable.from(['pw\n']) });
      assert.equal(result.stdout, `added user frank to users.txt\n${PICKED_UP}`);
      assert.deepEqual((await readUsersFile(join(workdir, 'users.txt'))).names(), ['frank']);
    } finally {
      process.chdir(previous);
    }
  });
});
