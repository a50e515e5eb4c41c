/**
 * The README's mTLS example, as a user runs it, against a real Consul agent and against the
 * embedded registry: `farol serve --client-ca certs/ca.pem` with certificates as the only way in
 * becomes passing with no extra flag (Consul's check goes to the health listener, which needs no
 * client certificate); a caller without a certificate is refused at the handshake on the main
 * port and reaches only /health on the health port; `farol call --cert --key` succeeds. And the
 * original project's OpenSSL certificate (CN=localhost, no subjectAltName) is passing too, through
 * a TTL check chosen with a warning, while an explicit `--check https` with it is refused before
 * anything registers, naming the flag to add.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { issueCertificate } from '../../../src/pki/index.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/index.js';
import { runFarol, spawnFarol, waitForExit } from '../../support/cli.js';
import { eventually } from '../../support/consul-health.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { generateSeedCertificate, writeUsers } from '../../service/fixtures.js';

interface Registry {
  /** host:port for --consul */
  address: string;
  /** http://host:port */
  httpAddr: string;
}

interface HealthEntry {
  Service: { ID: string; Port: number };
  Checks: { ServiceID: string; Status: string; Output: string; Type?: string }[];
}

async function health(registry: Registry, service: string, passingOnly: boolean): Promise<HealthEntry[]> {
  const response = await fetch(`${registry.httpAddr}/v1/health/service/${service}${passingOnly ? '?passing' : ''}`);
  assert.equal(response.status, 200);
  return (await response.json()) as HealthEntry[];
}

/** The certificates as the README makes them (`farol certs init --client alice`), before any registry starts. */
interface Files {
  dir: string;
  certs: string;
  ca: string;
  seed: { certFile: string; keyFile: string };
  users: string;
}

async function makeFiles(): Promise<Files> {
  const dir = await mkdtemp(join(tmpdir(), 'farol-mtls-health-'));
  const certs = join(dir, 'certs');
  const init = await runFarol(['certs', 'init', '--dir', certs, '--service', 'api', '--client', 'alice']);
  assert.equal(init.code, 0, init.stderr);
  await mkdir(join(dir, 'seed'));
  const seed = await generateSeedCertificate(join(dir, 'seed'));
  const users = await writeUsers(dir, { alice: 'correct horse battery staple' });
  return { dir, certs, ca: join(certs, 'ca.pem'), seed, users };
}

/** Everything a process writes to stdout and stderr, searchable as it grows (bounded wait). */
function outputOf(child: ChildProcess): { waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>; text(): string } {
  let seen = '';
  child.stdout?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  return {
    text: () => seen,
    async waitFor(pattern, timeoutMs = 30_000) {
      return eventually(`${pattern} in the output of farol serve`, async () => pattern.exec(seen) ?? undefined, timeoutMs);
    },
  };
}

/** The same scenarios against either registry. */
function scenarios(label: string, getRegistry: () => Registry, getFiles: () => Files): void {
  const children: ChildProcess[] = [];

  after(() => {
    // Only after a failed test: the last test stops them all.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const serve = (service: string, args: string[]): ChildProcess => {
    const files = getFiles();
    const child = spawnFarol([
      'serve', '--service', service, '--port', '0', '--check-interval', '1s', '--drain-delay', '0s',
      '--consul', getRegistry().address, '--log-file', join(files.dir, 'logs', `${label}-server-log.txt`), ...args,
    ]);
    children.push(child);
    return child;
  };

  let mainPort = 0;
  let healthPort = 0;
  let instanceId = '';

  it(`${label}: farol serve --client-ca (certificates the only way in) becomes passing with no extra flag`, async () => {
    const files = getFiles();
    const output = outputOf(serve('vault', ['--certs', files.certs, '--client-ca', files.ca]));
    const serving = await output.waitFor(/serving vault instance (\S+) at https:\/\/127\.0\.0\.1:(\d+)/);
    instanceId = serving[1]!;
    mainPort = Number(serving[2]);
    const healthLine = await output.waitFor(/https:\/\/127\.0\.0\.1:(\d+)\/health answers without a client certificate/);
    healthPort = Number(healthLine[1]);
    assert.notEqual(healthPort, mainPort);
    const entry = await eventually(`${instanceId} passing`, async () =>
      (await health(getRegistry(), 'vault', true)).find((e) => e.Service.ID === instanceId),
    );
    assert.equal(entry.Service.Port, mainPort, 'callers are sent to the main port');
    const check = entry.Checks.find((c) => c.ServiceID === instanceId)!;
    assert.equal(check.Status, 'passing');
    assert.match(check.Output, new RegExp(`HTTP GET https://127\\.0\\.0\\.1:${healthPort}/health: 200 OK`));
  });

  it(`${label}: a caller without a certificate is refused at the handshake on the main port`, async () => {
    const ca = await readFile(getFiles().ca, 'utf8');
    const failure = await new Promise<Error>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: mainPort, ca }, () => {
        // TLS 1.3: the server's refusal arrives after the client's side of the handshake.
        socket.write('GET /health HTTP/1.1\r\nhost: vault\r\n\r\n');
      });
      socket.on('data', () => resolve(new Error('the main port answered a caller without a certificate')));
      socket.once('error', resolve);
      socket.once('close', () => resolve(new Error('closed without a TLS alert')));
    });
    assert.match(String((failure as NodeJS.ErrnoException).code ?? failure.message), /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE|ECONNRESET/);
  });

  it(`${label}: ...and reaches nothing but /health on the health port`, async () => {
    const agent = new Agent({ connect: { ca: await readFile(getFiles().ca, 'utf8') } });
    try {
      const get = async (method: 'GET' | 'POST', path: string) => {
        const response = await request(`https://127.0.0.1:${healthPort}${path}`, { method, dispatcher: agent });
        return { status: response.statusCode, text: await response.body.text() };
      };
      const ok = await get('GET', '/health');
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.text), { status: 'passing', instance: instanceId });
      for (const path of ['/', '/whoami', '/admin', '/health/../']) assert.equal((await get('GET', path)).status, 404, path);
      assert.equal((await get('POST', '/health')).status, 404);
    } finally {
      await agent.close();
    }
  });

  it(`${label}: farol call --cert --key reaches the service as alice`, async () => {
    const files = getFiles();
    const run = await runFarol([
      'call', 'vault', '/', '--consul', getRegistry().address, '--ca', files.ca,
      '--cert', join(files.certs, 'client-alice.pem'), '--key', join(files.certs, 'client-alice-key.pem'),
      '--log-file', join(files.dir, 'logs', `${label}-client-log.txt`),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const body = JSON.parse(run.stdout) as { instance: string; user: string };
    assert.equal(body.instance, instanceId);
    assert.equal(body.user, 'spiffe://farol.local/client/alice');
  });

  it(`${label}: the original project's OpenSSL certificate (CN only) is passing through a TTL check, with a warning saying so`, async () => {
    const files = getFiles();
    const output = outputOf(serve('seed', ['--cert', files.seed.certFile, '--key', files.seed.keyFile, '--users', files.users]));
    const serving = await output.waitFor(/serving seed instance (\S+) at https:/);
    assert.match(output.text(), /warning: health check: TTL heartbeats instead of HTTPS/);
    assert.match(output.text(), /subjectAltName/);
    const id = serving[1]!;
    const entry = await eventually(`${id} passing`, async () => (await health(getRegistry(), 'seed', true)).find((e) => e.Service.ID === id));
    assert.equal(entry.Checks.find((c) => c.ServiceID === id)?.Status, 'passing');
  });

  it(`${label}: an explicit --check https with that certificate is refused before registering, naming the flag to add`, async () => {
    const files = getFiles();
    const run = await runFarol([
      'serve', '--service', 'seed-https', '--port', '0', '--check', 'https', '--cert', files.seed.certFile, '--key', files.seed.keyFile,
      '--users', files.users, '--consul', getRegistry().address, '--log-file', join(files.dir, 'logs', `${label}-server-log.txt`),
    ]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /could never pass/);
    assert.match(run.stderr, /add --check ttl/);
    assert.ok(!run.stderr.includes('    at '), 'no stack trace for an expected condition');
    assert.deepEqual(await health(getRegistry(), 'seed-https', false), []);
  });

  it(`${label}: an HTTPS check of a certificate that names its host only in the CN fails with Go's words`, async () => {
    const files = getFiles();
    const ca = { certPem: await readFile(files.ca, 'utf8'), keyPem: await readFile(join(files.certs, 'ca-key.pem'), 'utf8') };
    const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server' });
    const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    const registry = getRegistry();
    try {
      const registration = { ID: 'cn-only', Name: 'cn-only', Port: 1, Check: { CheckID: 'cn-only-check', HTTP: url, TLSServerName: 'localhost', Interval: '1s', Timeout: '2s' } };
      const put = await fetch(`${registry.httpAddr}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify(registration) });
      assert.equal(put.status, 200, await put.text());
      const check = await eventually('the check to have run', async () => {
        const checks = (await (await fetch(`${registry.httpAddr}/v1/agent/checks`)).json()) as Record<string, { Status: string; Output: string }>;
        const found = checks['cn-only-check'];
        return found && found.Output !== '' ? found : undefined;
      });
      assert.equal(check.Status, 'critical');
      assert.equal(check.Output, `Get "${url}": tls: failed to verify certificate: x509: certificate relies on legacy Common Name field, use SANs instead`);
    } finally {
      await fetch(`${registry.httpAddr}/v1/agent/service/deregister/cn-only`, { method: 'PUT' });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it(`${label}: every farol serve stops on SIGTERM, exits 0 and leaves the registry`, async () => {
    const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
    assert.equal(running.length, 2);
    for (const child of running) child.kill('SIGTERM');
    const exits = await Promise.all(running.map((child) => waitForExit(child)));
    assert.deepEqual(exits.map((exit) => exit.code), [0, 0]);
    assert.deepEqual(await health(getRegistry(), 'vault', false), []);
    assert.deepEqual(await health(getRegistry(), 'seed', false), []);
  });
}

// Real Consul: the agent trusts the CA that `farol certs init` made, so the files come first.
let consulFiles: Files | undefined;
describeWithConsul(
  'mTLS-only services are healthy in a real Consul',
  (getAgent) => {
    after(async () => {
      if (consulFiles) await rm(consulFiles.dir, { recursive: true, force: true });
    });
    scenarios('consul', () => getAgent(), () => consulFiles!);
  },
  async () => {
    consulFiles = await makeFiles();
    return { caFile: consulFiles.ca };
  },
);

describe('mTLS-only services are healthy in the embedded registry', () => {
  let files: Files;
  let registry: RunningRegistry;

  before(async () => {
    files = await makeFiles();
    registry = await startRegistry({ port: 0, caFile: files.ca });
  });

  after(async () => {
    await registry?.close();
    if (files) await rm(files.dir, { recursive: true, force: true });
  });

  scenarios('registry', () => registry, () => files);
});
