import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryApi, type ApiResponse } from '../../src/registry/router.js';
import { IndexWaiters } from '../../src/registry/blocking.js';
import { FakeClock } from './fake-clock.js';
import { newCatalog } from './fixtures.js';

function setup(token?: string) {
  const catalog = newCatalog();
  const clock = new FakeClock();
  const waiters = new IndexWaiters(clock);
  const api = new RegistryApi({ catalog, waiters, serverAddress: '127.0.0.1:8300', random: () => 0, ...(token ? { token } : {}) });
  const send = (method: string, url: string, body = '', headers: Record<string, string> = {}): Promise<ApiResponse> =>
    api.handle({ method, url, headers, body });
  return { catalog, clock, waiters, api, send };
}

describe('registry HTTP API (no sockets)', () => {
  it('answers a read with Consul\'s query metadata headers', async () => {
    const { send } = setup();
    const res = await send('GET', '/v1/catalog/services');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-consul-knownleader'], 'true');
    assert.equal(res.headers['x-consul-lastcontact'], '0');
    assert.equal(res.headers['x-consul-effective-consistency'], 'leader');
    assert.ok(Number(res.headers['x-consul-index']) >= 1);
    assert.deepEqual(JSON.parse(String(res.body)), { consul: [] });
  });

  it('parks a blocking read until the service changes, and answers with the new index', async () => {
    const { send, clock } = setup();
    await send('PUT', '/v1/agent/service/register', '{"Name":"web","Check":{"TTL":"10s"}}');
    const first = await send('GET', '/v1/health/service/web');
    const index = Number(first.headers['x-consul-index']);
    let answered: ApiResponse | undefined;
    const pending = send('GET', `/v1/health/service/web?index=${index}&wait=1m`).then((r) => (answered = r));
    await send('PUT', '/v1/agent/service/register', '{"Name":"other"}');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, undefined, 'a change to another service does not answer it');
    await send('PUT', '/v1/agent/check/pass/service:web');
    const woken = await pending;
    assert.ok(Number(woken.headers['x-consul-index']) > index);
    assert.equal(clock.pendingCount, 0);
  });

  it('wakes a blocked read on a change made outside the API (a probe or TTL expiry), through the catalog\'s index alone', async () => {
    const { send, catalog } = setup();
    await send('PUT', '/v1/agent/service/register', '{"Name":"web","Check":{"TTL":"10s"}}');
    const index = Number((await send('GET', '/v1/health/service/web')).headers['x-consul-index']);
    const pending = send('GET', `/v1/health/service/web?index=${index}&wait=1m`);
    catalog.updateCheck('service:web', 'passing', 'probe ok');
    const woken = await pending;
    assert.ok(Number(woken.headers['x-consul-index']) > index);
    assert.equal(JSON.parse(String(woken.body))[0].Checks[1].Status, 'passing');
  });

  it('wakes a blocked read when another table (KV) takes the shared index and announces it', async () => {
    const { catalog, waiters } = setup();
    let woken = false;
    const pending = waiters.wait(() => catalog.currentIndex(), catalog.currentIndex(), 60_000).then(() => (woken = true));
    catalog.nextIndex();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(woken, false, 'taking an index wakes nothing until the write is announced');
    catalog.raftIndex.changed();
    await pending;
    assert.equal(waiters.size, 0);
  });

  it('keeps a blocked catalog/nodes read parked through a registration and answers the index it started with once the wait runs out', async () => {
    const { send, clock } = setup();
    const index = Number((await send('GET', '/v1/catalog/nodes')).headers['x-consul-index']);
    let answered: ApiResponse | undefined;
    const pending = send('GET', `/v1/catalog/nodes?index=${index}&wait=2s`).then((r) => (answered = r));
    await send('PUT', '/v1/agent/service/register', '{"Name":"web"}');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, undefined, 'a service registration does not wake a nodes watch');
    clock.advance(2000);
    assert.equal((await pending).headers['x-consul-index'], String(index));
    const fresh = await send('GET', `/v1/catalog/nodes?index=${index}&wait=2s`);
    assert.ok(Number(fresh.headers['x-consul-index']) > index, 'the next read sees the higher index at once');
  });

  it('stops following the catalog once closed', async () => {
    const { api, catalog, waiters } = setup();
    api.close();
    void waiters.wait(() => catalog.currentIndex(), catalog.currentIndex(), 60_000);
    catalog.nextIndex();
    catalog.raftIndex.changed();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(waiters.size, 1);
    waiters.wakeAll();
  });

  it('times a blocking read out after the wait with an unchanged index', async () => {
    const { send, clock } = setup();
    const first = await send('GET', '/v1/health/service/none');
    const index = first.headers['x-consul-index'];
    const pending = send('GET', `/v1/health/service/none?index=${index}&wait=2s`);
    clock.advance(2000);
    const res = await pending;
    assert.equal(res.headers['x-consul-index'], index);
    assert.equal(String(res.body), '[]\n');
  });

  it('validates ?passing after the read, so its 400 carries the index like Consul\'s', async () => {
    const { send } = setup();
    const res = await send('GET', '/v1/health/service/web?passing=maybe');
    assert.deepEqual([res.status, res.body], [400, 'Invalid value for ?passing']);
    assert.ok(res.headers['x-consul-index']);
  });

  it('refuses pass on an unknown check and deregistration of an unknown service with 404', async () => {
    const { send } = setup();
    assert.deepEqual(
      [await send('PUT', '/v1/agent/check/pass/nope')].map((r) => [r.status, r.body]),
      [[404, 'Unknown check ID "nope". Ensure that the check ID is passed, not the check name.']],
    );
    assert.deepEqual(
      [await send('PUT', '/v1/agent/service/deregister/nope')].map((r) => [r.status, r.body]),
      [[404, 'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.']],
    );
  });

  it('refuses pass on a check that is not a TTL check, as Consul', async () => {
    const { send } = setup();
    await send('PUT', '/v1/agent/service/register', '{"Name":"t","Check":{"TCP":"127.0.0.1:1","Interval":"10s"}}');
    const res = await send('PUT', '/v1/agent/check/pass/service:t');
    assert.deepEqual([res.status, res.body], [500, 'CheckID "service:t" does not have associated TTL']);
  });

  it('with ACLs, an unknown token is refused before the ID is looked up; the anonymous token gets 404 first', async () => {
    const { send } = setup('tok');
    assert.equal((await send('PUT', '/v1/agent/service/deregister/nope', '', { 'x-consul-token': 'bad' })).status, 403);
    assert.equal((await send('PUT', '/v1/agent/service/deregister/nope')).status, 404);
    const denied = await send('GET', '/v1/catalog/services', '', { 'x-consul-token': 'bad' });
    assert.deepEqual([denied.status, denied.body, denied.headers['x-consul-knownleader']], [403, 'ACL not found', 'false']);
  });

  it('filters anonymous reads to nothing under ACLs', async () => {
    const { send } = setup('tok');
    await send('PUT', '/v1/agent/service/register', '{"Name":"web"}', { 'x-consul-token': 'tok' });
    assert.equal((await send('GET', '/v1/health/service/web')).body, '[]\n');
    assert.equal((await send('GET', '/v1/catalog/services')).body, '{}\n');
    assert.equal((await send('GET', '/v1/agent/services')).body, '{}\n');
    assert.equal(JSON.parse(String((await send('GET', '/v1/health/service/web', '', { 'x-consul-token': 'tok' })).body)).length, 1);
  });

  it('replace-existing-checks removes checks the new registration does not name', async () => {
    const { send, catalog } = setup();
    await send('PUT', '/v1/agent/service/register', '{"Name":"web","Checks":[{"TTL":"5s"},{"TTL":"5s"}]}');
    await send('PUT', '/v1/agent/service/register?replace-existing-checks', '{"Name":"web","Check":{"CheckID":"only","TTL":"5s"}}');
    assert.deepEqual(catalog.checksOfService('web').map((c) => c.checkId), ['only']);
  });

  it('updates a check through check/update with Status and Output', async () => {
    const { send, catalog } = setup();
    await send('PUT', '/v1/agent/service/register', '{"Name":"web","Check":{"TTL":"5s"}}');
    const res = await send('PUT', '/v1/agent/check/update/service:web', '{"Status":"warning","Output":"slow"}');
    assert.equal(res.status, 200);
    assert.equal(catalog.getCheck('service:web')?.status, 'warning');
    assert.equal(catalog.getCheck('service:web')?.output, 'slow');
  });

  it('answers a malformed percent-escape with 400, never a crash', async () => {
    const { send } = setup();
    const res = await send('GET', '/v1/health/service/%E0%A4%A');
    assert.equal(res.status, 400);
  });
});
