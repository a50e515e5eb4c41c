import { after, afterEach, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient, watchHealthService } from '../../../src/consul/index.js';
import type { HealthServiceWatch, QueryMeta, ServiceEntry } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { firstRecorded } from '../../support/first-recorded.js';

interface Update {
  ids: string[];
  meta: QueryMeta;
  at: number;
}

/** Resolves with the first recorded update that satisfies `predicate`, or fails after `timeoutMs`. */
const waitForUpdate = (updates: Update[], predicate: (u: Update) => boolean, timeoutMs: number): Promise<Update> =>
  firstRecorded(updates, predicate, timeoutMs, () => JSON.stringify(updates.map((u) => u.ids)));

const ids = (entries: ServiceEntry[]): string[] => entries.map((e) => e.Service.ID).sort();

describeWithConsul('blocking queries and the health watch against a real agent', (getAgent) => {
  let consul: ConsulClient;
  let watch: HealthServiceWatch | undefined;
  before(() => {
    consul = new ConsulClient({ address: getAgent().address });
  });
  afterEach(() => {
    watch?.stop();
    watch = undefined;
  });
  after(async () => {
    await consul.close();
  });

  it('returns an idle blocking query after about `wait`, with the same index', async () => {
    // The previous suite's last writes on this shared agent (a deregistration, then anti-entropy)
    // can still move the index and wake the first query early: ask again until a query was idle.
    let first = await consul.health.service('idle-service');
    let started = performance.now();
    let second = await consul.health.service('idle-service', { index: first.meta.lastIndex, wait: '1s' });
    for (let tries = 1; tries < 5 && second.meta.lastIndex !== first.meta.lastIndex; tries += 1) {
      first = second;
      started = performance.now();
      second = await consul.health.service('idle-service', { index: first.meta.lastIndex, wait: '1s' });
    }
    const elapsed = performance.now() - started;
    assert.equal(second.meta.lastIndex, first.meta.lastIndex);
    assert.deepEqual(second.entries, []);
    // Consul adds up to wait/16 of jitter
    assert.ok(elapsed >= 950 && elapsed < 1000 + 1000 / 16 + 500, `blocked ${Math.round(elapsed)} ms`);
  });

  it('wakes a blocking query as soon as the watched service changes', async () => {
    const first = await consul.health.service('wake-me');
    const pending = consul.health.service('wake-me', { index: first.meta.lastIndex, wait: '30s' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const changedAt = performance.now();
    await consul.agent.registerService({ ID: 'wake-me-1', Name: 'wake-me', Port: 1, Address: '127.0.0.1' });
    const result = await pending;
    assert.ok(performance.now() - changedAt < 1000, 'answered within a second of the change');
    assert.ok(result.meta.lastIndex > first.meta.lastIndex);
    assert.deepEqual(ids(result.entries), ['wake-me-1']);
    await consul.agent.deregisterService('wake-me-1');
  });

  it('can be aborted with a signal, rejecting with ABORTED', async () => {
    const first = await consul.health.service('abort-me');
    const controller = new AbortController();
    const pending = consul.health.service('abort-me', { index: first.meta.lastIndex, wait: '30s', signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(pending, (error: unknown) => isFarolError(error, 'ABORTED'));
  });

  it('delivers the initial list, then each change within ~1-2 s, and only when the index moves', async () => {
    const updates: Update[] = [];
    watch = watchHealthService(consul, 'payments', {
      passing: true,
      wait: '2s',
      onUpdate: (entries, meta) => updates.push({ ids: ids(entries), meta, at: performance.now() }),
    });
    assert.deepEqual(await watch.firstResult, []);
    assert.equal(updates.length, 1);

    await consul.agent.registerService({
      ID: 'payments-1',
      Name: 'payments',
      Port: 8443,
      Address: '127.0.0.1',
      Check: { CheckID: 'payments-1-ttl', TTL: '30s' },
    });
    let changedAt = performance.now();
    await consul.agent.updateTTL('payments-1-ttl', 'passing');
    const up = await waitForUpdate(updates, (u) => u.ids.includes('payments-1'), 3000);
    assert.ok(up.at - changedAt < 2000, `saw the instance ${Math.round(up.at - changedAt)} ms after it passed`);

    changedAt = performance.now();
    await consul.agent.updateTTL('payments-1-ttl', 'critical', 'draining');
    const down = await waitForUpdate(updates, (u) => u.at > up.at && u.ids.length === 0, 3000);
    assert.ok(down.at - changedAt < 2000, `saw it leave ${Math.round(down.at - changedAt)} ms after it failed`);

    // Idle for longer than `wait`: the blocking queries time out with an unchanged index, so no update.
    const countBefore = updates.length;
    await new Promise((resolve) => setTimeout(resolve, 2600));
    assert.equal(updates.length, countBefore, 'no update while nothing changes');
    for (let i = 1; i < updates.length; i += 1) {
      assert.ok((updates[i]?.meta.lastIndex ?? 0) > (updates[i - 1]?.meta.lastIndex ?? 0), 'every update has a newer index');
    }
    await consul.agent.deregisterService('payments-1');
  });

  it('stops: no more updates, and firstResult of a watch stopped early rejects with ABORTED', async () => {
    const updates: Update[] = [];
    const stopped = watchHealthService(consul, 'stopped-service', {
      wait: '2s',
      onUpdate: (entries, meta) => updates.push({ ids: ids(entries), meta, at: performance.now() }),
    });
    stopped.stop();
    await assert.rejects(stopped.firstResult, (error: unknown) => isFarolError(error, 'ABORTED'));
    await consul.agent.registerService({ ID: 'stopped-1', Name: 'stopped-service', Port: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(updates, []);
    await consul.agent.deregisterService('stopped-1');
  });

  it('stops when its AbortSignal aborts, and survives an onUpdate that throws', async () => {
    const controller = new AbortController();
    let calls = 0;
    watch = watchHealthService(consul, 'throwing', {
      wait: '2s',
      signal: controller.signal,
      onUpdate: () => {
        calls += 1;
        throw new Error('consumer bug');
      },
    });
    await watch.firstResult;
    await consul.agent.registerService({ ID: 'throwing-1', Name: 'throwing', Port: 1 });
    const deadline = performance.now() + 3000;
    while (calls < 2 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(calls, 2, 'the watch kept going after onUpdate threw');
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await consul.agent.deregisterService('throwing-1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(calls, 2, 'no update after the signal aborted');
  });
});
