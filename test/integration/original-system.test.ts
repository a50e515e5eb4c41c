/**
 * The original project, end to end, as a user runs it: real CLI processes, a real Consul agent.
 * certs → user → two servers registered with passing checks → the client finds them (200 with
 * the right password, 401 with a wrong one) → SIGTERM removes one from Consul → SIGKILL turns
 * the other critical → the logs hold the accesses and none of the secrets.
 */
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describeWithConsul } from '../support/describe-with-consul.js';
import type { ConsulAgent } from '../support/consul-agent.js';
import { runFarol, spawnFarol, waitForExit, waitForLine, type CliRun } from '../support/cli.js';
import { eventually, rawHealth } from '../support/consul-health.js';




// The agent must trust the CA that `farol certs init` makes, so the certificates come first,
// from the agent-options hook that runs before the agent starts.
let dir: string;
let certsRun: CliRun;

async function createCertificatesBeforeConsulStarts(): Promise<{ caFile: string }> {
  dir = await mkdtemp(join(tmpdir(), 'farol-e2e-'));
  certsRun = await runFarol(['certs', 'init', '--dir', join(dir, 'certs'), '--service', 'api']);
  return { caFile: join(dir, 'certs', 'ca.pem') };
}

describeWithConsul('the original system, end to end against a real Consul', (getAgent) => {
  const password = 'correct horse battery staple';
  const wrongPassword = 'Tr0ub4dor&3';
  let agent: ConsulAgent;
  const servers: { child: ChildProcess; id: string; port: number }[] = [];

  const paths = () => ({
    certs: join(dir, 'certs'),
    users: join(dir, 'users.txt'),
    serverLog: join(dir, 'logs', 'server-log.txt'),
    clientLog: join(dir, 'logs', 'client-log.txt'),
  });

  after(async () => {
    for (const { child } of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a CA and a server certificate without OpenSSL', async () => {
    assert.equal(certsRun.code, 0, certsRun.stderr);
    for (const file of ['ca.pem', 'ca-key.pem', 'cert.pem', 'key.pem']) {
      assert.match(await readFile(join(paths().certs, file), 'utf8'), /-----BEGIN /);
    }
  });

  it('adds a user from standard input, storing only a hash', async () => {
    const run = await runFarol(['users', 'add', 'alice', '--file', paths().users, '--password-stdin'], { stdin: `${password}\n` });
    assert.equal(run.code, 0, run.stderr);
    const users = await readFile(paths().users, 'utf8');
    assert.match(users, /^alice:/m);
    assert.ok(!users.includes(password));
  });

  it('starts two servers that register in Consul and pass their HTTPS checks', async () => {
    agent = getAgent();
    for (let i = 0; i < 2; i += 1) {
      const child = spawnFarol(
        ['serve', '--service', 'api', '--port', '0', '--certs', paths().certs, '--users', paths().users,
          '--check-interval', '1s', '--deregister-after', '1m', '--tag', `replica-${i}`, '--meta', 'team=platform',
          '--consul', agent.address, '--log-file', paths().serverLog],
      );
      const match = await waitForLine(child, /serving api instance (\S+) at https:\/\/[^:]+:(\d+)/);
      servers.push({ child, id: match[1]!, port: Number(match[2]) });
    }
    const passing = await eventually('both instances passing', async () => {
      const entries = await rawHealth(agent, 'api', true);
      return entries.length === 2 ? entries : undefined;
    });
    assert.deepEqual(
      passing.map((e) => e.Service.ID).sort(),
      servers.map((s) => s.id).sort(),
    );
  });

  it('lets the client find a server through Consul and get 200 with the right password', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20 && seen.size < 2; i += 1) {
      const run = await runFarol(
        ['call', 'api', '/', '--user', 'alice', '--ca', join(paths().certs, 'ca.pem'), '--consul', agent.address, '--log-file', paths().clientLog],
        { env: { FAROL_PASSWORD: password } },
      );
      assert.equal(run.code, 0, run.stderr);
      const body = JSON.parse(run.stdout) as { service: string; instance: string; user: string };
      assert.equal(body.service, 'api');
      assert.equal(body.user, 'alice');
      assert.ok(servers.some((s) => s.id === body.instance), `unknown instance ${body.instance}`);
      seen.add(body.instance);
    }
    assert.equal(seen.size, 2, 'separate calls spread over both instances');
  });

  it('gets a 401 with a wrong password, reported with its own exit code', async () => {
    const run = await runFarol(
      ['call', 'api', '/', '--user', 'alice', '--ca', join(paths().certs, 'ca.pem'), '--consul', agent.address, '--log-file', paths().clientLog],
      { env: { FAROL_PASSWORD: wrongPassword } },
    );
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /401/);
    assert.ok(!run.stderr.includes('    at '), 'no stack trace for an expected condition');
  });

  it('removes a server from the passing list when it gets SIGTERM, and the server exits 0', async () => {
    const [first] = servers;
    first!.child.kill('SIGTERM');
    const exit = await waitForExit(first!.child);
    assert.equal(exit.code, 0);
    const entries = await rawHealth(agent, 'api', false);
    assert.ok(!entries.some((e) => e.Service.ID === first!.id), 'deregistered before exit');
    assert.equal((await rawHealth(agent, 'api', true)).length, 1);
  });

  it('turns a SIGKILLed server critical in Consul', async () => {
    const second = servers[1]!;
    second.child.kill('SIGKILL');
    await waitForExit(second.child);
    const entry = await eventually('the killed instance to turn critical', async () => {
      const entries = await rawHealth(agent, 'api', false);
      const mine = entries.find((e) => e.Service.ID === second.id);
      return mine && mine.Checks.some((c) => c.ServiceID === second.id && c.Status === 'critical') ? mine : undefined;
    });
    assert.ok(entry);
    assert.equal((await rawHealth(agent, 'api', true)).length, 0);
    const run = await runFarol(
      ['call', 'api', '/', '--user', 'alice', '--ca', join(paths().certs, 'ca.pem'), '--consul', agent.address, '--log-file', paths().clientLog],
      { env: { FAROL_PASSWORD: password } },
    );
    assert.equal(run.code, 3, `no healthy instance has its own exit code: ${run.stderr}`);
  });

  it('keeps every access in the logs and none of the secrets', async () => {
    const serverLog = await readFile(paths().serverLog, 'utf8');
    const clientLog = await readFile(paths().clientLog, 'utf8');
    const accesses = serverLog.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(accesses.some((l) => l.event === 'access' && l.principal === 'alice' && l.status === 200 && l.method === 'GET'));
    assert.ok(accesses.some((l) => l.event === 'auth_failed' && typeof l.remoteAddress === 'string'));
    assert.ok(clientLog.includes('"service":"api"'));
    const hash = (await readFile(paths().users, 'utf8')).split('\n').find((l) => l.startsWith('alice:'))!.slice('alice:'.length);
    for (const secret of [
      password,
      wrongPassword,
      hash,
      Buffer.from(`alice:${password}`).toString('base64'),
      Buffer.from(`alice:${wrongPassword}`).toString('base64'),
    ]) {
      assert.ok(!serverLog.includes(secret), `server log leaks ${secret.slice(0, 6)}…`);
      assert.ok(!clientLog.includes(secret), `client log leaks ${secret.slice(0, 6)}…`);
    }
  });
}, createCertificatesBeforeConsulStarts);
