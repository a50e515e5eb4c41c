import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import fc from 'fast-check';
import { Agent } from 'undici';
import { authOptions, parseMetaPairs, registerServeCommand } from '../../src/cli/commands/serve.js';
import type { ExitCodeValue } from '../../src/cli/exit-codes.js';
import type { CliContext } from '../../src/cli/run.js';
import { isFarolError } from '../../src/errors.js';
import { clientSubjectAltNames, issueCertificate } from '../../src/pki/index.js';
import { basic, httpsGet, issueTestPki, tempDir, writeUsers, type TestPki } from '../service/fixtures.js';

interface Run {
  stdout: () => string;
  stderr: () => string;
  done: Promise<ExitCodeValue | undefined>;
}

function runServe(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  let stdout = '';
  let stderr = '';
  let exitCode: ExitCodeValue | undefined;
  const ctx: CliContext = {
    io: {
      stdout: (text) => void (stdout += text),
      stderr: (text) => void (stderr += text),
      stdin: Readable.from([]),
      env,
      isTTY: false,
    },
    debug: () => false,
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  const program = new Command('farol').exitOverride().configureOutput({ writeOut: ctx.io.stdout, writeErr: ctx.io.stderr });
  registerServeCommand(program, ctx);
  const done = program.parseAsync(['node', 'farol', 'serve', ...args]).then(() => exitCode);
  return { stdout: () => stdout, stderr: () => stderr, done };
}

async function waitFor(what: string, probe: () => RegExpMatchArray | null, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = probe();
    if (match) return match;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('--meta parsing', () => {
  it('turns repeated key=value flags into a record, splitting at the first =', () => {
    assert.deepEqual(parseMetaPairs(['team=platform', 'query=a=b', 'empty=']), { team: 'platform', query: 'a=b', empty: '' });
    assert.deepEqual(parseMetaPairs([]), {});
  });

  it('refuses a pair without a key or without =, with CONFIG_INVALID', () => {
    for (const bad of ['team', '=platform', '']) {
      assert.throws(() => parseMetaPairs([bad]), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), bad);
    }
  });

  it('round-trips any key without = and any value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }).filter((k) => !k.includes('=') && k !== '__proto__'), fc.string()), (meta) => {
        const parsed = parseMetaPairs(Object.entries(meta).map(([k, v]) => `${k}=${v}`));
        assert.deepEqual(parsed, { ...meta });
      }),
    );
  });
});

describe('serve auth flags', () => {
  const flags = (extra: Record<string, unknown>) =>
    ({ requireScope: [], allow: [], ...extra }) as unknown as Parameters<typeof authOptions>[0];

  it('keeps Basic with users.txt as the default, and drops it when another method is named without --users', () => {
    assert.deepEqual(authOptions(flags({}), {}), { usersFile: 'users.txt' });
    assert.deepEqual(authOptions(flags({ clientCa: 'ca.pem' }), {}), { clientCertificates: { ca: { file: 'ca.pem' } } });
    assert.deepEqual(authOptions(flags({ clientCa: 'ca.pem', users: 'u.txt' }), {}), { usersFile: 'u.txt', clientCertificates: { ca: { file: 'ca.pem' } } });
    assert.deepEqual(authOptions(flags({ clientCa: 'ca.pem' }), { FAROL_USERS_FILE: 'e.txt' }).usersFile, 'e.txt');
  });

  it('builds the JWT options from the three flags together, and refuses one without the others', () => {
    const jwt = { jwksUrl: 'https://idp/jwks', issuer: 'https://idp', audience: 'orders' };
    assert.deepEqual(authOptions(flags({ ...jwt, jwksCa: 'idp-ca.pem' }), {}).jwt, { ...jwt, ca: { file: 'idp-ca.pem' } });
    for (const partial of [{ jwksUrl: jwt.jwksUrl }, { issuer: jwt.issuer, audience: jwt.audience }, { jwksCa: 'x.pem' }]) {
      assert.throws(() => authOptions(flags(partial), {}), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), JSON.stringify(partial));
    }
    assert.throws(() => authOptions(flags({ clientCertRequired: true }), {}), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
  });

  it('turns --require-scope and --allow into the service-wide requirement', () => {
    assert.deepEqual(authOptions(flags({ requireScope: ['a', 'b'], allow: ['alice'] }), {}).require, { scopes: ['a', 'b'], principals: ['alice'] });
  });
});

describe('farol serve', () => {
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  const password = 'correct horse battery staple';

  const common = (): string[] => [
    '--service', 'api', '--port', '0', '--cert', pki.certFile, '--key', pki.keyFile, '--users', usersFile,
    '--no-register', '--log-file', join(dir, 'logs', 'server-log.txt'),
  ];

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir);
    usersFile = await writeUsers(dir, { alice: password });
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it('exits 2 on a bad --meta, with one line and a hint', async () => {
    const run = runServe([...common(), '--meta', 'oops']);
    assert.equal(await run.done, 2);
    assert.equal(run.stderr(), 'farol: invalid --meta "oops": expected key=value\nhint: pass one --meta per pair, e.g. --meta team=platform --meta env=dev\n');
  });

  it('exits 2 on a bad --port or --check', async () => {
    assert.equal(await runServe([...common(), '--port', 'http']).done, 2);
    assert.equal(await runServe([...common(), '--check', 'tcp']).done, 2);
    assert.equal(await runServe([...common(), '--check-interval', 'often']).done, 2);
  });

  it('exits 2 on a bad --drain-delay or --drain-timeout, naming the flag', async () => {
    const delay = runServe([...common(), '--drain-delay', 'soon']);
    assert.equal(await delay.done, 2);
    assert.match(delay.stderr(), /^farol: invalid --drain-delay "soon": must be a duration like 3s or 500ms\n/);
    const timeout = runServe([...common(), '--drain-timeout', '-1s']);
    assert.equal(await timeout.done, 2);
    assert.match(timeout.stderr(), /invalid --drain-timeout "-1s"/);
    const absurd = runServe([...common(), '--drain-timeout', '2000h']);
    assert.equal(await absurd.done, 2);
    assert.match(absurd.stderr(), /^farol: invalid --drain-timeout "2000h": must be at most 1h0m0s\n/);
  });

  it('exits 2 on a bad --health-port, --headers-timeout or --handshake-timeout, naming the flag', async () => {
    const port = runServe([...common(), '--health-port', '70000']);
    assert.equal(await port.done, 2);
    assert.match(port.stderr(), /^farol: invalid --health-port "70000": must be 0-65535\n/);
    const headers = runServe([...common(), '--headers-timeout', '0s']);
    assert.equal(await headers.done, 2);
    assert.match(headers.stderr(), /^farol: invalid --headers-timeout "0s": must be more than 0\n/);
    const handshake = runServe([...common(), '--handshake-timeout', '5ms']);
    assert.equal(await handshake.done, 2);
    assert.match(handshake.stderr(), /^farol: invalid --handshake-timeout "5ms": must be at least 100ms\n/);
  });

  it('exits 2 on a --check-interval Go refuses, naming the flag and the bound', async () => {
    const run = runServe([...common(), '--check-interval', '999999999h']);
    assert.equal(await run.done, 2);
    assert.match(run.stderr(), /^farol: invalid --check-interval "999999999h": must be a duration like 10s, 1m30s or 500ms\nhint: time: invalid duration "999999999h": .*at most 2562047h47m16\.854775807s/);
  });

  it('exits 8 when the certificates are missing, with one line, a hint and no stack trace', async () => {
    const run = runServe(['--service', 'api', '--port', '0', '--certs', join(dir, 'no-certs'), '--users', usersFile, '--no-register',
      '--log-file', join(dir, 'logs', 'server-log.txt')]);
    assert.equal(await run.done, 8);
    const lines = run.stderr().trimEnd().split('\n');
    assert.equal(lines.length, 2, run.stderr());
    assert.match(lines[0]!, /^farol: /);
    assert.match(lines[1]!, /^hint: /);
    assert.ok(!run.stderr().includes('    at '));
  });

  it('reads the certificates folder from FAROL_CERTS_DIR', async () => {
    const run = runServe(['--service', 'api', '--port', '0', '--users', usersFile, '--no-register', '--log-file', join(dir, 'logs', 'x.txt')], {
      FAROL_CERTS_DIR: join(dir, 'env-certs'),
    });
    assert.equal(await run.done, 8);
    assert.match(run.stderr(), /env-certs/);
  });

  it('exits 10 when the port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as { port: number };
      const run = runServe([...common(), '--port', String(port)]);
      assert.equal(await run.done, 10);
      assert.match(run.stderr(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('prints one line when ready, serves, and exits 0 after SIGTERM, once --drain-delay has passed', async () => {
    const run = runServe([...common(), '--drain-delay', '300ms']);
    const [, instance, url] = await waitFor('the ready line', () =>
      run.stdout().match(/^farol: serving api instance (api-[0-9a-f]{8}) at (https:\/\/127\.0\.0\.1:\d+) \(not registered in Consul\)\n$/),
    );
    const agent = new Agent({ connect: { ca: pki.caPem } });
    let signalled = 0;
    try {
      const response = await httpsGet(agent, `${url}/`, { authorization: basic('alice', password) });
      assert.equal(response.status, 200);
      assert.equal(response.json().instance, instance);
      signalled = performance.now();
      process.emit('SIGTERM', 'SIGTERM');
      const health = await httpsGet(agent, `${url}/health`);
      assert.equal(health.status, 503, 'draining during the delay');
    } finally {
      await agent.close();
    }
    assert.equal(await run.done, 0);
    assert.ok(performance.now() - signalled >= 280, 'exits only after the drain delay');
    assert.equal(run.stderr(), '');
  });

  it('--client-ca with --allow: a client certificate from the CA gets in, only for the allowed identity', async () => {
    const run = runServe([
      '--service', 'api', '--port', '0', '--cert', pki.certFile, '--key', pki.keyFile, '--client-ca', pki.caFile,
      '--allow', 'spiffe://farol.local/client/alice', '--no-register', '--drain-delay', '0s', '--log-file', join(dir, 'logs', 'mtls-log.txt'),
    ]);
    const [, url] = await waitFor('the ready line', () => run.stdout().match(/at (https:\/\/127\.0\.0\.1:\d+)/));
    const alice = await issueCertificate(pki.ca, { commonName: 'alice', usage: 'client', ...clientSubjectAltNames('alice') });
    const bob = await issueCertificate(pki.ca, { commonName: 'bob', usage: 'client', ...clientSubjectAltNames('bob') });
    const agents = [alice, bob].map((pair) => new Agent({ connect: { ca: pki.caPem, cert: pair.certPem, key: pair.keyPem } }));
    try {
      const asAlice = await httpsGet(agents[0]!, `${url}/`);
      assert.equal(asAlice.status, 200);
      assert.equal(asAlice.json().user, 'spiffe://farol.local/client/alice');
      assert.equal((await httpsGet(agents[1]!, `${url}/`)).status, 403);
    } finally {
      await Promise.all(agents.map((agent) => agent.close()));
      process.emit('SIGTERM', 'SIGTERM');
    }
    assert.equal(await run.done, 0);
  });
});
