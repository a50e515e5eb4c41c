import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { pino } from 'pino';
import { createLogger, REDACTED_CENSOR, REDACTED_PATHS, redactSecrets } from '../../src/log/logger.js';
import { pathSegments } from '../../src/log/redact.js';
import { Agent } from 'undici';
import { runFarol, spawnFarol, waitForLine } from '../support/cli.js';
import { basic, httpsGet, issueTestPki, writeUsers } from '../service/fixtures.js';

const tsxLoader = import.meta.resolve('tsx');
const logAndExit = fileURLToPath(new URL('./fixtures/log-and-exit.ts', import.meta.url));

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'farol-log-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function memoryLines(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

async function fileLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** An object holding `value` at the path's segments ('*' becomes `wildcardKey`). */
function objectAt(segments: string[], value: unknown, wildcardKey = 'anything'): Record<string, unknown> {
  let result: unknown = value;
  for (const segment of [...segments].reverse()) result = { [segment === '*' ? wildcardKey : segment]: result };
  return result as Record<string, unknown>;
}

function valueAt(object: unknown, segments: string[], wildcardKey = 'anything'): unknown {
  let current = object;
  for (const segment of segments) current = (current as Record<string, unknown> | undefined)?.[segment === '*' ? wildcardKey : segment];
  return current;
}

describe('logger redaction', () => {
  it('censors a secret at every listed path, and leaves the caller\'s object as it was', () => {
    for (const path of REDACTED_PATHS) {
      const segments = pathSegments(path);
      const secret = `secret-at-${path}`;
      const given = { ...objectAt(segments, secret), keep: 'visible' };
      const before = JSON.stringify(given);
      const memory = memoryLines();
      createLogger({ name: 'test', destination: memory.stream }).info(given, 'a line');
      const [line] = memory.lines();
      assert.equal(valueAt(line, segments), REDACTED_CENSOR, path);
      assert.equal(line?.keep, 'visible');
      assert.ok(!JSON.stringify(line).includes(secret), path);
      assert.equal(JSON.stringify(given), before, `the logged object is not modified (${path})`);
    }
  });

  it('matches what pino\'s own redact option would write, for any object', () => {
    // pino's `redact` is the reference; ours is the same rule made cheap (see src/log/redact.ts).
    const keys = fc.constantFrom('password', 'token', 'key', 'authorization', 'headers', 'req', 'request', 'x-consul-token', 'cookie', 'user', 'event', 'hash', 'nested');
    const leaf = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.dictionary(keys, tie('node'), { maxKeys: 4 })),
    })).node;
    const object = fc.dictionary(keys, tree, { maxKeys: 6 });
    fc.assert(
      fc.property(object, (given) => {
        const ours = memoryLines();
        const theirs = memoryLines();
        createLogger({ name: 'test', destination: ours.stream }).info(given, 'line');
        pino({ name: 'test', base: { pid: process.pid }, timestamp: false, redact: { paths: REDACTED_PATHS, censor: REDACTED_CENSOR } }, theirs.stream).info(given, 'line');
        const { time: _time, ...mine } = ours.lines()[0]!;
        assert.deepEqual(mine, theirs.lines()[0]);
      }),
      { numRuns: 300 },
    );
  });

  it('censors objects interpolated into the message and child bindings too', () => {
    const memory = memoryLines();
    const logger = createLogger({ name: 'test', destination: memory.stream });
    logger.info('details: %o and %j', { password: 'interpolated-secret' }, { headers: { authorization: 'Bearer interpolated-token' } });
    logger.child({ token: 'bound-secret', component: 'child' }).info({ event: 'from-child' }, 'child line');
    const text = JSON.stringify(memory.lines());
    for (const secret of ['interpolated-secret', 'interpolated-token', 'bound-secret']) assert.ok(!text.includes(secret), `${secret} in ${text}`);
    assert.ok(text.includes('child'), text);
  });

  it('returns the very object when there is nothing to censor, and keeps an Error an Error', () => {
    const plain = { event: 'access', status: 200, headers: { accept: '*/*' } };
    assert.equal(redactSecrets(plain), plain);
    const error = Object.assign(new Error('boom'), { token: 'leak' });
    const redacted = redactSecrets({ err: error }) as { err: Error & { token: string } };
    assert.ok(redacted.err instanceof Error);
    assert.equal(redacted.err.message, 'boom');
    assert.equal(redacted.err.token, REDACTED_CENSOR);
    assert.equal(error.token, 'leak');
  });
});

describe('logging to a file', () => {
  it('writes lines in order within the turn they are logged in, and at once on flush()', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'deep', 'er', 'log.txt');
      const logger = createLogger({ name: 'test', file });
      for (let i = 0; i < 1000; i += 1) logger.info({ event: 'line', n: i }, 'line');
      logger.flush();
      const flushed = await fileLines(file);
      assert.deepEqual(flushed.map((line) => line.n), Array.from({ length: 1000 }, (_, i) => i));

      logger.info({ event: 'later' }, 'later');
      await new Promise((resolve) => setImmediate(resolve));
      const later = await fileLines(file);
      assert.equal(later.at(-1)?.event, 'later', 'written by the end of the event-loop turn, without a flush');
    });
  });

  it('appends to an existing log file', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'log.txt');
      const first = createLogger({ name: 'one', file });
      first.info({ event: 'first' }, 'first');
      first.flush();
      const second = createLogger({ name: 'two', file });
      second.info({ event: 'second' }, 'second');
      second.flush();
      assert.deepEqual((await fileLines(file)).map((line) => line.event), ['first', 'second']);
    });
  });

  for (const [how, expectedCode] of [['exit', 3], ['throw', 1], ['exitCode', 4]] as const) {
    it(`loses no line when the process ends right after logging (${how})`, async () => {
      await withTempDir(async (dir) => {
        const file = join(dir, 'log.txt');
        const child = spawn(process.execPath, ['--import', tsxLoader, logAndExit, file, '2500', how], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
        assert.equal(code, expectedCode, stderr);
        const lines = await fileLines(file);
        assert.equal(lines.length, 2500);
        assert.deepEqual(lines.map((line) => line.n), Array.from({ length: 2500 }, (_, i) => i));
      });
    });
  }

  it('keeps every line of `farol serve` stopped by SIGTERM, the last access and the stop included', async () => {
    await withTempDir(async (dir) => {
      const pki = await issueTestPki(dir);
      const usersFile = await writeUsers(dir, { alice: 'a long enough password' });
      const logFile = join(dir, 'logs', 'server-log.txt');
      const serve = spawnFarol([
        'serve', '--service', 'api', '--port', '0', '--cert', pki.certFile, '--key', pki.keyFile, '--users', usersFile,
        '--no-register', '--drain-delay', '0s', '--log-file', logFile,
      ]);
      const closed = new Promise<number | null>((resolve) => serve.once('close', resolve));
      const agent = new Agent({ connect: { ca: pki.caPem } });
      try {
        const [, url] = await waitForLine(serve, /at (https:\/\/127\.0\.0\.1:\d+)/);
        const response = await httpsGet(agent, `${url}/`, { authorization: basic('alice', 'a long enough password') });
        assert.equal(response.status, 200);
        serve.kill('SIGTERM');
        assert.equal(await closed, 0);
      } finally {
        await agent.close();
        serve.kill('SIGKILL');
      }
      const events = (await fileLines(logFile)).map((line) => line.event);
      assert.ok(events.includes('access'), JSON.stringify(events));
      assert.equal(events.at(-1), 'stopped', JSON.stringify(events));
    });
  });

  it('keeps the client log of a CLI command that fails (farol call, Consul unreachable)', async () => {
    await withTempDir(async (dir) => {
      const certs = await runFarol(['certs', 'init', '--dir', join(dir, 'certs')]);
      assert.equal(certs.code, 0, certs.stderr);
      const logFile = join(dir, 'client-log.txt');
      const run = await runFarol(['call', 'api', '--consul', '127.0.0.1:1', '--ca', join(dir, 'certs', 'ca.pem'), '--retries', '0', '--log-file', logFile]);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /Consul is not reachable/);
      const lines = await fileLines(logFile);
      assert.ok(lines.some((line) => line.event === 'discovery_error' && line.code === 'CONSUL_UNREACHABLE'), JSON.stringify(lines));
    });
  });
});
