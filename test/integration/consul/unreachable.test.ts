import { createServer } from 'node:net';
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient, watchHealthService } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';

/** A loopback port that nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describeWithConsul('unreachable Consul and address failover', (getAgent) => {
  let deadAddress: string;
  const clients: ConsulClient[] = [];
  const client = (options: ConstructorParameters<typeof ConsulClient>[0]): ConsulClient => {
    const created = new ConsulClient(options);
    clients.push(created);
    return created;
  };
  before(async () => {
    deadAddress = `127.0.0.1:${await closedPort()}`;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('fails with CONSUL_UNREACHABLE naming the address and ECONNREFUSED, with a hint to start an agent', async () => {
    const consul = client({ address: deadAddress });
    await assert.rejects(consul.status.leader(), (error: unknown) => {
      assert.ok(isFarolError(error, 'CONSUL_UNREACHABLE'));
      assert.equal(error.message, `Consul is not reachable at ${deadAddress} (ECONNREFUSED)`);
      assert.match(error.hint ?? '', /start a Consul agent or set CONSUL_HTTP_ADDR/);
      return true;
    });
  });

  it('fails a write the same way', async () => {
    const consul = client({ address: `http://${deadAddress}` });
    await assert.rejects(consul.agent.deregisterService('x'), (error: unknown) => isFarolError(error, 'CONSUL_UNREACHABLE'));
  });

  it('moves on to the next address when one refuses connections, and stays with the one that works', async () => {
    const consul = client({ address: [deadAddress, getAgent().address] });
    assert.equal(consul.address, deadAddress);
    assert.match(await consul.status.leader(), /^127\.0\.0\.1:\d+$/);
    assert.equal(consul.address, getAgent().address);
    await consul.agent.registerService({ ID: 'failover-1', Name: 'failover', Port: 1 });
    assert.equal(consul.address, getAgent().address);
    await consul.agent.deregisterService('failover-1');
  });

  it('names every address when none answers', async () => {
    const other = `127.0.0.1:${await closedPort()}`;
    const consul = client({ address: [deadAddress, other] });
    await assert.rejects(consul.status.peers(), (error: unknown) => {
      assert.ok(isFarolError(error, 'CONSUL_UNREACHABLE'));
      assert.equal(error.message, `Consul is not reachable at ${deadAddress} (ECONNREFUSED), ${other} (ECONNREFUSED)`);
      return true;
    });
  });

  it("rejects a watch's firstResult with CONSUL_UNREACHABLE and reports each retry to onError", async () => {
    const consul = client({ address: deadAddress });
    const errors: string[] = [];
    const watch = watchHealthService(consul, 'anything', {
      backoff: { baseMs: 20, maxMs: 50 },
      onUpdate: () => assert.fail('no update can arrive from an unreachable agent'),
      onError: (error) => errors.push(error.code),
    });
    try {
      await assert.rejects(watch.firstResult, (error: unknown) => isFarolError(error, 'CONSUL_UNREACHABLE'));
      const deadline = performance.now() + 3000;
      while (errors.length < 3 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(errors.length >= 3, `kept retrying (${errors.length} errors)`);
      assert.ok(errors.every((code) => code === 'CONSUL_UNREACHABLE'));
    } finally {
      watch.stop();
    }
  });
});
