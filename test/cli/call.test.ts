import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Command } from 'commander';
import fc from 'fast-check';
import { addUser, authenticate, createBasicAuthenticator, readUsersFile } from '../../src/auth/index.js';
import { parseHeaderFlag, parseTimeoutFlag, registerCallCommand } from '../../src/cli/commands/call.js';
import { ExitCode, type ExitCodeValue } from '../../src/cli/exit-codes.js';
import type { CliContext } from '../../src/cli/run.js';
import { ConsulClient } from '../../src/consul/index.js';
import { isFarolError } from '../../src/errors.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import {
  closedLoopbackPort,
  createTestPki,
  makeTempDir,
  registerInstance,
  startHttpsServer,
  uniqueServiceName,
  waitForHealth,
  type RegisteredInstance,
  type TestServer,
} from '../client/fixtures.js';

interface CliOutcome {
  code: ExitCodeValue | undefined;
  stdout: string;
  stderr: string;
}

/** Runs `farol call ...` through commander with captured output and the given environment. */
async function farolCall(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  terminal: { isTTY: boolean; stdin: NodeJS.ReadableStream } = { isTTY: false, stdin: Readable.from([]) },
): Promise<CliOutcome> {
  let stdout = '';
  let stderr = '';
  let code: ExitCodeValue | undefined;
  const ctx: CliContext = {
    io: {
      stdout: (text) => void (stdout += text),
      stderr: (text) => void (stderr += text),
      stdin: terminal.stdin,
      env,
      isTTY: terminal.isTTY,
    },
    debug: () => false,
    setExitCode: (value) => {
      code = value;
    },
  };
  const program = new Command('farol').exitOverride().configureOutput({ writeOut: ctx.io.stdout, writeErr: ctx.io.stderr });
  registerCallCommand(program, ctx);
  await program.parseAsync(['node', 'farol', 'call', ...args]);
  return { code, stdout, stderr };
}

function assertOneLineErrorWithHint(stderr: string): void {
  const errorLines = stderr.split('\n').filter((line) => line.startsWith('farol: '));
  assert.equal(errorLines.length, 1, stderr);
  assert.match(stderr, /^hint: \S/m);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

describe('--header values', () => {
  it("parses 'Name: value'", () => {
    assert.deepEqual(parseHeaderFlag('Accept: application/json'), ['Accept', 'application/json']);
    assert.deepEqual(parseHeaderFlag('x-trace:abc:def'), ['x-trace', 'abc:def']);
    assert.deepEqual(parseHeaderFlag('X-Empty:'), ['X-Empty', '']);
  });

  for (const bad of ['no colon here', ': value', 'bad name: v', 'x-a: one\r\ntwo']) {
    it(`refuses ${JSON.stringify(bad)} with CONFIG_INVALID`, () => {
      assert.throws(() => parseHeaderFlag(bad), (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && Boolean(error.hint));
    });
  }

  it('refuses an Authorization header, since credentials never come from argv', () => {
    assert.throws(() => parseHeaderFlag('authorization: Basic Ym9iOnB3'), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
  });

  it('round-trips any valid name and value, and never throws anything but CONFIG_INVALID', () => {
    const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&\'*+^`|~'.split(''));
    const name = fc.array(tokenChar, { minLength: 1, maxLength: 20 }).map((chars) => chars.join('')).filter((n) => n.toLowerCase() !== 'authorization');
    const value = fc.string({ maxLength: 40 }).filter((v) => !/[\r\n\0]/.test(v)).map((v) => v.trim());
    fc.assert(fc.property(name, value, (n, v) => assert.deepEqual(parseHeaderFlag(`${n}: ${v}`), [n, v])));
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseHeaderFlag(text);
        } catch (error) {
          assert.ok(isFarolError(error, 'CONFIG_INVALID'));
        }
      }),
    );
  });
});

describe('--timeout values', () => {
  it('reads durations with a unit', () => {
    assert.equal(parseTimeoutFlag('10s'), 10_000);
    assert.equal(parseTimeoutFlag('250ms'), 250);
    assert.equal(parseTimeoutFlag('1.5s'), 1500);
    assert.equal(parseTimeoutFlag('2m'), 120_000);
  });

  for (const bad of ['10', '0s', '-1s', 'soon', '', '999999999h', '2000h']) {
    it(`refuses ${JSON.stringify(bad)} with CONFIG_INVALID`, () => {
      assert.throws(() => parseTimeoutFlag(bad), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
    });
  }
});

describe('farol call without Consul', () => {
  let dir: { path: string; remove(): Promise<void> };
  let caFile: string;

  before(async () => {
    dir = await makeTempDir();
    caFile = join(dir.path, 'ca.pem');
    await writeFile(caFile, (await createTestPki()).ca.certPem);
  });
  after(() => dir.remove());

  it('exits 2 with a hint when a user is given but no FAROL_PASSWORD and no terminal', async () => {
    const outcome = await farolCall(['api', '--user', 'bob', '--ca', caFile, '--log-file', join(dir.path, 'log.txt')]);
    assert.equal(outcome.code, ExitCode.USAGE);
    assert.match(outcome.stderr, /^farol: password for user 'bob' is required/m);
    assert.match(outcome.stderr, /^hint: set FAROL_PASSWORD or run in a terminal$/m);
    assertOneLineErrorWithHint(outcome.stderr);
    assert.equal(outcome.stdout, '');
  });

  it('takes the user from FAROL_USER when --user is absent', async () => {
    const outcome = await farolCall(['api', '--ca', caFile], { FAROL_USER: 'carol' });
    assert.equal(outcome.code, ExitCode.USAGE);
    assert.match(outcome.stderr, /password for user 'carol'/);
  });

  it('exits 4 when Consul is not reachable', async () => {
    const port = await closedLoopbackPort();
    const outcome = await farolCall(['api', '--consul', `127.0.0.1:${port}`, '--ca', caFile, '--log-file', join(dir.path, 'log.txt')], {
      FAROL_USER: 'bob',
      FAROL_PASSWORD: 'pw',
    });
    assert.equal(outcome.code, ExitCode.CONSUL);
    assert.match(outcome.stderr, new RegExp(`^farol: .*127\\.0\\.0\\.1:${port}`, 'm'));
    assertOneLineErrorWithHint(outcome.stderr);
    assert.ok(!outcome.stderr.includes('pw\n'));
  });

  it('reads the Consul address from CONSUL_HTTP_ADDR when --consul is absent', async () => {
    const port = await closedLoopbackPort();
    const outcome = await farolCall(['api', '--log-file', join(dir.path, 'log.txt')], {
      CONSUL_HTTP_ADDR: `127.0.0.1:${port}`,
      FAROL_CA: caFile,
    });
    assert.equal(outcome.code, ExitCode.CONSUL);
    assert.ok(outcome.stderr.includes(`127.0.0.1:${port}`), outcome.stderr);
  });

  it('exits 8 naming the file when the CA file is missing', async () => {
    const outcome = await farolCall(['api', '--ca', join(dir.path, 'absent.pem'), '--log-file', join(dir.path, 'log.txt')]);
    assert.equal(outcome.code, ExitCode.CERTIFICATES);
    assert.ok(outcome.stderr.includes('absent.pem'), outcome.stderr);
    assertOneLineErrorWithHint(outcome.stderr);
  });

  it('exits 2 on a malformed --header', async () => {
    const outcome = await farolCall(['api', '--ca', caFile, '--header', 'nonsense']);
    assert.equal(outcome.code, ExitCode.USAGE);
    assertOneLineErrorWithHint(outcome.stderr);
  });
});

describeWithConsul('farol call against a real Consul agent', (getAgent) => {
  let dir: { path: string; remove(): Promise<void> };
  let caFile: string;
  let consul: ConsulClient;
  let server: TestServer;
  let instance: RegisteredInstance;
  const service = uniqueServiceName('api');

  before(async () => {
    dir = await makeTempDir();
    const pki = await createTestPki();
    caFile = join(dir.path, 'ca.pem');
    await writeFile(caFile, pki.ca.certPem);
    const usersFile = join(dir.path, 'users.txt');
    await addUser(usersFile, 'bob', 'right-password');
    const basic = createBasicAuthenticator({ users: await readUsersFile(usersFile), realm: service });
    server = await startHttpsServer(pki.server, (req, res) => {
      void authenticate([basic], { headers: req.headers }).then((result) => {
        if (result.outcome !== 'authenticated') {
          res.statusCode = 401;
          res.setHeader('www-authenticate', basic.challenge());
          res.end('unauthorized\n');
          return;
        }
        if (req.url === '/admin') {
          res.statusCode = 403;
          res.end('forbidden\n');
          return;
        }
        if (req.url === '/broken') {
          res.statusCode = 500;
          res.end('broken\n');
          return;
        }
        res.end(JSON.stringify({ user: result.principal.id, path: req.url }));
      });
    });
    consul = new ConsulClient({ address: getAgent().address });
    instance = await registerInstance(consul, { service, id: `${service}-1a2b`, port: server.port, status: 'passing' });
    await waitForHealth(consul, service, { registered: 1, passing: 1 });
  });

  after(async () => {
    // describeWithConsul's own after() may already have stopped the agent (and its state with it).
    await instance.deregister().catch(() => undefined);
    await consul.close();
    await server.close();
    await dir.remove();
  });

  function call(args: string[], env: NodeJS.ProcessEnv) {
    return farolCall([service, ...args, '--ca', caFile, '--log-file', join(dir.path, 'client-log.txt')], {
      CONSUL_HTTP_ADDR: getAgent().address,
      ...env,
    });
  }

  it('prints the body to stdout and a one-line summary to stderr, and exits 0', async () => {
    const outcome = await call(['/hello', '--user', 'bob'], { FAROL_PASSWORD: 'right-password' });
    assert.equal(outcome.code, ExitCode.OK, outcome.stderr);
    assert.deepEqual(JSON.parse(outcome.stdout), { user: 'bob', path: '/hello' });
    assert.match(outcome.stderr, new RegExp(`^200 OK from ${service}-1a2b at 127\\.0\\.0\\.1:${server.port} in \\d+ ms\\n$`));
  });

  it('asks for the password on a terminal when FAROL_PASSWORD is not set, without echoing it', async () => {
    const keyboard = new PassThrough();
    keyboard.end('right-password\r');
    const outcome = await farolCall(
      [service, '/typed', '--user', 'bob', '--ca', caFile, '--log-file', join(dir.path, 'client-log.txt')],
      { CONSUL_HTTP_ADDR: getAgent().address },
      { isTTY: true, stdin: keyboard },
    );
    assert.equal(outcome.code, ExitCode.OK, outcome.stderr);
    assert.ok(outcome.stderr.startsWith("password for user 'bob': \n"), outcome.stderr);
    assert.ok(!outcome.stderr.includes('right-password'));
    assert.deepEqual(JSON.parse(outcome.stdout), { user: 'bob', path: '/typed' });
  });

  it('prints the whole result as JSON with --json', async () => {
    const outcome = await call(['--json', '--user', 'bob', '--consul', getAgent().address], { FAROL_PASSWORD: 'right-password' });
    assert.equal(outcome.code, ExitCode.OK, outcome.stderr);
    const result = JSON.parse(outcome.stdout) as { status: number; body: string; instance: { id: string; port: number } };
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body), { user: 'bob', path: '/' });
    assert.deepEqual(result.instance, { id: `${service}-1a2b`, address: '127.0.0.1', port: server.port });
  });

  it('exits 6 with one line and a hint when the service rejects the credentials', async () => {
    const outcome = await call(['--user', 'bob'], { FAROL_PASSWORD: 'wrong-password' });
    assert.equal(outcome.code, ExitCode.AUTH_REJECTED);
    assert.match(outcome.stderr, /^farol: '[a-z0-9-]+' rejected the credentials of user 'bob' \(401\)$/m);
    assertOneLineErrorWithHint(outcome.stderr);
    assert.ok(!outcome.stderr.includes('wrong-password'));
  });

  it('exits 6 and suggests --user when no credentials were sent', async () => {
    const outcome = await call([], {});
    assert.equal(outcome.code, ExitCode.AUTH_REJECTED);
    assert.match(outcome.stderr, /^hint: .*--user/m);
  });

  it('exits 7 on 403 and 11 on another error status', async () => {
    const forbidden = await call(['/admin', '--user', 'bob'], { FAROL_PASSWORD: 'right-password' });
    assert.equal(forbidden.code, ExitCode.FORBIDDEN);
    assertOneLineErrorWithHint(forbidden.stderr);
    const broken = await call(['/broken', '--user', 'bob'], { FAROL_PASSWORD: 'right-password' });
    assert.equal(broken.code, ExitCode.REQUEST_FAILED);
    assert.match(broken.stderr, /500 Internal Server Error/);
  });

  it('makes N calls with --repeat and prints which instance answered them, the failures and percentiles', async () => {
    const outcome = await call(['/hello', '--user', 'bob', '--repeat', '20', '--concurrency', '4', '--balancer', 'least-request', '--retries', '1'], {
      FAROL_PASSWORD: 'right-password',
    });
    assert.equal(outcome.code, ExitCode.OK, outcome.stderr);
    assert.match(outcome.stdout, /^20 requests in \d+\.\d\d s \(\d+\/s\), 0 failed, 0 retried$/m);
    assert.match(outcome.stdout, /^latency p50 \d+\.\d ms {2}p90 \d+\.\d ms {2}p99 \d+\.\d ms {2}max \d+\.\d ms$/m);
    assert.match(outcome.stdout, new RegExp(`^  ${service}-1a2b +20 +100\\.0%$`, 'm'));
  });

  it('exits non-zero with --repeat when any call failed', async () => {
    const outcome = await call(['/broken', '--user', 'bob', '--repeat', '3', '--retries', '0'], { FAROL_PASSWORD: 'right-password' });
    assert.equal(outcome.code, ExitCode.REQUEST_FAILED);
    assert.match(outcome.stdout, /^failed: 3 × HTTP 500$/m);
    assert.match(outcome.stderr, /^farol: 3 of 3 calls to '.*' failed$/m);
  });

  it('exits 2 naming the flag for a bad --balancer, --retries or --repeat', async () => {
    for (const args of [['--balancer', 'fastest'], ['--retries', '-1'], ['--repeat', '0']]) {
      const outcome = await call(args, {});
      assert.equal(outcome.code, ExitCode.USAGE, outcome.stderr);
      assert.match(outcome.stderr, new RegExp(`^farol: ${args[0]} `, 'm'));
      assertOneLineErrorWithHint(outcome.stderr);
    }
  });

  it('exits 3 when the service has no passing instance', async () => {
    const outcome = await farolCall([uniqueServiceName('nobody'), '--ca', caFile, '--log-file', join(dir.path, 'client-log.txt')], {
      CONSUL_HTTP_ADDR: getAgent().address,
    });
    assert.equal(outcome.code, ExitCode.NO_HEALTHY_INSTANCE);
    assert.match(outcome.stderr, /^hint: start one \(createService\(\{ name: '[^']+' \}\) or farol serve --service [^)]+\), or check its health in Consul$/m);
  });

  it('exits 5 when the CA does not match the service certificate', async () => {
    const otherCa = join(dir.path, 'other-ca.pem');
    await writeFile(otherCa, (await createTestPki()).ca.certPem);
    const outcome = await farolCall([service, '--ca', otherCa, '--log-file', join(dir.path, 'client-log.txt')], {
      CONSUL_HTTP_ADDR: getAgent().address,
    });
    assert.equal(outcome.code, ExitCode.TLS_UNTRUSTED);
    assertOneLineErrorWithHint(outcome.stderr);
  });
});
