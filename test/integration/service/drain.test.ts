/**
 * The host's drain and anti-entropy against a real Consul agent: on stop() the instance leaves
 * Consul's passing set (maintenance mode) while the port still accepts, in-flight requests finish,
 * the port closes after the drain delay and the instance is deregistered; after the agent restarts
 * with empty state, the instance is registered and passing again within seconds.
 */
import { after, afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { type FarolService, type ServiceOptions } from '../../../src/service/index.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { rawHealth } from '../../support/consul-health.js';
import { basic, httpsGet, issueTestPki, logLines, refusesConnections, serviceStarter, slowRoute, tempDir, until, writeUsers, type TestPki } from '../../service/fixtures.js';

const password = 'correct horse battery staple';
let dir: string;
let pki: TestPki;
let usersFile: string;

async function prepareAgent(): Promise<{ caFile: string }> {
  dir = await tempDir();
  pki = await issueTestPki(dir, ['api']);
  usersFile = await writeUsers(dir, { alice: password });
  return { caFile: pki.caFile };
}

describeWithConsul('service drain and anti-entropy in a real Consul', (getAgent) => {
  const running: FarolService[] = [];
  let client: Agent | undefined;

  const options = (overrides: Partial<ServiceOptions>): ServiceOptions => ({
    name: 'api',
    port: 0,
    tls: { certFile: pki.certFile, keyFile: pki.keyFile },
    usersFile,
    consul: { address: getAgent().address, timeoutMs: 2000 },
    logFile: join(dir, 'logs', 'server-log.txt'),
    check: { interval: '1s', timeout: '1s' },
    drain: { delayMs: 0 },
    routes: slowRoute,
    ...overrides,
  });

  const started = serviceStarter(options, running);

  const passingIds = async (name = 'api'): Promise<string[]> => (await rawHealth(getAgent(), name, true)).map((e) => e.Service.ID);
  const allIds = async (name = 'api'): Promise<string[]> => (await rawHealth(getAgent(), name, false)).map((e) => e.Service.ID);

  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
    await client?.close();
    client = undefined;
  });

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('drains in order: leaves ?passing while the port still accepts, finishes the in-flight request, refuses after the delay, deregisters', async () => {
    const agent = new Agent({ connect: { ca: pki.caPem } });
    client = agent;
    const logFile = join(dir, 'logs', 'drain.txt');
    const service = await started({ drain: { delayMs: 1000 }, logFile });
    assert.ok(await until(async () => (await passingIds()).includes(service.instanceId), 10_000), 'passing before the drain');

    // A watcher blocked on ?passing, as Farol's client watches.
    const first = await fetch(`${getAgent().httpAddr}/v1/health/service/api?passing`);
    const index = first.headers.get('x-consul-index');
    await first.body?.cancel();
    const watch = fetch(`${getAgent().httpAddr}/v1/health/service/api?passing&index=${index}&wait=30s`).then(async (r) => ({
      at: performance.now(),
      ids: ((await r.json()) as { Service: { ID: string } }[]).map((e) => e.Service.ID),
    }));

    const inFlight = httpsGet(agent, `${service.url}/slow?ms=2000`, { authorization: basic('alice', password) });
    await sleep(150);
    const t0 = performance.now();
    const stopped = service.stop({ reason: 'SIGTERM' });

    const woken = await watch;
    const wakeMs = woken.at - t0;
    assert.ok(!woken.ids.includes(service.instanceId), 'the woken watch no longer lists the instance');
    assert.ok(wakeMs < 500, `a blocking ?passing watch woke ${Math.round(wakeMs)} ms after stop()`);
    assert.ok(!(await passingIds()).includes(service.instanceId));
    assert.equal(await refusesConnections(service.port), false, 'it left the passing set before the port stopped accepting');

    assert.ok(await until(() => refusesConnections(service.port), 3000), 'new connections are refused after the delay');
    const closedMs = performance.now() - t0;
    assert.ok(closedMs >= 950, `the port closed after the drain delay (${Math.round(closedMs)} ms)`);

    const response = await inFlight;
    assert.equal(response.status, 200, 'the in-flight request completes');
    assert.deepEqual(response.json(), { done: true });
    await stopped;
    assert.ok(!(await allIds()).includes(service.instanceId), 'deregistered at the end');

    const { lines } = await logLines(logFile, (l) => l.some((line) => line.event === 'stopped'));
    const order = ['drain_started', 'maintenance_enabled', 'drain_wait', 'drain_closed', 'deregistered', 'stopped'];
    assert.deepEqual(lines.map((l) => l.event).filter((e) => order.includes(e as string)), order);
    console.log(`drain timings: watch woke after ${Math.round(wakeMs)} ms, port closed after ${Math.round(closedMs)} ms`);
  });

  // Last: it restarts the shared agent.
  it('registers again, and passes again within 5 s, after the agent restarts with empty state', async () => {
    const logFile = join(dir, 'logs', 'anti-entropy.txt');
    const https = await started({ logFile });
    const ttl = await started({ name: 'beat', check: { kind: 'ttl', ttl: '3s' }, logFile });
    assert.ok(await until(async () => (await passingIds()).includes(https.instanceId), 10_000));
    assert.ok(await until(async () => (await passingIds('beat')).includes(ttl.instanceId), 10_000));

    await getAgent().kill();
    await sleep(2500); // several failed rounds
    await getAgent().start();
    const back = performance.now();
    assert.deepEqual(await allIds(), [], 'the restarted agent is empty');

    const bothPassing = await until(
      async () => (await passingIds()).includes(https.instanceId) && (await passingIds('beat')).includes(ttl.instanceId),
      5000,
    );
    const backMs = performance.now() - back;
    assert.ok(bothPassing, 'both instances registered and passing within 5 s of the agent being back');
    console.log(`anti-entropy: registered and passing ${Math.round(backMs)} ms after the agent was back`);

    const { lines } = await logLines(logFile, (l) => l.filter((line) => line.event === 'consul_reachable').length >= 2);
    for (const service of [https, ttl]) {
      const mine = lines.filter((l) => l.instance === service.instanceId);
      const warnings = mine.filter((l) => l.level === 40);
      assert.equal(warnings.length, 1, `one warning for the outage: ${JSON.stringify(warnings)}`);
      assert.ok(['consul_unreachable', 'consul_call_failed'].includes(warnings[0]!.event as string));
      const reachable = mine.filter((l) => l.event === 'consul_reachable');
      assert.equal(reachable.length, 1);
      assert.equal(reachable[0]!.reRegistered, true);
    }
  });
}, prepareAgent);
