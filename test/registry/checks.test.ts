import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckDefinition } from '../../src/registry/catalog.js';
import { CheckRunner, StatusThreshold, ttlExpiredOutput, type ProbeResult } from '../../src/registry/checks.js';
import { FakeClock } from './fake-clock.js';
import { longTimers } from '../../src/timers/long-timeout.js';
import { newCatalog, service, ttlCheck } from './fixtures.js';

function tcpCheck(checkId: string, extra: Partial<CheckDefinition> = {}): CheckDefinition {
  return { ...ttlCheck(checkId), type: 'tcp', tcp: '127.0.0.1:1', ttlMs: 0, intervalMs: 10_000, interval: '10s', ...extra };
}

/** Lets queued promise callbacks run (the probe is async). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('check runner', () => {
  let runner: CheckRunner | undefined;
  afterEach(() => runner?.stop());

  function setup(results: ProbeResult[] = [], random = () => 0) {
    const clock = new FakeClock();
    const catalog = newCatalog();
    const probed: string[] = [];
    runner = new CheckRunner({
      catalog,
      timers: clock,
      now: clock.now,
      random,
      probe: async (check) => {
        probed.push(check.checkId);
        return results.shift() ?? { status: 'passing', output: 'ok' };
      },
    });
    return { clock, catalog, probed, runner };
  }

  it('turns a TTL check critical with Consul\'s text when no update arrives in time', () => {
    const { clock, catalog, runner } = setup();
    catalog.registerService(service('w1', 'web'), [ttlCheck('c', { status: 'passing', ttlMs: 5000 })]);
    catalog.updateCheck('c', 'passing', 'all good');
    runner.ttlUpdated('c');
    clock.advance(4999);
    assert.equal(catalog.getCheck('c')?.status, 'passing');
    clock.advance(1);
    assert.equal(catalog.getCheck('c')?.status, 'critical');
    assert.equal(catalog.getCheck('c')?.output, 'TTL expired (last output before timeout follows): all good');
  });

  it('restarts the TTL on every update', () => {
    const { clock, catalog, runner } = setup();
    catalog.registerService(service('w1', 'web'), [ttlCheck('c', { ttlMs: 5000 })]);
    for (let i = 0; i < 5; i += 1) {
      clock.advance(4000);
      catalog.updateCheck('c', 'passing', '');
      runner.ttlUpdated('c');
    }
    assert.equal(catalog.getCheck('c')?.status, 'passing');
  });

  it('writes "TTL expired" alone when there was no output', () => {
    assert.equal(ttlExpiredOutput(''), 'TTL expired');
  });

  it('probes an interval check after a stagger within the interval, then every interval', async () => {
    const { clock, catalog, probed } = setup([], () => 0.5);
    catalog.registerService(service('w1', 'web'), [tcpCheck('t')]);
    clock.advance(4999);
    assert.equal(probed.length, 0);
    clock.advance(1);
    await settle();
    assert.equal(probed.length, 1);
    assert.equal(catalog.getCheck('t')?.status, 'passing');
    clock.advance(10_000);
    await settle();
    assert.equal(probed.length, 2);
  });

  it('records each probe result on the check', async () => {
    const { clock, catalog } = setup([{ status: 'critical', output: 'dial tcp 127.0.0.1:1: connect: connection refused' }]);
    catalog.registerService(service('w1', 'web'), [tcpCheck('t', { status: 'passing' })]);
    clock.advance(0);
    await settle();
    assert.equal(catalog.getCheck('t')?.status, 'critical');
    assert.equal(catalog.getCheck('t')?.output, 'dial tcp 127.0.0.1:1: connect: connection refused');
  });

  it('stops probing a deregistered service', async () => {
    const { clock, catalog, probed } = setup();
    catalog.registerService(service('w1', 'web'), [tcpCheck('t')]);
    catalog.deregisterService('w1');
    clock.advance(60_000);
    await settle();
    assert.deepEqual(probed, []);
  });

  it('stops probing a check that a re-registration replaced', async () => {
    const { clock, catalog, probed } = setup();
    catalog.registerService(service('w1', 'web'), [tcpCheck('old'), tcpCheck('kept')]);
    catalog.registerService(service('w1', 'web'), [tcpCheck('kept')], { replaceExistingChecks: true });
    clock.advance(0);
    await settle();
    assert.deepEqual(probed, ['kept']);
  });

  it('reaps a service critical for longer than DeregisterCriticalServiceAfter', () => {
    const { clock, catalog, runner } = setup();
    catalog.registerService(service('w1', 'web'), [ttlCheck('c', { ttlMs: 1000, deregisterCriticalAfterMs: 60_000 })]);
    clock.advance(60_000);
    assert.deepEqual(runner.reap(), []);
    clock.advance(1);
    assert.deepEqual(runner.reap(), ['w1']);
    assert.equal(catalog.getService('w1'), undefined);
  });

  it('does not reap a service that recovered, and counts afresh after a new failure', () => {
    const { clock, catalog, runner } = setup();
    catalog.registerService(service('w1', 'web'), [ttlCheck('c', { ttlMs: 600_000, deregisterCriticalAfterMs: 60_000 })]);
    clock.advance(50_000);
    catalog.updateCheck('c', 'passing', '');
    clock.advance(50_000);
    catalog.updateCheck('c', 'critical', '');
    clock.advance(30_000);
    assert.deepEqual(runner.reap(), []);
    assert.ok(catalog.getService('w1'));
  });

  it('reaps on its own every reap interval (30 s, as Consul)', () => {
    const { clock, catalog } = setup();
    catalog.registerService(service('w1', 'web'), [ttlCheck('c', { ttlMs: 1000, deregisterCriticalAfterMs: 60_000 })]);
    clock.advance(90_000);
    assert.equal(catalog.getService('w1'), undefined);
  });

  it('never reaps a service without DeregisterCriticalServiceAfter', () => {
    const { clock, catalog } = setup();
    catalog.registerService(service('w1', 'web'), [ttlCheck('c', { ttlMs: 1000 })]);
    clock.advance(3_600_000);
    assert.ok(catalog.getService('w1'));
  });
});

describe('status thresholds (SuccessBeforePassing / FailuresBeforeWarning / FailuresBeforeCritical)', () => {
  it('records every result when no threshold is set', () => {
    const t = new StatusThreshold({});
    assert.deepEqual(['critical', 'passing', 'warning'].map((s) => t.next(s as 'passing')), ['critical', 'passing', 'warning']);
  });

  it('counts the first result at once, then needs the threshold after a change of direction, as Consul', () => {
    const t = new StatusThreshold({ successBeforePassing: 2, failuresBeforeCritical: 3, failuresBeforeWarning: 2 });
    const seen = (['passing', 'critical', 'critical', 'critical', 'passing', 'passing'] as const).map((s) => t.next(s));
    assert.deepEqual(seen, ['passing', undefined, 'warning', 'critical', undefined, 'passing']);
  });
});

describe('check runner with durations beyond 2^31-1 ms', () => {
  const HOUR = 3_600_000;

  /** The runner on the long timers the registry uses, over a manual clock that records every delay asked of it. */
  function setup() {
    const clock = new FakeClock();
    const delays: number[] = [];
    const base = {
      now: clock.now,
      setTimeout: (fn: () => void, ms: number) => (delays.push(ms), clock.setTimeout(fn, ms)),
      clearTimeout: (handle: unknown) => clock.clearTimeout(handle),
    };
    const catalog = newCatalog();
    let probes = 0;
    const runner = new CheckRunner({
      catalog,
      timers: longTimers(base),
      now: clock.now,
      random: () => 0.5,
      probe: async () => {
        probes += 1;
        return { status: 'passing', output: 'ok' };
      },
    });
    return { clock, catalog, runner, delays, probes: () => probes };
  }

  it('probes a 720h TCP check after its stagger and then every 720h, never asking a timer for more than 2^31-1 ms', async () => {
    const { clock, catalog, runner, delays, probes } = setup();
    try {
      catalog.registerService(service('m1', 'monthly'), [tcpCheck('c', { intervalMs: 720 * HOUR, interval: '720h0m0s' })]);
      runner.syncService('m1');
      clock.advance(HOUR);
      await settle();
      assert.equal(probes(), 0, 'nothing in the first hour');
      clock.advance(359 * HOUR);
      await settle();
      assert.equal(probes(), 1, 'the first probe at the stagger, half the interval');
      clock.advance(719 * HOUR);
      await settle();
      assert.equal(probes(), 1);
      clock.advance(HOUR);
      await settle();
      assert.equal(probes(), 2, 'then one every 720h');
      assert.ok(delays.every((ms) => ms <= 2 ** 31 - 1), `delays: ${delays.join(', ')}`);
    } finally {
      runner.stop();
    }
  });

  it('keeps a 720h TTL check passing until the TTL runs out', () => {
    const { clock, catalog, runner } = setup();
    try {
      catalog.registerService(service('t1', 'ttl-month'), [ttlCheck('c', { ttlMs: 720 * HOUR })]);
      runner.syncService('t1');
      catalog.updateCheck('c', 'passing', 'fine');
      runner.ttlUpdated('c');
      clock.advance(720 * HOUR - 1);
      assert.equal(catalog.getCheck('c')?.status, 'passing');
      clock.advance(1);
      assert.equal(catalog.getCheck('c')?.status, 'critical');
    } finally {
      runner.stop();
    }
  });
});
