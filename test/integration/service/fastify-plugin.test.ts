/**
 * Farol in servers a team already has, against a real Consul agent that trusts the test CA:
 * a fastify app created by the team (`fastify({ https })`, its own routes) gains registration,
 * authentication, /health and the ordered drain through `app.register(farolPlugin, ...)`; a plain
 * node:https server gets the same from createRegistration and createRequestAuth.
 */
import { after, afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fastify, type FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import {
  closeHttpServer,
  createRegistration,
  createRequestAuth,
  farolPlugin,
  isFarolError,
  sendAuthFailure,
  subscribeLogger,
  type RequestAuth,
  type ServiceRegistration,
} from '../../../src/index.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { rawHealth } from '../../support/consul-health.js';
import { memoryLogger } from '../../support/memory-logger.js';
import { basic, httpsGet, issueTestPki, refusesConnections, tempDir, until, writeUsers, type TestPki } from '../../service/fixtures.js';

const password = 'correct horse battery staple';
let dir: string;
let pki: TestPki;
let usersFile: string;

async function prepareAgent(): Promise<{ caFile: string }> {
  dir = await tempDir();
  pki = await issueTestPki(dir, ['orders', 'legacy']);
  usersFile = await writeUsers(dir, { alice: password });
  return { caFile: pki.caFile };
}

/** The drain's events, in the order the logger wrote them. */
const DRAIN_ORDER = ['drain_started', 'maintenance_enabled', 'drain_wait', 'drain_closed', 'deregistered', 'stopped'];

describeWithConsul('an existing fastify app and a plain node:https server gain Farol', (getAgent) => {
  const closers: (() => Promise<unknown>)[] = [];
  let agent: Agent;

  const passingIds = async (name: string): Promise<string[]> => (await rawHealth(getAgent(), name, true)).map((e) => e.Service.ID);
  const allIds = async (name: string): Promise<string[]> => (await rawHealth(getAgent(), name, false)).map((e) => e.Service.ID);

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await agent?.close();
  });

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('a fastify app made with its own https options registers once listening, requires auth, answers /health and drains in order on app.close()', async () => {
    agent = new Agent({ connect: { ca: pki.caPem } });
    const [key, cert] = await Promise.all([readFile(pki.keyFile, 'utf8'), readFile(pki.certFile, 'utf8')]);
    const log = memoryLogger('orders');

    // The team's app, as it was before Farol.
    const app: FastifyInstance = fastify({ https: { key, cert } });
    app.get('/orders', async (request) => ({ orders: [], user: request.principal?.id }));
    app.get('/slow', async () => {
      await sleep(1500);
      return { done: true };
    });

    // The migration: one register call.
    await app.register(farolPlugin, {
      service: { name: 'orders', tags: ['v2'] },
      auth: { usersFile },
      consul: { address: getAgent().address, timeoutMs: 2000 },
      certificate: cert,
      check: { interval: '1s', timeout: '1s' },
      drain: { delayMs: 800 },
      logger: log.logger,
    });
    app.get('/public', { config: { auth: { public: true } } }, async () => ({ open: true }));
    closers.push(() => app.close());

    await app.listen({ host: '127.0.0.1', port: 0 });
    await app.farol.started();
    const { port } = app.server.address() as AddressInfo;
    const url = `https://127.0.0.1:${port}`;
    const id = app.farol.instanceId;
    assert.match(id, /^orders-[0-9a-f]{8}$/);

    assert.ok(await until(async () => (await passingIds('orders')).includes(id), 10_000), 'passing in Consul after listen (its HTTPS check verified)');
    const entry = (await rawHealth(getAgent(), 'orders', true)).find((e) => e.Service.ID === id)!;
    assert.equal(entry.Service.Port, port, 'registered with the port actually bound');
    assert.deepEqual(entry.Service.Tags, ['v2']);

    const anonymous = await httpsGet(agent, `${url}/orders`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="orders"/);
    const wrong = await httpsGet(agent, `${url}/orders`, { authorization: basic('alice', 'not it') });
    assert.equal(wrong.status, 401);
    const alice = await httpsGet(agent, `${url}/orders`, { authorization: basic('alice', password) });
    assert.equal(alice.status, 200);
    assert.deepEqual(alice.json(), { orders: [], user: 'alice' });
    assert.equal((await httpsGet(agent, `${url}/nowhere`)).status, 401, 'unknown routes need credentials too');
    assert.equal((await httpsGet(agent, `${url}/public`)).status, 200, 'a route marked public');
    const health = await httpsGet(agent, `${url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.json(), { status: 'passing', instance: id });

    // The drain, begun by app.close() alone.
    const inFlight = httpsGet(agent, `${url}/slow`, { authorization: basic('alice', password) });
    await sleep(150);
    const t0 = performance.now();
    const closed = app.close();
    assert.ok(await until(async () => !(await passingIds('orders')).includes(id), 1000), 'out of ?passing at once');
    assert.ok((await allIds('orders')).includes(id), 'still registered (in maintenance) while draining');
    assert.equal(await refusesConnections(port), false, 'still accepting during the drain delay');
    assert.ok(await until(() => refusesConnections(port), 3000), 'refuses new connections after the delay');
    assert.ok(performance.now() - t0 >= 700, 'the port closed only after the delay');

    const response = await inFlight;
    assert.equal(response.status, 200, 'the in-flight request finishes');
    assert.deepEqual(response.json(), { done: true });
    await closed;
    assert.deepEqual(await allIds('orders'), [], 'deregistered at the end');
    assert.deepEqual(log.events().filter((e) => DRAIN_ORDER.includes(e)), DRAIN_ORDER);
  });

  it("an app that already serves GET /health keeps it: Farol's check gets a path of its own (check.path), and without one the plugin says so", async () => {
    agent = new Agent({ connect: { ca: pki.caPem } });
    const [key, cert] = await Promise.all([readFile(pki.keyFile, 'utf8'), readFile(pki.certFile, 'utf8')]);
    const options = {
      service: { name: 'inventory' },
      auth: { usersFile },
      consul: { address: getAgent().address, timeoutMs: 2000 },
      certificate: cert,
      check: { interval: '1s', timeout: '1s' },
      drain: { delayMs: 0 },
    };

    const clash = fastify({ https: { key, cert } });
    clash.get('/health', async () => ({ app: 'its own health' }));
    await assert.rejects(async () => {
      await clash.register(farolPlugin, options);
    }, (error: unknown) => {
      assert.ok(isFarolError(error, 'CONFIG_INVALID'), String(error));
      assert.match(error.message, /check\.path: the app already serves GET \/health/);
      assert.match(error.hint ?? '', /check: \{ path: '\/_farol\/health' \}/);
      return true;
    });
    await clash.close();

    const app = fastify({ https: { key, cert } });
    app.get('/health', async () => ({ app: 'its own health' }));
    await app.register(farolPlugin, { ...options, check: { ...options.check, path: '/_farol/health' } });
    closers.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    await app.farol.started();
    const { port } = app.server.address() as AddressInfo;
    const id = app.farol.instanceId;

    assert.ok(await until(async () => (await passingIds('inventory')).includes(id), 10_000), "passing in Consul through Farol's own path");
    const entry = (await rawHealth(getAgent(), 'inventory', true)).find((e) => e.Service.ID === id)!;
    const check = entry.Checks.find((c) => c.ServiceID === id)!;
    assert.match(check.Output ?? '', /_farol\/health/, "Consul's check calls the path given");
    assert.deepEqual((await httpsGet(agent, `https://127.0.0.1:${port}/_farol/health`)).json(), { status: 'passing', instance: id });
    assert.equal((await httpsGet(agent, `https://127.0.0.1:${port}/health`)).status, 401, "the app's own /health is an ordinary route: it requires credentials");
    const own = await httpsGet(agent, `https://127.0.0.1:${port}/health`, { authorization: basic('alice', password) });
    assert.deepEqual(own.json(), { app: 'its own health' });
    await app.close();
    assert.deepEqual(await allIds('inventory'), [], 'deregistered at the end');
  });

  it('app.farol.drain() serves requests during the wait (each closing its connection), then closes like app.close()', async () => {
    agent = new Agent({ connect: { ca: pki.caPem } });
    const [key, cert] = await Promise.all([readFile(pki.keyFile, 'utf8'), readFile(pki.certFile, 'utf8')]);
    const app = fastify({ https: { key, cert } });
    await app.register(farolPlugin, {
      service: { name: 'orders' },
      auth: { usersFile },
      consul: { address: getAgent().address, timeoutMs: 2000 },
      certificate: cert,
      check: { interval: '1s', timeout: '1s' },
      // Long enough for the two requests below to fall inside the wait on a loaded machine.
      drain: { delayMs: 3000 },
    });
    app.get('/orders', async () => ({ orders: [] }));
    closers.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    await app.farol.started();
    const { port } = app.server.address() as AddressInfo;
    assert.ok(await until(async () => (await passingIds('orders')).includes(app.farol.instanceId), 10_000));

    const drained = app.farol.drain('SIGTERM');
    assert.ok(await until(async () => !(await passingIds('orders')).includes(app.farol.instanceId), 2500));
    const during = await httpsGet(agent, `https://127.0.0.1:${port}/orders`, { authorization: basic('alice', password) });
    assert.equal(during.status, 200, 'a caller that has not seen the change yet is still served');
    assert.equal(during.headers.connection, 'close');
    assert.equal((await httpsGet(agent, `https://127.0.0.1:${port}/health`)).status, 503);
    await drained;
    assert.equal(await refusesConnections(port), true);
    assert.deepEqual(await allIds('orders'), []);
  });

  it('a plain node:https server registers, authenticates and drains with createRegistration, createRequestAuth and closeHttpServer', async () => {
    agent = new Agent({ connect: { ca: pki.caPem } });
    const [key, cert] = await Promise.all([readFile(pki.keyFile, 'utf8'), readFile(pki.certFile, 'utf8')]);
    const log = memoryLogger('legacy');
    const life: ServiceRegistration = createRegistration({
      service: { name: 'legacy' },
      consul: { address: getAgent().address, timeoutMs: 2000 },
      certificate: cert,
      check: { interval: '1s', timeout: '1s' },
      drain: { delayMs: 500 },
    });
    const detach = subscribeLogger(log.logger, { owner: life.owner });
    closers.push(async () => detach());
    const auth: RequestAuth = await createRequestAuth({ realm: 'legacy', usersFile }, { owner: life.owner, instance: life.instanceId });
    closers.push(() => auth.close());

    const server: Server = createServer({ key, cert }, (req, res) => {
      void (async () => {
        if (life.draining) res.setHeader('connection', 'close');
        if (req.url === '/health') {
          const answer = life.health();
          res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
          return;
        }
        const outcome = await auth.authenticateRequest(req);
        if (!outcome.ok) return sendAuthFailure(res, outcome);
        if (req.url === '/slow') await sleep(1200);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hello: outcome.principal.id }));
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => life.drain(() => closeHttpServer(server, life)));
    const { port } = server.address() as AddressInfo;
    await life.register({ port, address: '127.0.0.1' });
    assert.equal(life.url, `https://127.0.0.1:${port}`);
    assert.ok(await until(async () => (await passingIds('legacy')).includes(life.instanceId), 10_000), 'passing: Consul reached its /health');

    const url = `https://127.0.0.1:${port}`;
    const anonymous = await httpsGet(agent, `${url}/`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="legacy"/);
    assert.deepEqual(anonymous.json(), { error: 'unauthorized', message: 'credentials are required' });
    const ok = await httpsGet(agent, `${url}/`, { authorization: basic('alice', password) });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { hello: 'alice' });

    const inFlight = httpsGet(agent, `${url}/slow`, { authorization: basic('alice', password) });
    await sleep(150);
    const drained = life.drain(() => closeHttpServer(server, life), 'SIGTERM');
    assert.ok(await until(async () => !(await passingIds('legacy')).includes(life.instanceId), 1000), 'out of ?passing at once');
    assert.equal(await refusesConnections(port), false, 'still accepting during the delay');
    assert.equal((await inFlight).status, 200, 'the in-flight request finishes');
    await drained;
    assert.equal(await refusesConnections(port), true);
    assert.deepEqual(await allIds('legacy'), [], 'deregistered at the end');
    assert.deepEqual(log.events().filter((e) => DRAIN_ORDER.includes(e)), DRAIN_ORDER);
  });
}, prepareAgent);
