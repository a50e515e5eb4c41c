/**
 * A TTL of 2000h (longer than setTimeout's 2^31-1 ms) against a real Consul agent: the instance
 * passes, and its heartbeat (a third of the TTL, on a chained timer) does not run every millisecond.
 * TTL updates are counted by a proxy between Farol and the agent. Once through the library, once
 * through `farol serve --check ttl --check-interval 2000h`, whose stderr must carry no
 * TimeoutOverflowWarning.
 */
import { after, afterEach, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createService, type FarolService } from '../../../src/service/index.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { spawnFarol, waitForLine } from '../../support/cli.js';
import { eventually, rawHealth } from '../../support/consul-health.js';
import { issueTestPki, tempDir, writeUsers, type TestPki } from '../../service/fixtures.js';

/** How long each scenario counts TTL updates after the instance passes. */
const WATCH_MS = 3000;
const TTL_UPDATE = /^\/v1\/agent\/check\/(pass|warn|fail|update)\//;

/** Forwards every request to the agent and counts the TTL updates that go through. */
async function countingProxy(agentAddress: string): Promise<{ server: Server; address: string; ttlUpdates: () => number }> {
  let updates = 0;
  const [host, port] = agentAddress.split(':') as [string, string];
  const server = createServer((req, res) => {
    if (req.method === 'PUT' && TTL_UPDATE.test(req.url ?? '')) updates += 1;
    const upstream = httpRequest({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, ttlUpdates: () => updates };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let pki: TestPki;
let usersFile: string;

before(async () => {
  dir = await tempDir();
  pki = await issueTestPki(dir, ['slow']);
  usersFile = await writeUsers(dir, { alice: 'correct horse battery staple' });
});

after(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describeWithConsul('a 2000h TTL against a real Consul', (getAgent) => {
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  const running: FarolService[] = [];
  let child: ChildProcess | undefined;
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.name);

  before(async () => {
    proxy = await countingProxy(getAgent().address);
    process.on('warning', onWarning);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    child = undefined;
  });

  after(async () => {
    process.off('warning', onWarning);
    proxy.server.closeAllConnections();
    await new Promise((resolve) => proxy.server.close(resolve));
  });

  async function passing(name: string, instanceId?: string): Promise<void> {
    await eventually(`${name} passing`, async () =>
      (await rawHealth(getAgent(), name, true)).find((entry) => instanceId === undefined || entry.Service.ID === instanceId),
    );
  }

  it('createService with check { kind: ttl, ttl: 2000h }: passes, then sends no heartbeat within seconds', async () => {
    const service = await createService({
      name: 'slow',
      port: 0,
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      usersFile,
      consul: { address: proxy.address },
      logFile: join(dir, 'logs', 'library-log.txt'),
      check: { kind: 'ttl', ttl: '2000h' },
      drain: { delayMs: 0 },
    });
    running.push(service);
    const before = proxy.ttlUpdates();
    await service.start();
    await passing('slow', service.instanceId);
    await sleep(WATCH_MS);
    // One pass at registration; the next heartbeat is due in 666h40m. A 1 ms timer sent thousands.
    assert.equal(proxy.ttlUpdates() - before, 1, `TTL updates in ${WATCH_MS} ms`);
    await passing('slow', service.instanceId);
    assert.deepEqual(warnings.filter((name) => name === 'TimeoutOverflowWarning'), []);
  });

  it('farol serve --check ttl --check-interval 2000h: passes, a bounded number of TTL updates, no TimeoutOverflowWarning', async () => {
    const before = proxy.ttlUpdates();
    child = spawnFarol([
      'serve', '--service', 'slow-cli', '--port', '0', '--cert', pki.certFile, '--key', pki.keyFile, '--users', usersFile,
      '--check', 'ttl', '--check-interval', '2000h', '--consul', proxy.address, '--drain-delay', '0s',
      '--log-file', join(dir, 'logs', 'cli-log.txt'),
    ]);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitForLine(child, /^farol: serving slow-cli/);
    await passing('slow-cli');
    await sleep(WATCH_MS);
    assert.equal(proxy.ttlUpdates() - before, 1, `TTL updates in ${WATCH_MS} ms`);
    const exited = new Promise<number | null>((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.doesNotMatch(stderr, /TimeoutOverflowWarning/);
  });
});
