import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { pino } from 'pino';
import { isFarolError } from '../../src/errors.js';
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

/** Runs a module body in a fresh node (through tsx), for what writes to the process's own stdout. */
function runNode(body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxLoader, '--input-type=module', '-e', body], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
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

/**
 * Secrets at the paths where Farol's code and its users' code actually put them, written out by
 * hand: deleting a path from REDACTED_PATHS (e.g. 'req.headers.authorization') must fail here.
 */
const LITERAL_SECRETS: { name: string; object: Record<string, unknown>; secret: string; kept?: string }[] = [
  { name: 'req.headers.authorization (Basic)', object: { req: { method: 'GET', headers: { accept: 'kept-accept', authorization: 'Basic YWxpY2U6czNjcjN0LWJhc2lj' } } }, secret: 'YWxpY2U6czNjcjN0LWJhc2lj', kept: 'kept-accept' },
  { name: 'headers.authorization (Bearer)', object: { headers: { authorization: 'Bearer eyJhbGciOi.bearer-secret' } }, secret: 'bearer-secret' },
  { name: 'request.headers.authorization', object: { request: { headers: { authorization: 'Bearer request-secret' } } }, secret: 'request-secret' },
  { name: 'authorization', object: { authorization: 'Basic top-level-secret' }, secret: 'top-level-secret' },
  { name: 'options.authorization', object: { options: { authorization: 'Bearer nested-auth-secret' } }, secret: 'nested-auth-secret' },
  { name: 'req.headers["proxy-authorization"]', object: { req: { headers: { 'proxy-authorization': 'Basic proxy-secret' } } }, secret: 'proxy-secret' },
  { name: 'headers["x-consul-token"]', object: { headers: { 'x-consul-token': 'consul-acl-secret' } }, secret: 'consul-acl-secret' },
  { name: 'req.headers["x-consul-token"]', object: { req: { headers: { 'x-consul-token': 'consul-acl-secret-2' } } }, secret: 'consul-acl-secret-2' },
  { name: 'headers.cookie', object: { headers: { cookie: 'session=cookie-secret' } }, secret: 'cookie-secret' },
  { name: 'req.headers.cookie', object: { req: { headers: { cookie: 'session=cookie-secret-2' } } }, secret: 'cookie-secret-2' },
  { name: 'headers["set-cookie"]', object: { headers: { 'set-cookie': 'session=set-cookie-secret' } }, secret: 'set-cookie-secret' },
  { name: 'password', object: { user: 'alice', password: 'password-secret' }, secret: 'password-secret', kept: 'alice' },
  { name: 'user.password', object: { user: { name: 'alice', password: 'nested-password-secret' } }, secret: 'nested-password-secret' },
  { name: 'passwordHash', object: { passwordHash: '$scrypt$hash-secret' }, secret: 'hash-secret' },
  { name: 'entry.hash', object: { entry: { hash: '$scrypt$entry-hash-secret' } }, secret: 'entry-hash-secret' },
  { name: 'token', object: { token: 'token-secret' }, secret: 'token-secret' },
  { name: 'consul.token', object: { consul: { address: '127.0.0.1:8500', token: 'consul-options-secret' } }, secret: 'consul-options-secret', kept: '127.0.0.1:8500' },
  { name: 'grant.accessToken', object: { grant: { accessToken: 'access-token-secret', expiresInSec: 60 } }, secret: 'access-token-secret' },
  { name: 'body.access_token', object: { body: { access_token: 'oauth-access-secret', token_type: 'Bearer' } }, secret: 'oauth-access-secret' },
  { name: 'body.refresh_token', object: { body: { refresh_token: 'oauth-refresh-secret' } }, secret: 'oauth-refresh-secret' },
  { name: 'body.id_token', object: { body: { id_token: 'oauth-id-secret' } }, secret: 'oauth-id-secret' },
  { name: 'clientSecret', object: { clientId: 'kept-client-id', clientSecret: 'client-secret-value' }, secret: 'client-secret-value', kept: 'kept-client-id' },
  { name: 'form.client_secret', object: { form: { grant_type: 'client_credentials', client_secret: 'form-client-secret' } }, secret: 'form-client-secret' },
  { name: 'privateKey', object: { privateKey: '-----BEGIN PRIVATE KEY-----\nMIIpk-secret\n-----END PRIVATE KEY-----' }, secret: 'MIIpk-secret' },
  { name: 'tls.key', object: { tls: { cert: 'kept-cert', key: '-----BEGIN PRIVATE KEY-----\ntls-key-secret' } }, secret: 'tls-key-secret', kept: 'kept-cert' },
  { name: 'pair.keyPem', object: { pair: { certPem: 'kept-cert-pem', keyPem: '-----BEGIN PRIVATE KEY-----\nkey-pem-secret' } }, secret: 'key-pem-secret', kept: 'kept-cert-pem' },
];

describe('logger redaction at the secrets\' literal paths', () => {
  for (const { name, object, secret, kept } of LITERAL_SECRETS) {
    it(`never writes ${name}`, () => {
      const memory = memoryLines();
      const logger = createLogger({ name: 'test', destination: memory.stream });
      logger.info(object, 'a line');
      logger.child(object).info('from a child');
      const text = JSON.stringify(memory.lines());
      assert.ok(!text.includes(secret), `${secret} reached the log: ${text}`);
      assert.ok(text.includes(REDACTED_CENSOR), 'the value is censored, not dropped');
      if (kept !== undefined) assert.ok(text.includes(kept), `${kept} (not a secret) should stay: ${text}`);
    });
  }
});

describe('log destinations', () => {
  it("writes JSON lines to stdout for the file name '-'", async () => {
    const run = await runNode(`
      const { createLogger } = await import(${JSON.stringify(new URL('../../src/log/logger.ts', import.meta.url).href)});
      createLogger({ name: 'server', file: '-' }).info({ event: 'to_stdout' }, 'hello');
    `);
    assert.equal(run.code, 0, run.stderr);
    const line = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
    assert.equal(line.event, 'to_stdout');
  });

  it("`farol call --log-file -` writes its JSON lines to stdout and no file named '-'", async () => {
    await withTempDir(async (dir) => {
      const certs = await runFarol(['certs', 'init', '--dir', join(dir, 'certs')]);
      assert.equal(certs.code, 0, certs.stderr);
      const run = await runFarol(['call', 'api', '--consul', '127.0.0.1:1', '--ca', join(dir, 'certs', 'ca.pem'), '--retries', '0', '--log-file', '-'], { cwd: dir });
      assert.notEqual(run.code, 0);
      const lines = run.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.ok(lines.some((line) => line.event === 'discovery_error' && line.code === 'CONSUL_UNREACHABLE'), run.stdout);
      assert.deepEqual((await readdir(dir)).sort(), ['certs'], 'no file named - and no logs/ folder');
    });
  });

  it('refuses a log file that cannot be opened with LOG_FILE_UNWRITABLE and a hint, before anything runs', async () => {
    await withTempDir(async (dir) => {
      const aFile = join(dir, 'plain-file');
      await writeFile(aFile, '');
      for (const file of [join(aFile, 'log.txt'), dir]) {
        assert.throws(() => createLogger({ name: 'server', file }), (error: unknown) => {
          assert.ok(isFarolError(error, 'LOG_FILE_UNWRITABLE'), String(error));
          assert.match(error.message, /cannot open the log file/);
          assert.match(error.hint ?? '', /--log-file -/);
          return true;
        });
      }
    });
  });

  it('`farol serve --log-file` at an unwritable path exits with its own code (12) and one line, no stack', async () => {
    await withTempDir(async (dir) => {
      const pki = await issueTestPki(dir);
      const usersFile = await writeUsers(dir, { alice: 'a long enough password' });
      const aFile = join(dir, 'plain-file');
      await writeFile(aFile, '');
      const run = await runFarol([
        'serve', '--service', 'api', '--port', '0', '--cert', pki.certFile, '--key', pki.keyFile, '--users', usersFile,
        '--no-register', '--log-file', join(aFile, 'server-log.txt'),
      ]);
      assert.equal(run.code, 12, run.stderr);
      assert.match(run.stderr, /cannot open the log file/);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    });
  });
});

describe('logging to a file', () => {
  it('writes lines in order within 100 ms of logging them, and at once on flush()', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'deep', 'er', 'log.txt');
      const logger = createLogger({ name: 'test', file });
      for (let i = 0; i < 1000; i += 1) logger.info({ event: 'line', n: i }, 'line');
      logger.flush();
      const flushed = await fileLines(file);
      assert.deepEqual(flushed.map((line) => line.n), Array.from({ length: 1000 }, (_, i) => i));

      logger.info({ event: 'later' }, 'later');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const later = await fileLines(file);
      assert.equal(later.at(-1)?.event, 'later', 'written by the flush timer, without a flush()');
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
