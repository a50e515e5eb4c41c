import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileDestination, LOG_FILE_MODE, reopenLogFiles } from '../../src/log/file-destination.js';
import { createLogger } from '../../src/log/logger.js';
import { spawnFarol, waitForExit, waitForLine } from '../support/cli.js';

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('log file destination', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-log-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a new log file readable by owner and group only (0640 or tighter), and its folder 0750 or tighter', async () => {
    const file = join(dir, 'new', 'server-log.txt');
    const destination = new FileDestination(file);
    destination.write('{"msg":"one"}\n');
    destination.end();
    assert.equal(LOG_FILE_MODE, 0o640);
    assert.equal((await modeOf(file)) & ~0o640, 0, `mode ${(await modeOf(file)).toString(8)}`);
    assert.equal((await modeOf(join(dir, 'new'))) & ~0o750, 0);
  });

  it("leaves an existing file's mode as the operator set it", async () => {
    const file = join(dir, 'existing.txt');
    await writeFile(file, '');
    await chmod(file, 0o600);
    const destination = new FileDestination(file);
    destination.write('{"msg":"one"}\n');
    destination.end();
    assert.equal(await modeOf(file), 0o600);
  });

  it('writes lines in order, in one batch within 100 ms of the first, or at once on flush', async () => {
    const file = join(dir, 'batched.txt');
    const destination = new FileDestination(file);
    destination.write('{"n":1}\n');
    destination.write('{"n":2}\n');
    assert.equal(await readFile(file, 'utf8'), '', 'nothing is written at once');
    const deadline = Date.now() + 2000;
    let text = '';
    while (text === '' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      text = await readFile(file, 'utf8');
    }
    assert.equal(text, '{"n":1}\n{"n":2}\n');
    destination.write('{"n":3}\n');
    destination.flush();
    assert.equal(await readFile(file, 'utf8'), '{"n":1}\n{"n":2}\n{"n":3}\n', 'flush writes what is pending');
    destination.end();
  });

  it('writes at once when 64 KiB are pending', async () => {
    const file = join(dir, 'large.txt');
    const destination = new FileDestination(file);
    const line = `${JSON.stringify({ msg: 'x'.repeat(1000) })}\n`;
    for (let i = 0; i < 70; i += 1) destination.write(line);
    assert.ok((await readFile(file, 'utf8')).length >= 64 * 1024);
    destination.end();
    assert.equal(await readFile(file, 'utf8'), line.repeat(70));
  });

  it('writes the pending lines when the process exits', async () => {
    const file = join(dir, 'exit.txt');
    const script = `import { FileDestination } from ${JSON.stringify(new URL('../../src/log/file-destination.ts', import.meta.url).href)};
const d = new FileDestination(${JSON.stringify(file)}); d.write('{"last":true}\\n'); process.exit(3);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 3);
    assert.equal(await readFile(file, 'utf8'), '{"last":true}\n');
  });

  it("reopens by name after logrotate's rename: old lines stay in the moved file, new lines go to a new file", async () => {
    const file = join(dir, 'rotated.txt');
    const logger = createLogger({ name: 'test', file });
    logger.info({ event: 'before' }, 'before rotation');
    logger.flush();
    await rename(file, `${file}.1`);
    logger.info({ event: 'pending' }, 'logged before the signal, still for the open file');
    assert.ok(reopenLogFiles() >= 1);
    logger.info({ event: 'after' }, 'after rotation');
    logger.flush();
    const events = async (path: string) => (await readFile(path, 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as { event: string }).event);
    assert.deepEqual(await events(`${file}.1`), ['before', 'pending']);
    assert.deepEqual(await events(file), ['after']);
    assert.equal((await modeOf(file)) & ~0o640, 0);
  });

  it('keeps writing to the open file when the name cannot be opened again', async () => {
    const folder = join(dir, 'gone');
    const file = join(folder, 'log.txt');
    const destination = new FileDestination(file);
    // A file where the folder should be: the folder cannot be created, so the name cannot be opened.
    await rename(folder, `${folder}.moved`);
    await writeFile(folder, 'not a folder');
    const stderr = process.stderr.write;
    let reported = '';
    process.stderr.write = ((chunk: string) => ((reported += chunk), true)) as typeof process.stderr.write;
    try {
      assert.equal(destination.reopen(), false);
    } finally {
      process.stderr.write = stderr;
    }
    assert.match(reported, /cannot reopen the log file .*still writing to the file open before/);
    destination.write('{"msg":"kept"}\n');
    destination.end();
    assert.match(await readFile(join(`${folder}.moved`, 'log.txt'), 'utf8'), /kept/);
  });

  it('farol registry reopens its log file on SIGHUP and keeps running', async () => {
    const file = join(dir, 'registry', 'registry-log.txt');
    const child = spawnFarol(['registry', '--port', '0', '--bind', '127.0.0.1', '--log-file', file]);
    try {
      await waitForLine(child, /registry listening at/, 30_000);
      await rename(file, `${file}.1`);
      child.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      let text = '';
      while (!text.includes('log_reopened') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        text = await readFile(file, 'utf8').catch(() => '');
      }
      assert.match(text, /"event":"log_reopened"/);
      assert.equal(child.exitCode, null, 'SIGHUP does not stop the registry');
    } finally {
      child.kill('SIGTERM');
      await waitForExit(child, 10_000);
    }
  });
});
