import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { ConsulClient, watchHealthService, type ServiceEntry } from '../../src/consul/index.js';
import { isFarolError } from '../../src/errors.js';
import { MAX_BODY_BYTES, startRegistry, type RunningRegistry } from '../../src/registry/index.js';

async function call(reg: RunningRegistry, method: 'GET' | 'PUT', path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await request(`${reg.httpAddr}${path}`, { method, body, headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe('registry server', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry({ port: 0, nodeName: 'test-node' });
  });
  after(() => reg.close());

  it('listens on an ephemeral loopback port and reports its addresses', () => {
    assert.match(reg.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(reg.httpAddr, `http://${reg.address}`);
    assert.ok(reg.port > 0);
  });

  it('registers a service whose TTL check turns passing in health/service?passing', async () => {
    const reg1 = JSON.stringify({ Name: 'ttl-svc', ID: 'ttl-1', Port: 9000, Check: { TTL: '30s' } });
    assert.equal((await call(reg, 'PUT', '/v1/agent/service/register', reg1)).status, 200);
    const before = await call(reg, 'GET', '/v1/health/service/ttl-svc?passing');
    assert.equal(before.text, '[]\n');
    assert.equal((await call(reg, 'PUT', '/v1/agent/check/pass/service:ttl-1?note=ok')).status, 200);
    const after = await call(reg, 'GET', '/v1/health/service/ttl-svc?passing');
    const entries = JSON.parse(after.text) as ServiceEntry[];
    assert.deepEqual(entries.map((e) => [e.Service.ID, e.Service.Port, e.Checks.map((c) => c.Status)]), [['ttl-1', 9000, ['passing', 'passing']]]);
    assert.equal(after.headers['x-consul-knownleader'], 'true');
    assert.ok(Number(after.headers['x-consul-index']) > 0);
  });

  it('wakes a blocking query within 100 ms of a change', async () => {
    await call(reg, 'PUT', '/v1/agent/service/register', JSON.stringify({ Name: 'block-svc', ID: 'b-1', Check: { TTL: '30s' } }));
    const first = await call(reg, 'GET', '/v1/health/service/block-svc');
    const index = first.headers['x-consul-index'] as string;
    const started = Date.now();
    const blocked = call(reg, 'GET', `/v1/health/service/block-svc?index=${index}&wait=30s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const changedAt = Date.now();
    await call(reg, 'PUT', '/v1/agent/check/pass/service:b-1');
    const woken = await blocked;
    const latency = Date.now() - changedAt;
    assert.ok(latency < 100, `woken ${latency} ms after the change`);
    assert.ok(Date.now() - started >= 50, 'it really blocked');
    assert.ok(Number(woken.headers['x-consul-index']) > Number(index));
    assert.equal((JSON.parse(woken.text) as ServiceEntry[])[0]?.Checks[1]?.Status, 'passing');
  });

  it('times a blocking query out after wait (plus at most wait/16) with the same index', async () => {
    const first = await call(reg, 'GET', '/v1/health/service/quiet');
    const index = first.headers['x-consul-index'] as string;
    const started = Date.now();
    const res = await call(reg, 'GET', `/v1/health/service/quiet?index=${index}&wait=200ms`);
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 200 + 200 / 16 + 150, `took ${took} ms`);
    assert.equal(res.headers['x-consul-index'], index);
  });

  it('answers Consul\'s texts for bad requests and unknown paths', async () => {
    assert.deepEqual(
      [await call(reg, 'PUT', '/v1/agent/service/register', '{bad')].map((r) => [r.status, r.text, r.headers['content-type']]),
      [[400, "Request decode failed: invalid character 'b' looking for beginning of object key string", 'text/plain; charset=utf-8']],
    );
    const notFound = await call(reg, 'GET', '/v1/nope');
    assert.deepEqual([notFound.status, notFound.text], [404, 'Invalid URL path: not a recognized HTTP API endpoint\n']);
    const wrongMethod = await call(reg, 'GET', '/v1/agent/service/register');
    assert.deepEqual([wrongMethod.status, wrongMethod.text, wrongMethod.headers.allow], [405, 'method GET not allowed', 'OPTIONS,PUT']);
  });

  it('accepts a 2 MB registration, as Consul does', async () => {
    const tags = Array.from({ length: 2000 }, (_, i) => `${i}-${'t'.repeat(1000)}`);
    const res = await call(reg, 'PUT', '/v1/agent/service/register', JSON.stringify({ Name: 'big', Tags: tags }));
    assert.equal(res.status, 200);
    assert.equal((await call(reg, 'PUT', '/v1/agent/service/deregister/big')).status, 200);
  });

  it(`refuses a body over ${MAX_BODY_BYTES} bytes with 413 without buffering it, and keeps serving`, async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const chunks = MAX_BODY_BYTES / chunk.length + 1;
    const body = Readable.from((function* () {
      for (let i = 0; i < chunks; i += 1) yield chunk;
    })());
    const status = await request(`${reg.httpAddr}/v1/agent/service/register`, { method: 'PUT', body }).then(
      async (res) => {
        await res.body.text();
        return res.statusCode;
      },
      (error: unknown) => (error as Error).message,
    );
    // The server answers 413 and closes; depending on timing the client sees the 413 or the closed socket.
    assert.ok(status === 413 || /closed|reset|EPIPE|socket/i.test(String(status)), String(status));
    assert.equal((await call(reg, 'GET', '/v1/status/leader')).status, 200);
  });

  it('serves Farol\'s own ConsulClient: register, health, watch', async () => {
    const client = new ConsulClient({ address: reg.address });
    const seen: string[][] = [];
    const watch = watchHealthService(client, 'client-svc', {
      passing: true,
      wait: '10s',
      onUpdate: (entries) => seen.push(entries.map((e) => e.Service.ID)),
    });
    try {
      assert.deepEqual(await watch.firstResult, []);
      await client.agent.registerService({ Name: 'client-svc', ID: 'c-1', Port: 7000, Tags: ['blue'], Check: { TTL: '30s', Status: 'passing' } });
      const { entries, meta } = await client.health.service('client-svc', { passing: true, tag: 'blue' });
      assert.deepEqual(entries.map((e) => e.Service.ID), ['c-1']);
      assert.equal(meta.knownLeader, true);
      const services = await client.agent.services();
      assert.equal(services['c-1']?.Service, 'client-svc');
      for (let i = 0; i < 50 && !seen.some((ids) => ids.includes('c-1')); i += 1) await new Promise((r) => setTimeout(r, 20));
      assert.ok(seen.some((ids) => ids.includes('c-1')), 'the watch saw the new instance');
      await client.agent.updateTTL('service:c-1', 'critical', 'down');
      for (let i = 0; i < 50 && seen.at(-1)?.length !== 0; i += 1) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen.at(-1), [], 'the watch saw it leave the passing set');
      assert.equal(await client.status.leader(), '127.0.0.1:8300');
      await client.agent.deregisterService('c-1');
    } finally {
      watch.stop();
      await client.close();
    }
  });

  it('says PORT_IN_USE when the port is taken', async () => {
    await assert.rejects(startRegistry({ port: reg.port }), (e: unknown) => isFarolError(e, 'PORT_IN_USE'));
  });
});

describe('registry server with an ACL token', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry({ port: 0, token: 'root-token' });
  });
  after(() => reg.close());

  it('refuses anonymous writes and unknown tokens as Consul does, and accepts the token either way', async () => {
    const body = JSON.stringify({ Name: 'acl-svc' });
    const anonymous = await call(reg, 'PUT', '/v1/agent/service/register', body);
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.text, /^Permission denied: anonymous token lacks permission 'service:write' on "acl-svc"\./);
    const wrong = await call(reg, 'PUT', '/v1/agent/service/register', body, { 'x-consul-token': 'nope' });
    assert.deepEqual([wrong.status, wrong.text], [403, 'ACL not found']);
    assert.equal((await call(reg, 'PUT', '/v1/agent/service/register', body, { 'x-consul-token': 'root-token' })).status, 200);
    const bearer = await call(reg, 'GET', '/v1/agent/services', undefined, { authorization: 'Bearer root-token' });
    assert.deepEqual(Object.keys(JSON.parse(bearer.text) as object), ['acl-svc']);
    const anonymousRead = await call(reg, 'GET', '/v1/agent/services');
    assert.deepEqual([anonymousRead.status, anonymousRead.text], [200, '{}\n']);
    assert.equal(anonymousRead.headers['x-consul-default-acl-policy'], 'deny');
  });

  it('lets Farol\'s ConsulClient in with the token and reports CONSUL_ACL_DENIED without it', async () => {
    const good = new ConsulClient({ address: reg.address, token: 'root-token' });
    const bad = new ConsulClient({ address: reg.address, token: 'nope' });
    try {
      await good.agent.registerService({ Name: 'acl-client' });
      assert.ok((await good.agent.services())['acl-client']);
      await assert.rejects(bad.agent.services(), (e: unknown) => isFarolError(e, 'CONSUL_ACL_DENIED'));
    } finally {
      await good.close();
      await bad.close();
    }
  });
});
