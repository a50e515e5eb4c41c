import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { registerCertsCommand } from '../../src/cli/commands/certs.js';
import { ExitCode, type ExitCodeValue } from '../../src/cli/exit-codes.js';
import type { CliContext } from '../../src/cli/run.js';

interface CliRun {
  exitCode: ExitCodeValue;
  stdout: string;
  stderr: string;
}

/** Runs `farol <args>` in-process, as main() does, with captured output. */
async function farol(...args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let exitCode: ExitCodeValue = ExitCode.OK;
  const ctx: CliContext = {
    io: {
      stdout: (text) => void (stdout += text),
      stderr: (text) => void (stderr += text),
      stdin: Readable.from([]),
      env: {},
      isTTY: false,
    },
    debug: () => args.includes('--debug'),
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  const program = new Command('farol')
    .option('--debug')
    .exitOverride()
    .configureOutput({ writeOut: ctx.io.stdout, writeErr: ctx.io.stderr });
  registerCertsCommand(program, ctx);
  try {
    await program.parseAsync(['node', 'farol', ...args]);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    exitCode = error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  }
  return { exitCode, stdout, stderr };
}

describe('farol certs init', () => {
  let temp: string;
  let dir: string;

  beforeEach(async () => {
    temp = await mkdtemp(join(tmpdir(), 'farol-cli-certs-'));
    dir = join(temp, 'certs');
  });

  afterEach(async () => {
    await rm(temp, { recursive: true, force: true });
  });

  it('writes the files, prints each one on its own line and a next step, and exits 0', async () => {
    const run = await farol('certs', 'init', '--dir', dir);
    assert.equal(run.exitCode, ExitCode.OK);
    assert.equal(run.stderr, '');
    const lines = run.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, -1), ['ca.pem', 'ca-key.pem', 'cert.pem', 'key.pem'].map((name) => join(dir, name)));
    assert.match(lines.at(-1) ?? '', /^next: .*cert\.pem.*key\.pem.*ca\.pem/);
    assert.deepEqual((await readdir(dir)).sort(), ['ca-key.pem', 'ca.pem', 'cert.pem', 'key.pem']);
    assert.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600);
  });

  it('refuses a second run with exit code 8, one message line and a hint, no stack trace, files untouched', async () => {
    await farol('certs', 'init', '--dir', dir);
    const before = await readFile(join(dir, 'ca-key.pem'));
    const run = await farol('certs', 'init', '--dir', dir);
    assert.equal(run.exitCode, ExitCode.CERTIFICATES);
    assert.equal(run.exitCode, 8);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, run.stderr);
    assert.match(lines[0] ?? '', /^farol: Refusing to overwrite existing files in .*: ca\.pem, ca-key\.pem, cert\.pem, key\.pem$/);
    assert.match(lines[1] ?? '', /^hint: .*--force/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    assert.deepEqual(await readFile(join(dir, 'ca-key.pem')), before);
  });

  it('replaces the files with --force', async () => {
    await farol('certs', 'init', '--dir', dir);
    const before = await readFile(join(dir, 'ca.pem'), 'utf8');
    const run = await farol('certs', 'init', '--dir', dir, '--force');
    assert.equal(run.exitCode, ExitCode.OK);
    assert.notEqual(await readFile(join(dir, 'ca.pem'), 'utf8'), before);
  });

  it('takes repeated --service and --client options', async () => {
    const run = await farol('certs', 'init', '--dir', dir, '--service', 'api', '--service', 'web', '--client', 'alice', '--client', 'bob');
    assert.equal(run.exitCode, ExitCode.OK);
    for (const name of ['client-alice.pem', 'client-alice-key.pem', 'client-bob.pem', 'client-bob-key.pem']) {
      assert.ok(run.stdout.includes(`${join(dir, name)}\n`), name);
    }
    const alice = new X509Certificate(await readFile(join(dir, 'client-alice.pem')));
    assert.deepEqual(alice.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'TLS client authentication only');
    assert.equal(alice.subjectAltName, 'URI:spiffe://farol.local/client/alice');
    const server = new X509Certificate(await readFile(join(dir, 'cert.pem')));
    assert.ok(server.checkHost('api.service.consul'));
    assert.ok(server.checkHost('web.service.consul'));
  });

  it('adds a client to an existing CA and prints only the new files', async () => {
    await farol('certs', 'init', '--dir', dir);
    const run = await farol('certs', 'init', '--dir', dir, '--client', 'bob');
    assert.equal(run.exitCode, ExitCode.OK);
    const lines = run.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, -1), [join(dir, 'client-bob.pem'), join(dir, 'client-bob-key.pem')]);
    assert.match(lines.at(-1) ?? '', /^next: /);
  });

  it('sets the certificate lifetime with --days', async () => {
    const run = await farol('certs', 'init', '--dir', dir, '--days', '30');
    assert.equal(run.exitCode, ExitCode.OK);
    const validTo = new Date(new X509Certificate(await readFile(join(dir, 'cert.pem'))).validTo).getTime();
    assert.ok(Math.abs(validTo - (Date.now() + 30 * 86_400_000)) < 10_000);
  });

  it('rejects --days that is not a positive whole number as a usage error, writing nothing', async () => {
    for (const days of ['0', '-3', '1.5', 'soon']) {
      const run = await farol('certs', 'init', '--dir', dir, '--days', days);
      assert.equal(run.exitCode, ExitCode.USAGE, days);
      assert.match(run.stderr, /--days/);
    }
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  it('reports a bad client name as a usage error with a hint', async () => {
    const run = await farol('certs', 'init', '--dir', dir, '--client', '../evil');
    assert.equal(run.exitCode, ExitCode.USAGE);
    assert.match(run.stderr, /^farol: Client name "\.\.\/evil" cannot be used in a file name\nhint: /);
  });
});
