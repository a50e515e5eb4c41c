import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient, watchHealthService } from '../../../src/consul/index.js';
import type { FarolError } from '../../../src/errors.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeWithConsul('a health watch across an agent stop and start', (getAgent) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  let consul: ConsulClient;
  before(() => {
    process.on('unhandledRejection', onUnhandled);
    consul = new ConsulClient({ address: getAgent().address });
  });
  after(async () => {
    process.removeListener('unhandledRejection', onUnhandled);
    await consul.close();
  });

  it('keeps retrying with backoff while the agent is down, then delivers updates again after start()', async () => {
    const agent = getAgent();
    const updates: string[][] = [];
    const errors: FarolError[] = [];
    const watch = watchHealthService(consul, 'phoenix', {
      passing: true,
      wait: '30s',
      backoff: { baseMs: 50, maxMs: 400 },
      onUpdate: (entries) => updates.push(entries.map((e) => e.Service.ID)),
      onError: (error) => errors.push(error),
    });
    try {
      await watch.firstResult;
      await consul.agent.registerService({ ID: 'phoenix-1', Name: 'phoenix', Port: 1, Address: '127.0.0.1' });
      await until(() => updates.some((ids) => ids.includes('phoenix-1')), 3000, 'phoenix-1 to appear');

      await agent.stop();
      await until(() => errors.length >= 3, 5000, 'errors while the agent is down');
      // The blocking query in flight at shutdown may get Consul's own 500 ("grpc: the client
      // connection is closing") before the port closes; after that, nothing answers.
      const messages = errors.map((e) => `${e.code}: ${e.message}`).join('; ');
      assert.ok(errors.every((error) => error.code === 'CONSUL_UNREACHABLE' || error.code === 'CONSUL_ERROR'), messages);
      assert.equal(errors.at(-1)?.code, 'CONSUL_UNREACHABLE', messages);
      assert.equal(errors.at(-1)?.message, `Consul is not reachable at ${agent.address} (ECONNREFUSED)`);
      const updatesWhileDown = updates.length;

      const restartedAt = performance.now();
      await agent.start();
      // A dev agent keeps nothing: the restarted catalog is empty, and the watch says so.
      await until(() => updates.length > updatesWhileDown && updates.at(-1)?.length === 0, 3000, 'the empty list after restart');
      const reconnectMs = performance.now() - restartedAt;

      await consul.agent.registerService({ ID: 'phoenix-2', Name: 'phoenix', Port: 2, Address: '127.0.0.1' });
      const registeredAt = performance.now();
      await until(() => updates.at(-1)?.includes('phoenix-2') === true, 3000, 'phoenix-2 to appear');
      assert.ok(performance.now() - registeredAt < 2000);
      assert.ok(reconnectMs < 3000, `reconnected ${Math.round(reconnectMs)} ms after start()`);
      assert.deepEqual(unhandled, []);
    } finally {
      watch.stop();
    }
  });
});
