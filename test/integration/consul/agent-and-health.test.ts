import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient } from '../../../src/consul/index.js';
import type { AgentServiceRegistration } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';

const registration: AgentServiceRegistration = {
  ID: 'orders-1',
  Name: 'orders',
  Address: '127.0.0.1',
  Port: 4443,
  Tags: ['farol', 'v1'],
  Meta: { instance: 'orders-1', version: '1.2.3' },
  Check: { CheckID: 'orders-1-ttl', Name: 'orders TTL', TTL: '30s' },
};

describeWithConsul('Consul agent, health and catalog endpoints against a real agent', (getAgent) => {
  let consul: ConsulClient;
  before(() => {
    consul = new ConsulClient({ address: getAgent().address });
  });
  after(async () => {
    await consul.close();
  });

  it('reports the leader and peers of the dev agent', async () => {
    const leader = await consul.status.leader();
    assert.match(leader, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(await consul.status.peers(), [leader]);
  });

  it('registers a service with tags, meta and a TTL check, visible in /v1/agent/services', async () => {
    await consul.agent.registerService(registration);
    const services = await consul.agent.services();
    const service = services['orders-1'];
    assert.ok(service, 'orders-1 is registered');
    assert.equal(service.Service, 'orders');
    assert.equal(service.Address, '127.0.0.1');
    assert.equal(service.Port, 4443);
    assert.deepEqual(service.Tags, ['farol', 'v1']);
    assert.deepEqual(service.Meta, { instance: 'orders-1', version: '1.2.3' });
    const check = (await consul.agent.checks())['orders-1-ttl'];
    assert.equal(check?.Type, 'ttl');
    assert.equal(check?.ServiceID, 'orders-1');
  });

  it('starts the TTL check critical: the instance is listed, but not under ?passing', async () => {
    const all = await consul.health.service('orders');
    assert.equal(all.entries.length, 1);
    const entry = all.entries[0];
    assert.equal(entry?.Service.ID, 'orders-1');
    assert.equal(entry?.Node.Address, '127.0.0.1');
    assert.equal(entry?.Checks.find((c) => c.CheckID === 'orders-1-ttl')?.Status, 'critical');
    assert.ok(all.meta.lastIndex > 0);
    assert.equal(all.meta.knownLeader, true);
    assert.deepEqual((await consul.health.service('orders', { passing: true })).entries, []);
  });

  it('turns passing after updateTTL, with the output recorded, and then appears under ?passing', async () => {
    await consul.agent.updateTTL('orders-1-ttl', 'passing', 'all good');
    const passing = await consul.health.service('orders', { passing: true });
    assert.deepEqual(
      passing.entries.map((e) => e.Service.ID),
      ['orders-1'],
    );
    const check = passing.entries[0]?.Checks.find((c) => c.CheckID === 'orders-1-ttl');
    assert.equal(check?.Status, 'passing');
    assert.equal(check?.Output, 'all good');
  });

  it('filters by tag', async () => {
    assert.equal((await consul.health.service('orders', { tag: 'v1' })).entries.length, 1);
    assert.equal((await consul.health.service('orders', { tag: 'v2' })).entries.length, 0);
  });

  it('lists the service and its tags in the catalog', async () => {
    const { services, meta } = await consul.catalog.services();
    assert.deepEqual(services.orders?.slice().sort(), ['farol', 'v1']);
    assert.deepEqual(services.consul, []);
    assert.ok(meta.lastIndex > 0);
    const { entries } = await consul.catalog.service('orders', { tag: 'farol' });
    assert.equal(entries[0]?.ServiceID, 'orders-1');
    assert.equal(entries[0]?.ServicePort, 4443);
    assert.deepEqual(entries[0]?.ServiceMeta, { instance: 'orders-1', version: '1.2.3' });
  });

  it("maps an unknown check ID to CONSUL_ERROR carrying Consul's 404 text", async () => {
    await assert.rejects(consul.agent.updateTTL('no-such-check', 'passing'), (error: unknown) => {
      assert.ok(isFarolError(error, 'CONSUL_ERROR'));
      assert.match(error.message, /^Consul answered 404 to PUT \/v1\/agent\/check\/update\/no-such-check: Unknown check ID "no-such-check"/);
      return true;
    });
  });

  it("maps an invalid registration to CONSUL_ERROR carrying Consul's 400 text", async () => {
    await assert.rejects(
      consul.agent.registerService({ Name: 'broken', Check: { TTL: 'soon' } }),
      (error: unknown) => isFarolError(error, 'CONSUL_ERROR') && /answered 400/.test(error.message) && /soon/.test(error.message),
    );
  });

  it('replaces checks no longer listed when asked to (replace-existing-checks)', async () => {
    await consul.agent.registerService({ ...registration, Check: undefined, Checks: [{ CheckID: 'orders-1-ttl-b', TTL: '30s' }] }, { replaceExistingChecks: true });
    const ids = Object.keys(await consul.agent.checks()).filter((id) => id.startsWith('orders-1'));
    assert.deepEqual(ids, ['orders-1-ttl-b']);
  });

  it('deregisters the service from the agent, health and catalog', async () => {
    await consul.agent.deregisterService('orders-1');
    assert.equal((await consul.agent.services())['orders-1'], undefined);
    assert.deepEqual((await consul.health.service('orders')).entries, []);
    assert.equal((await consul.catalog.services()).services.orders, undefined);
  });
});
