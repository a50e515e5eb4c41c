import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { request } from 'undici';
import { registerRegistryCommand } from '../../src/cli/commands/registry.js';
import { ExitCode, type ExitCodeValue } from '../../src/cli/exit-codes.js';
import type { CliContext } from '../../src/cli/run.js';
import { startRegistry } from '../../src/registry/index.js';

function runRegistry(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  let exitCode: ExitCodeValue | undefined;
  const ctx: CliContext = {
    io: { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), stdin: Readable.from([]), env, isTTY: false },
    debug: () => false,
    setExitCode: (code) => void (exitCode = code),
  };
  const program = new Command('farol').exitOverride().configureOutput({ writeOut: ctx.io.stdout, writeErr: ctx.io.stderr });
  registerRegistryCommand(program, ctx);
  const done = program.parseAsync(['node', 'farol', 'registry', ...args]).then(() => exitCode);
  return { stdout: () => stdout, stderr: () => stderr, done };
}

async function waitFor(probe: () => RegExpMatchArray | null): Promise<RegExpMatchArray> {
  for (let i = 0; i < 200; i += 1) {
    const match = probe();
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail('timed out');
}

describe('farol registry', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('serves in the foreground, prints its address, logs to the log file and stops on SIGTERM with exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'farol-registry-'));
    dirs.push(dir);
    const logFile = join(dir, 'registry-log.txt');
    const run = runRegistry(['--port', '0', '--log-file', logFile, '--token', 'cli-token']);
    const [, httpAddr, address] = await waitFor(() => /registry listening at (http:\/\/(127\.0\.0\.1:\d+)) \(CONSUL_HTTP_ADDR=(127\.0\.0\.1:\d+)\)/.exec(run.stdout()));
    assert.equal(`http://${address}`, httpAddr);
    assert.match(run.stdout(), new RegExp(`^farol: web UI at ${httpAddr}/ui/$`, 'm'));
    const res = await request(`${httpAddr}/v1/agent/services`, { headers: { 'x-consul-token': 'wrong' } });
    assert.equal(res.statusCode, 403);
    await res.body.text();
    process.emit('SIGTERM');
    assert.equal(await run.done, ExitCode.OK);
    assert.match(run.stdout(), /registry stopped/);
    const log = await readFile(logFile, 'utf8');
    assert.match(log, /"event":"registry_started"/);
    assert.doesNotMatch(log, /cli-token/, 'the token never reaches the log');
  });

  it('says PORT_IN_USE in one line with a hint when the port is taken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'farol-registry-'));
    dirs.push(dir);
    const busy = await startRegistry({ port: 0 });
    try {
      const run = runRegistry(['--port', String(busy.port), '--log-file', join(dir, 'log.txt')]);
      assert.equal(await run.done, ExitCode.LISTEN);
      assert.match(run.stderr(), new RegExp(`^farol: port ${busy.port} on 127\\.0\\.0\\.1 is already in use\\nhint: .+\\n$`));
    } finally {
      await busy.close();
    }
  });

  it('refuses a bad --port as a usage error', async () => {
    const run = runRegistry(['--port', 'abc', '--log-file', join(tmpdir(), 'farol-registry-unused.txt')]);
    assert.equal(await run.done, ExitCode.USAGE);
    assert.match(run.stderr(), /invalid --port "abc"/);
  });
});
