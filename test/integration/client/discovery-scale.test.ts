import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDiscovery, type Discovery } from '../../../src/client/discovery.js';
import { ConsulClient } from '../../../src/consul/index.js';
import { channels, createEventOwner } from '../../../src/events/channels.js';
import type { ConsulRequestEnd, ConsulWatchError, DiscoveryReleased } from '../../../src/events/channels.js';
import { connectionsTo } from '../../support/agent-connections.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { firstRecorded } from '../../support/first-recorded.js';

const SERVICES = 250;
const BOUND = 32;
const names = Array.from({ length: SERVICES }, (_, i) => `scale-${String(i).padStart(3, '0')}`);

/** Runs `work` over `items`, `width` at a time. */
async function eachLimited<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

interface Change {
  service: string;
  passing: number;
  ports: number[];
  at: number;
}

describeWithConsul('discovery of 250 services through a bound of 32 blocking queries, against a real agent with its default limits', (getAgent) => {
  let admin: ConsulClient;
  let watching: ConsulClient;
  let discovery: Discovery;
  let port: number;
  let baseline = 0;
  const changes: Change[] = [];
  const statuses: number[] = [];
  const watchErrors: string[] = [];
  const onRequest = (message: unknown): void => {
    statuses.push((message as ConsulRequestEnd).status);
  };
  const onWatchError = (message: unknown): void => {
    watchErrors.push((message as ConsulWatchError).error.message);
  };

  before(async () => {
    port = Number(getAgent().address.split(':').at(-1));
    const registering = new ConsulClient({ address: getAgent().address });
    await eachLimited(names.flatMap((name) => [1, 2].map((n) => ({ name, n }))), 8, async ({ name, n }) => {
      await registering.agent.registerService({
        ID: `${name}-${n}`, Name: name, Address: '127.0.0.1', Port: 10_000 + n,
        Check: { CheckID: `${name}-${n}-ttl`, TTL: '10m', Status: 'passing' },
      });
    });
    await registering.close();
    admin = new ConsulClient({ address: getAgent().address });
    await admin.status.leader();
    // Connections already open (the admin's, the agent helper's keep-alive ones), not discovery's.
    baseline = connectionsTo(port) ?? 0;
    watching = new ConsulClient({ address: getAgent().address });
    subscribe(channels.consulRequestEnd.name, onRequest);
    subscribe(channels.consulWatchError.name, onWatchError);
    discovery = createDiscovery({
      consul: watching,
      owner: createEventOwner('client', 'discovery-scale-test'),
      maxConnections: BOUND,
      wait: '30s',
      onChange: (service, instances) => changes.push({ service, passing: instances.length, ports: instances.map((i) => i.port).sort(), at: performance.now() }),
    });
  });

  after(async () => {
    discovery?.close();
    unsubscribe(channels.consulRequestEnd.name, onRequest);
    unsubscribe(channels.consulWatchError.name, onWatchError);
    await watching?.close();
    await admin?.close();
  });

  it('answers every service, with no 429 and no failed query, holding at most the bound of connections', async () => {
    const answers = await Promise.all(names.map((name) => discovery.passingInstances(name)));
    for (const [i, instances] of answers.entries()) assert.equal(instances.length, 2, names[i]);
    await sleep(500);
    const connections = connectionsTo(port);
    if (connections !== undefined) assert.ok(connections - baseline <= BOUND, `${connections} connections to the agent, ${baseline} of them before discovery`);
    assert.deepEqual(statuses.filter((s) => s === 429), []);
    assert.deepEqual(watchErrors, []);
  });

  it('delivers a health change of random services within 2 s, whether they have a query of their own or share the detector', async () => {
    // The first BOUND - 6 services asked for have their own query; the others share the detector.
    const picks = [names[3]!, names[200]!, names[Math.floor(Math.random() * SERVICES)]!, names[SERVICES - 1]!];
    for (const service of new Set(picks)) {
      const since = performance.now();
      await admin.agent.updateTTL(`${service}-1-ttl`, 'critical', 'test');
      const down = await firstRecorded(changes, (c) => c.service === service && c.at >= since && c.passing === 1, 2000);
      assert.ok(down.at - since < 2000);
      const back = performance.now();
      await admin.agent.updateTTL(`${service}-1-ttl`, 'passing', 'test');
      await firstRecorded(changes, (c) => c.service === service && c.at >= back && c.passing === 2, 2000);
    }
    assert.deepEqual(statuses.filter((s) => s === 429), []);
    assert.deepEqual(watchErrors, []);
  });

  it('delivers a moved instance (same checks, new port: only the catalog moves) within 2 s', async () => {
    const service = names[SERVICES - 2]!;
    const since = performance.now();
    await admin.agent.registerService({
      ID: `${service}-2`, Name: service, Address: '127.0.0.1', Port: 20_002,
      Check: { CheckID: `${service}-2-ttl`, TTL: '10m', Status: 'passing' },
    });
    const moved = await firstRecorded(changes, (c) => c.service === service && c.at >= since && c.ports.includes(20_002), 2000);
    assert.deepEqual(moved.ports, [10_001, 20_002]);
  });
});

describeWithConsul('idle services stop being watched', (getAgent) => {
  let admin: ConsulClient;
  let watching: ConsulClient;
  let discovery: Discovery;
  const released: string[] = [];
  const onReleased = (message: unknown): void => {
    released.push((message as DiscoveryReleased).service);
  };

  before(async () => {
    admin = new ConsulClient({ address: getAgent().address });
    for (const name of ['idle-a', 'idle-b', 'idle-c']) {
      await admin.agent.registerService({ ID: `${name}-1`, Name: name, Address: '127.0.0.1', Port: 10_001 });
    }
    watching = new ConsulClient({ address: getAgent().address });
    subscribe(channels.discoveryReleased.name, onReleased);
  });

  after(async () => {
    discovery?.close();
    unsubscribe(channels.discoveryReleased.name, onReleased);
    await watching?.close();
    await admin?.close();
  });

  it('releases a service not called for idleReleaseMs, keeps one still called, and watches it again on the next call', async () => {
    // A bound of 8: two services with their own query, the third through the shared detector.
    discovery = createDiscovery({ consul: watching, owner: createEventOwner('client', 'idle-test'), maxConnections: 8, idleReleaseMs: 1000 });
    for (const name of ['idle-a', 'idle-b', 'idle-c']) assert.equal((await discovery.passingInstances(name)).length, 1);
    const started = performance.now();
    while (performance.now() - started < 3000 && released.length < 2) {
      await discovery.passingInstances('idle-b');
      await sleep(100);
    }
    assert.deepEqual([...released].sort(), ['idle-a', 'idle-c']);
    assert.deepEqual([...discovery.snapshot().keys()], ['idle-b']);
    assert.equal((await discovery.passingInstances('idle-a')).length, 1);
    assert.deepEqual([...discovery.snapshot().keys()].sort(), ['idle-a', 'idle-b']);
  });
});
