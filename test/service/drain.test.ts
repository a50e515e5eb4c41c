/**
 * The host's registration lifecycle against the embedded registry (fast; the same scenarios run
 * against a real Consul agent in test/integration/service/): ordered graceful drain, the fallback
 * to deregistering, and anti-entropy (re-registering with an agent that forgot the instance).
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { startRegistry, type RunningRegistry } from '../../src/registry/index.js';
import { type FarolService, type ServiceOptions } from '../../src/service/index.js';
import { basic, httpsGet, issueTestPki, logLines, refusesConnections, serviceStarter, slowRoute, tempDir, until, writeUsers, type TestPki } from './fixtures.js';

const password = 'correct horse battery staple';

interface Entry {
  Service: { ID: string };
  Checks: { CheckID: string; Status: string; Name: string }[];
}

async function health(httpAddr: string, passing: boolean): Promise<Entry[]> {
  const response = await request(`${httpAddr}/v1/health/service/api${passing ? '?passing' : ''}`);
  assert.equal(response.statusCode, 200);
  return (await response.body.json()) as Entry[];
}

const ids = (entries: Entry[]): string[] => entries.map((e) => e.Service.ID);

describe('service drain and anti-entropy (embedded registry)', () => {
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  let agent: Agent;
  let registry: RunningRegistry;
  let logCount = 0;
  const running: FarolService[] = [];
  const servers: Server[] = [];

  function logFile(): string {
    logCount += 1;
    return join(dir, 'logs', `server-${logCount}.txt`);
  }

  const options = (overrides: Partial<ServiceOptions>): ServiceOptions => ({
    name: 'api',
    port: 0,
    tls: { certFile: pki.certFile, keyFile: pki.keyFile },
    usersFile,
    consul: { address: registry.address, timeoutMs: 1000 },
    check: { kind: 'ttl', ttl: '10s' },
    drain: { delayMs: 0 },
    routes: slowRoute,
    ...overrides,
  });

  const started = serviceStarter(options, running);

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir);
    usersFile = await writeUsers(dir, { alice: password });
    agent = new Agent({ connect: { ca: pki.caPem } });
    registry = await startRegistry({ port: 0, bind: '127.0.0.1' });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  after(async () => {
    await agent.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('drains in order: out of ?passing at once, port open for the delay, in-flight request completes, then deregistered', async () => {
    const file = logFile();
    const service = await started({ drain: { delayMs: 600 }, logFile: file });
    assert.deepEqual(ids(await health(registry.httpAddr, true)), [service.instanceId]);
    // An idle keep-alive connection must not hold the close up.
    assert.equal((await httpsGet(agent, `${service.url}/health`)).status, 200);

    const inFlight = httpsGet(agent, `${service.url}/slow?ms=1000`, { authorization: basic('alice', password) });
    await sleep(100);
    const t0 = performance.now();
    const stopped = service.stop({ reason: 'test' });

    assert.ok(await until(async () => ids(await health(registry.httpAddr, true)).length === 0, 1000), 'left ?passing');
    const leftMs = performance.now() - t0;
    assert.ok(leftMs < 300, `left the passing set ${Math.round(leftMs)} ms after stop()`);
    const entry = (await health(registry.httpAddr, false)).find((e) => e.Service.ID === service.instanceId);
    assert.ok(entry, 'still registered, in maintenance');
    assert.deepEqual(
      entry.Checks.filter((c) => c.CheckID === `_service_maintenance:${service.instanceId}`).map((c) => [c.Name, c.Status]),
      [['Service Maintenance Mode', 'critical']],
    );
    assert.equal(await refusesConnections(service.port), false, 'still accepting during the drain delay');
    assert.equal((await httpsGet(agent, `${service.url}/health`)).status, 503);

    assert.ok(await until(() => refusesConnections(service.port), 1500), 'refuses new connections after the delay');
    const closedMs = performance.now() - t0;
    assert.ok(closedMs >= 550, `the port closed only after the delay (${Math.round(closedMs)} ms)`);
    assert.ok(
      (await health(registry.httpAddr, false)).some((e) => e.Service.ID === service.instanceId),
      'not deregistered while a request is still in flight',
    );

    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { done: true });
    await stopped;
    const stopMs = performance.now() - t0;
    assert.ok(stopMs < 2000, `stop() resolved ${Math.round(stopMs)} ms after it began`);
    assert.deepEqual(ids(await health(registry.httpAddr, false)), [], 'deregistered at the end');

    const { lines } = await logLines(file, (l) => l.some((line) => line.event === 'stopped'));
    const events = lines.map((line) => line.event).filter((e) => typeof e === 'string' && !['access', 'registered', 'started'].includes(e));
    assert.deepEqual(events, ['drain_started', 'maintenance_enabled', 'drain_wait', 'drain_closed', 'deregistered', 'stopped']);
    const drainStarted = lines.find((l) => l.event === 'drain_started')!;
    assert.deepEqual([drainStarted.reason, drainStarted.delayMs], ['test', 600]);
    assert.equal(lines.find((l) => l.event === 'drain_closed')!.forced, false);
  });

  it('cuts connections still busy after drain.timeoutMs', async () => {
    const file = logFile();
    const service = await started({ drain: { delayMs: 0, timeoutMs: 300 }, logFile: file });
    const inFlight = httpsGet(agent, `${service.url}/slow?ms=5000`, { authorization: basic('alice', password) }).then(
      () => 'answered',
      () => 'cut',
    );
    await sleep(100);
    const t0 = performance.now();
    await service.stop();
    assert.ok(performance.now() - t0 < 1500);
    assert.equal(await inFlight, 'cut');
    const { lines } = await logLines(file, (l) => l.some((line) => line.event === 'stopped'));
    assert.ok(lines.some((l) => l.event === 'drain_forced' && l.timeoutMs === 300));
  });

  it('deregisters first when maintenance mode cannot be enabled', async () => {
    // A proxy that refuses the maintenance call and forwards everything else to the registry.
    const proxy = createServer((req, res) => {
      if (req.url?.startsWith('/v1/agent/service/maintenance/')) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('no maintenance today');
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        request(`${registry.httpAddr}${req.url}`, { method: req.method as 'GET' | 'PUT', body: Buffer.concat(chunks) })
          .then(async (upstream) => {
            res.writeHead(upstream.statusCode, { 'content-type': String(upstream.headers['content-type'] ?? 'text/plain') });
            res.end(Buffer.from(await upstream.body.arrayBuffer()));
          })
          .catch(() => res.writeHead(502).end());
      });
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as { port: number };
    const file = logFile();
    const service = await started({ consul: { address: `127.0.0.1:${port}` }, drain: { delayMs: 400 }, logFile: file });
    assert.deepEqual(ids(await health(registry.httpAddr, true)), [service.instanceId]);
    const stopped = service.stop();
    assert.ok(await until(async () => ids(await health(registry.httpAddr, false)).length === 0, 300), 'deregistered at once');
    assert.equal(await refusesConnections(service.port), false, 'the delay still applies');
    await stopped;
    const { lines } = await logLines(file, (l) => l.some((line) => line.event === 'stopped'));
    const events = lines.map((l) => l.event);
    assert.ok(events.includes('maintenance_failed'));
    assert.ok(events.indexOf('deregistered') < events.indexOf('drain_wait'), 'deregistered before the wait');
    assert.equal(events.filter((e) => e === 'deregistered').length, 1, 'not deregistered twice');
  });

  it('registers again when the agent forgets the instance, and restarts the TTL heartbeat', async () => {
    const file = logFile();
    const service = await started({ check: { kind: 'ttl', ttl: '900ms' }, keepRegistered: { intervalMs: 200 }, logFile: file });
    // Behind the host's back, as an agent restarted with empty state would be.
    const gone = await request(`${registry.httpAddr}/v1/agent/service/deregister/${service.instanceId}`, { method: 'PUT' });
    assert.equal(gone.statusCode, 200);
    await gone.body.dump();
    assert.ok(await until(async () => ids(await health(registry.httpAddr, true)).includes(service.instanceId), 1500), 'registered and passing again');
    // The heartbeat keeps it passing past several TTLs.
    await sleep(2000);
    assert.deepEqual(ids(await health(registry.httpAddr, true)), [service.instanceId]);
    const { lines } = await logLines(file, (l) => l.some((line) => line.event === 're_registered'));
    assert.equal(lines.filter((l) => l.event === 're_registered').length, 1);
    assert.equal(lines.filter((l) => l.level === 40).length, 0, 'an agent that answers is no warning');
  });

  it('re-registers at once when a TTL heartbeat is refused for an unknown check, even without periodic checks', async () => {
    const service = await started({ check: { kind: 'ttl', ttl: '600ms' }, keepRegistered: { intervalMs: 0 }, logFile: logFile() });
    const gone = await request(`${registry.httpAddr}/v1/agent/service/deregister/${service.instanceId}`, { method: 'PUT' });
    await gone.body.dump();
    // The heartbeat beats every 200 ms; its 404 "Unknown check ID" triggers the re-registration.
    assert.ok(await until(async () => ids(await health(registry.httpAddr, true)).includes(service.instanceId), 1500));
  });

  it('logs one warning while the registry is down, then one line when it is back and the instance registered again', async () => {
    const own = await startRegistry({ port: 0, bind: '127.0.0.1' });
    const ownPort = own.port;
    let restarted: RunningRegistry | undefined;
    try {
      const file = logFile();
      const service = await started({
        consul: { address: own.address, timeoutMs: 500 },
        check: { kind: 'ttl', ttl: '900ms' },
        keepRegistered: { intervalMs: 100 },
        logFile: file,
      });
      await own.close();
      await sleep(1200); // many rounds and heartbeats fail
      restarted = await startRegistry({ port: ownPort, bind: '127.0.0.1' });
      const back = performance.now();
      assert.ok(await until(async () => ids(await health(restarted!.httpAddr, true)).includes(service.instanceId), 2000));
      const backMs = performance.now() - back;
      const { lines } = await logLines(file, (l) => l.some((line) => line.event === 'consul_reachable'));
      const warnings = lines.filter((l) => l.level === 40);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0]!.event, 'consul_unreachable');
      const reachable = lines.filter((l) => l.event === 'consul_reachable');
      assert.equal(reachable.length, 1);
      assert.equal(reachable[0]!.reRegistered, true);
      assert.ok(backMs < 1000, `passing again ${Math.round(backMs)} ms after the registry came back`);
      await service.stop();
      assert.deepEqual(ids(await health(restarted.httpAddr, false)), []);
    } finally {
      await own.close();
      await restarted?.close();
    }
  });

  it('never re-registers while draining', async () => {
    const service = await started({ keepRegistered: { intervalMs: 50 }, drain: { delayMs: 500 }, logFile: logFile() });
    const stopped = service.stop();
    await sleep(50);
    const gone = await request(`${registry.httpAddr}/v1/agent/service/deregister/${service.instanceId}`, { method: 'PUT' });
    await gone.body.dump();
    await sleep(300);
    assert.deepEqual(ids(await health(registry.httpAddr, false)), [], 'stays gone during the drain');
    await stopped;
    assert.deepEqual(ids(await health(registry.httpAddr, false)), []);
  });
});
