import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { issueCertificate } from '../../src/pki/index.js';
import { opensslSelfSigned, writePair } from '../pki/lifecycle-support.js';
import { runFarol } from '../support/cli.js';
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

  it('refuses a second run with exit code 8, one message line and a hint naming issue and renew, no stack trace, files untouched', async () => {
    await farol('certs', 'init', '--dir', dir);
    const before = await readFile(join(dir, 'ca-key.pem'));
    const run = await farol('certs', 'init', '--dir', dir);
    assert.equal(run.exitCode, ExitCode.CERTIFICATES);
    assert.equal(run.exitCode, 8);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, run.stderr);
    assert.match(lines[0] ?? '', /^farol: Refusing to overwrite existing files in .*: cert\.pem, key\.pem$/);
    assert.match(lines[1] ?? '', /^hint: the CA in .* is kept either way: pass --force .*`farol certs issue --dir .* --force`.*`farol certs renew --dir .*`.*--replace-ca/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    assert.deepEqual(await readFile(join(dir, 'ca-key.pem')), before);
  });

  it('with --force re-issues the server certificate and keeps the CA', async () => {
    await farol('certs', 'init', '--dir', dir);
    const ca = await readFile(join(dir, 'ca.pem'), 'utf8');
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    const run = await farol('certs', 'init', '--dir', dir, '--force');
    assert.equal(run.exitCode, ExitCode.OK, run.stderr);
    assert.deepEqual(run.stdout.trimEnd().split('\n').slice(0, -1), [join(dir, 'cert.pem'), join(dir, 'key.pem')]);
    assert.equal(await readFile(join(dir, 'ca.pem'), 'utf8'), ca);
    assert.notEqual(await readFile(join(dir, 'cert.pem'), 'utf8'), cert);
  });

  it('replaces the CA only with --replace-ca', async () => {
    await farol('certs', 'init', '--dir', dir);
    const before = await readFile(join(dir, 'ca.pem'), 'utf8');
    const run = await farol('certs', 'init', '--dir', dir, '--replace-ca');
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
    for (const days of ['0', '-3', '1.5', 'soon', '36501', '99999999999']) {
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

describe('farol certs issue, renew and show', () => {
  let temp: string;
  let dir: string;

  beforeEach(async () => {
    temp = await mkdtemp(join(tmpdir(), 'farol-cli-certs-'));
    dir = join(temp, 'ca');
    await farol('certs', 'init', '--dir', dir, '--service', 'api');
  });

  afterEach(async () => {
    await rm(temp, { recursive: true, force: true });
  });

  it('issue writes one key pair per instance with --host and --out, from the existing CA, and says what it issued', async () => {
    const ca = await readFile(join(dir, 'ca.pem'), 'utf8');
    const out = join(temp, 'api1');
    const run = await farol('certs', 'issue', '--dir', dir, '--host', 'api1', '--service', 'api', '--out', out);
    assert.equal(run.exitCode, ExitCode.OK, run.stderr);
    assert.equal(run.stderr, '');
    const lines = run.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 2), [join(out, 'cert.pem'), join(out, 'key.pem')]);
    assert.match(lines[2] ?? '', new RegExp(`^issued a server certificate CN=api, valid until \\d{4}-\\d\\d-\\d\\d, signed by ${join(dir, 'ca.pem')}$`));
    assert.equal(await readFile(join(dir, 'ca.pem'), 'utf8'), ca);
    assert.ok(new X509Certificate(await readFile(join(out, 'cert.pem'))).checkHost('api1'));
    assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
  });

  it('issue --client NAME writes client-NAME.pem; --name writes elsewhere in the same directory', async () => {
    const run = await farol('certs', 'issue', '--dir', dir, '--client', 'bob');
    assert.equal(run.exitCode, ExitCode.OK, run.stderr);
    assert.equal(new X509Certificate(await readFile(join(dir, 'client-bob.pem'))).subjectAltName, 'URI:spiffe://farol.local/client/bob');
    const named = await farol('certs', 'issue', '--dir', dir, '--host', 'web1', '--name', 'web1');
    assert.equal(named.exitCode, ExitCode.OK, named.stderr);
    assert.ok((await readdir(dir)).includes('web1-key.pem'));
  });

  it('issue refuses an existing leaf with exit 8 and a hint for --force; --force replaces it and keeps the CA', async () => {
    const ca = await readFile(join(dir, 'ca-key.pem'));
    const refused = await farol('certs', 'issue', '--dir', dir, '--host', 'api2');
    assert.equal(refused.exitCode, ExitCode.CERTIFICATES);
    assert.match(refused.stderr, /^farol: Refusing to overwrite .*cert\.pem and .*key\.pem\nhint: pass --force to replace this server certificate \(the CA is kept\)/);
    const forced = await farol('certs', 'issue', '--dir', dir, '--host', 'api2', '--force');
    assert.equal(forced.exitCode, ExitCode.OK, forced.stderr);
    assert.match(forced.stdout, /\(replaced the previous one\)/);
    assert.deepEqual(await readFile(join(dir, 'ca-key.pem')), ca);
    assert.ok(new X509Certificate(await readFile(join(dir, 'cert.pem'))).checkHost('api2'));
  });

  it('issue with no CA in --dir, or an unusable CA key, fails with exit 8, one line and a hint', async () => {
    const empty = join(temp, 'empty');
    const none = await farol('certs', 'issue', '--dir', empty, '--host', 'api1');
    assert.equal(none.exitCode, ExitCode.CERTIFICATES);
    assert.equal(none.stderr, `farol: No CA in ${empty}: ca.pem does not exist\nhint: create one with \`farol certs init --dir ${empty}\`, or pass --dir with the directory holding ca.pem and ca-key.pem\n`);
    await writeFile(join(dir, 'ca-key.pem'), 'garbage');
    const badKey = await farol('certs', 'issue', '--dir', dir, '--name', 'x');
    assert.equal(badKey.exitCode, ExitCode.CERTIFICATES);
    assert.match(badKey.stderr, /^farol: The CA private key is not a valid PEM private key\nhint: /);
    await rm(join(dir, 'ca-key.pem'));
    await mkdir(join(dir, 'ca-key.pem'));
    const unreadable = await farol('certs', 'issue', '--dir', dir, '--name', 'x');
    assert.equal(unreadable.exitCode, ExitCode.CERTIFICATES);
    assert.match(unreadable.stderr, /^farol: The CA private key .*ca-key\.pem cannot be read \(EISDIR\)\nhint: /);
  });

  it('issue rejects absurd --days, a name over the CA, and server and client at once, as usage errors', async () => {
    for (const days of ['0', '36501', '1e9', '-1']) {
      const run = await farol('certs', 'issue', '--dir', dir, '--name', 'x', '--days', days);
      assert.equal(run.exitCode, ExitCode.USAGE, days);
      assert.match(run.stderr, /--days/);
    }
    const overCa = await farol('certs', 'issue', '--dir', dir, '--name', 'ca', '--force');
    assert.equal(overCa.exitCode, ExitCode.USAGE);
    const twoClients = await farol('certs', 'issue', '--dir', dir, '--client', 'bob', '--client', 'carol');
    assert.equal(twoClients.exitCode, ExitCode.USAGE);
    assert.match(twoClients.stderr, /one client per certs issue/);
    const both = await farol('certs', 'issue', '--dir', dir, '--client', 'bob', '--host', 'api1');
    assert.equal(both.exitCode, ExitCode.USAGE);
    assert.match(both.stderr, /^farol: A certificate is either for a server .* or for a client .*\nhint: /);
  });

  it('renew re-issues what expires within --within (Nd or a Go duration), prints what it renewed and left, and keeps the CA', async () => {
    const ca = { certPem: await readFile(join(dir, 'ca.pem'), 'utf8'), keyPem: await readFile(join(dir, 'ca-key.pem'), 'utf8') };
    const notAfter = new Date(Date.now() + 5 * 86_400_000);
    await writePair(dir, 'client-old', await issueCertificate(ca, { commonName: 'old', usage: 'client', uris: ['spiffe://farol.local/client/old'], notBefore: new Date(notAfter.getTime() - 365 * 86_400_000), notAfter }));
    const caBefore = await readFile(join(dir, 'ca.pem'));

    const dry = await farol('certs', 'renew', '--dir', dir, '--dry-run');
    assert.equal(dry.exitCode, ExitCode.OK, dry.stderr);
    assert.match(dry.stdout, /^would renew .*client-old\.pem \(CN=old\): was valid until /m);
    assert.match(dry.stdout, /^left .*cert\.pem \(CN=api\): expires in 364 days/m);

    const hours = await farol('certs', 'renew', '--dir', dir, '--within', '72h');
    assert.equal(hours.exitCode, ExitCode.OK);
    assert.match(hours.stdout, /^nothing expires within 72h$/m);

    const run = await farol('certs', 'renew', '--dir', dir, '--within', '7d');
    assert.equal(run.exitCode, ExitCode.OK, run.stderr);
    assert.match(run.stdout, /^renewed .*client-old\.pem \(CN=old\): was valid until \S+, now valid until \S+, serial [0-9A-F]+$/m);
    assert.deepEqual(await readFile(join(dir, 'ca.pem')), caBefore);
    const renewed = new X509Certificate(await readFile(join(dir, 'client-old.pem')));
    assert.equal(renewed.subjectAltName, 'URI:spiffe://farol.local/client/old');
    assert.ok(new Date(renewed.validTo).getTime() > Date.now() + 300 * 86_400_000);
  });

  it('renew --leaf-dir also renews the per-instance key pairs that certs issue --out wrote, keeping their names', async () => {
    const out = join(temp, 'api1');
    const ca = { certPem: await readFile(join(dir, 'ca.pem'), 'utf8'), keyPem: await readFile(join(dir, 'ca-key.pem'), 'utf8') };
    const notAfter = new Date(Date.now() + 10 * 86_400_000);
    await mkdir(out);
    await writePair(out, 'cert', await issueCertificate(ca, { commonName: 'api', usage: 'server', dnsNames: ['api1'], notBefore: new Date(notAfter.getTime() - 90 * 86_400_000), notAfter }));
    const before = new X509Certificate(await readFile(join(out, 'cert.pem')));

    const run = await farol('certs', 'renew', '--dir', dir, '--leaf-dir', out, '--within', '30d');
    assert.equal(run.exitCode, ExitCode.OK, run.stderr);
    assert.match(run.stdout, new RegExp(`^renewed ${join(out, 'cert.pem').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(CN=api\\)`, 'm'));
    const after = new X509Certificate(await readFile(join(out, 'cert.pem')));
    assert.notEqual(after.serialNumber, before.serialNumber);
    assert.equal(after.subjectAltName, before.subjectAltName);
    assert.ok(after.checkPrivateKey(createPrivateKey(await readFile(join(out, 'key.pem')))), 'the new key matches the new certificate');
    assert.ok(after.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the same CA');
  });

  it('renew exits 8 when a certificate near expiry cannot be renewed (its key is missing), after saying which', async () => {
    const ca = { certPem: await readFile(join(dir, 'ca.pem'), 'utf8'), keyPem: await readFile(join(dir, 'ca-key.pem'), 'utf8') };
    const notAfter = new Date(Date.now() + 2 * 86_400_000);
    const orphan = await issueCertificate(ca, { commonName: 'orphan', usage: 'server', dnsNames: ['orphan'], notBefore: new Date(notAfter.getTime() - 90 * 86_400_000), notAfter });
    await writeFile(join(dir, 'orphan.pem'), orphan.certPem);
    const run = await farol('certs', 'renew', '--dir', dir);
    assert.equal(run.exitCode, ExitCode.CERTIFICATES);
    assert.match(run.stdout, /^NOT renewed .*orphan\.pem \(CN=orphan\): expires in 1 day .* but its key file .*orphan-key\.pem does not exist: issue a new one with farol certs issue$/m);
    assert.match(run.stderr, /^farol: 1 certificate near expiry could not be renewed\nhint: /);
  });

  it('renew rejects a window that is neither Nd nor a Go duration, naming the flag', async () => {
    for (const within of ['soon', '30 days', '-5d', '1w']) {
      const run = await farol('certs', 'renew', '--dir', dir, '--within', within);
      assert.equal(run.exitCode, ExitCode.USAGE, within);
      assert.match(run.stderr, /^farol: invalid --within /, within);
      assert.match(run.stderr, /\nhint: .*Nd means N whole days/, within);
    }
  });

  it('show describes certificates, says why the original OpenSSL certificate fails Go clients, and reports a key file without hiding the others', async () => {
    const original = await opensslSelfSigned(temp);
    const run = await farol('certs', 'show', join(dir, 'cert.pem'), original.certFile, original.keyFile);
    assert.equal(run.exitCode, ExitCode.CERTIFICATES);
    assert.match(run.stdout, new RegExp(`^${join(dir, 'cert.pem')}\n  subject      CN=api\n  names        DNS:localhost, DNS:api.service.consul, IP:127\\.0\\.0\\.1, IP:::1\n  issuer       CN=Farol CA [0-9a-f]{8}\n  serial       [0-9A-F]+\n`));
    assert.match(run.stdout, /^ {2}days left {4}364$/m);
    assert.match(run.stdout, /^ {2}usage {8}server$/m);
    assert.match(run.stdout, /^ {2}issuer {7}CN=localhost \(self-signed\)$/m);
    assert.match(run.stdout, /^ {2}key {10}RSA 2048$/m);
    assert.match(run.stdout, /^ {2}CA {11}yes$/m);
    assert.match(run.stdout, /^ {2}warning {6}no subject alternative names: TLS clients that ignore the CN \(Go, hence Consul's HTTPS checks\) will not accept it$/m);
    assert.match(run.stderr, /^farol: .*key\.pem is not a PEM certificate\nhint: /);
  });

  it('show --json prints one object per certificate for machines', async () => {
    const run = await farol('certs', 'show', '--json', join(dir, 'cert.pem'), join(dir, 'ca.pem'));
    assert.equal(run.exitCode, ExitCode.OK, run.stderr);
    const shown = JSON.parse(run.stdout) as { file: string; subject: string; isCa: boolean; daysLeft: number; usage: string[]; subjectAltNames: { dns: string[] } }[];
    assert.deepEqual(shown.map((entry) => [entry.file, entry.isCa]), [[join(dir, 'cert.pem'), false], [join(dir, 'ca.pem'), true]]);
    assert.deepEqual(shown[0]?.subjectAltNames.dns, ['localhost', 'api.service.consul']);
    assert.deepEqual(shown[0]?.usage, ['server']);
    assert.equal(shown[0]?.daysLeft, 364);
  });

  it('runs as a real process: exit codes and one-line errors on stderr (show of a missing file, issue without a CA)', async () => {
    const show = await runFarol(['certs', 'show', join(temp, 'missing.pem')]);
    assert.equal(show.code, ExitCode.CERTIFICATES);
    assert.equal(show.stdout, '');
    assert.equal(show.stderr, `farol: ${join(temp, 'missing.pem')} does not exist\nhint: check the path\n`);
    const issue = await runFarol(['certs', 'issue', '--dir', join(temp, 'nothing-here'), '--host', 'api1']);
    assert.equal(issue.code, ExitCode.CERTIFICATES);
    assert.match(issue.stderr, /^farol: No CA in .*nothing-here: ca\.pem does not exist\nhint: create one with `farol certs init --dir /);
  });
});
