import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Agent } from 'undici';
import { isFarolError } from '../../src/errors.js';
import { createService, stopOnSignals, type FarolService } from '../../src/service/index.js';
import { basic, closedPort, generateSeedCertificate, httpsGet, issueTestPki, refusesConnections, localServiceOptions, serviceStarter, tempDir, writeUsers, type TestPki } from './fixtures.js';

const password = 'correct horse battery staple';

describe('service lifecycle', () => {
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  let agent: Agent;
  const running: FarolService[] = [];
  const blockers: Server[] = [];

  const options = localServiceOptions(() => ({ pki, usersFile, dir }));

  const started = serviceStarter(options, running);

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir);
    usersFile = await writeUsers(dir, { alice: password });
    agent = new Agent({ connect: { ca: pki.caPem } });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
    await Promise.all(blockers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  after(async () => {
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves with the original project's OpenSSL certificate to a client that trusts it", async () => {
    const seedDir = join(dir, 'seed');
    await mkdir(seedDir);
    const seed = await generateSeedCertificate(seedDir);
    const service = await started({ tls: seed });
    const seedAgent = new Agent({ connect: { ca: await readFile(seed.certFile, 'utf8'), servername: 'localhost' } });
    try {
      const response = await httpsGet(seedAgent, `https://127.0.0.1:${service.port}/`, { authorization: basic('alice', password) });
      assert.equal(response.status, 200);
      assert.equal(response.json().user, 'alice');
    } finally {
      await seedAgent.close();
    }
  });

  it('turns a port already in use into PORT_IN_USE naming the port and the address', async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    const service = await createService(options({ port }));
    running.push(service);
    await assert.rejects(service.start(), (error: unknown) => {
      assert.ok(isFarolError(error, 'PORT_IN_USE'), String(error));
      assert.equal(error.message, `port ${port} on 127.0.0.1 is already in use`);
      assert.match(error.hint ?? '', /--port/);
      return true;
    });
  });

  it('reports missing certificate files as CERT_MISSING', async () => {
    await assert.rejects(
      createService(options({ tls: { certFile: join(dir, 'nope', 'cert.pem'), keyFile: join(dir, 'nope', 'key.pem') } })),
      (error: unknown) => isFarolError(error, 'CERT_MISSING'),
    );
  });

  it('reports an unreadable users file as USERS_FILE_UNREADABLE', async () => {
    await assert.rejects(createService(options({ usersFile: join(dir, 'missing-users.txt') })), (error: unknown) =>
      isFarolError(error, 'USERS_FILE_UNREADABLE'),
    );
    await assert.rejects(createService(options({ usersFile: dir })), (error: unknown) => isFarolError(error, 'USERS_FILE_UNREADABLE'));
  });

  it('rejects invalid options with CONFIG_INVALID naming the option', async () => {
    await assert.rejects(createService(options({ port: 70000 })), (error: unknown) => {
      assert.ok(isFarolError(error, 'CONFIG_INVALID'));
      assert.equal(error.message, 'invalid service option port: must be 0-65535');
      return true;
    });
  });

  it('closes the HTTPS port again when Consul is unreachable, and reports CONSUL_UNREACHABLE', async () => {
    const consulPort = await closedPort();
    const service = await createService(options({ consul: { address: `127.0.0.1:${consulPort}`, timeoutMs: 3000 } }));
    running.push(service);
    await assert.rejects(service.start(), (error: unknown) => isFarolError(error, 'CONSUL_UNREACHABLE'));
    assert.ok(service.port > 0, 'it did listen before trying to register');
    assert.equal(await refusesConnections(service.port), true, 'the HTTPS port is closed again');
  });

  it('reports 503 draining on /health while stopping, then closes', async () => {
    const service = await started({ drain: { delayMs: 400 } });
    const stopped = service.stop({ reason: 'test' });
    const health = await httpsGet(agent, `${service.url}/health`);
    assert.equal(health.status, 503);
    assert.deepEqual(health.json(), { status: 'draining', instance: service.instanceId });
    await stopped;
    assert.equal(await refusesConnections(service.port), true);
  });

  it('stops once however many times stop() is called, concurrently or not', async () => {
    const service = await started();
    const first = service.stop();
    const second = service.stop();
    assert.equal(first, second);
    await Promise.all([first, second]);
    await service.stop();
    assert.equal(await refusesConnections(service.port), true);
    await assert.rejects(service.start(), (error: unknown) => isFarolError(error, 'LISTEN_FAILED'));
  });

  it('lets the caller add routes that require authentication', async () => {
    const service = await started({
      routes: (app) => {
        app.get('/whoami', async (request) => ({ id: request.principal?.id }));
      },
    });
    assert.equal((await httpsGet(agent, `${service.url}/whoami`)).status, 401);
    const response = await httpsGet(agent, `${service.url}/whoami`, { authorization: basic('alice', password) });
    assert.deepEqual(response.json(), { id: 'alice' });
  });

  describe('stopOnSignals', () => {
    it('stops the service on SIGTERM, then exits 0', async () => {
      const service = await started();
      const exit = new Promise<number>((resolve) => {
        const remove = stopOnSignals(service, {
          onExit: (code) => {
            remove();
            resolve(code);
          },
        });
      });
      process.emit('SIGTERM', 'SIGTERM');
      assert.equal(await exit, 0);
      assert.equal(await refusesConnections(service.port), true);
    });

    it('exits 1 at once on a second signal while stopping', async () => {
      const service = await started({ drain: { delayMs: 1000 } });
      const codes: number[] = [];
      const remove = stopOnSignals(service, { onExit: (code) => codes.push(code) });
      try {
        process.emit('SIGINT', 'SIGINT');
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(codes, []);
        process.emit('SIGINT', 'SIGINT');
        assert.deepEqual(codes, [1]);
      } finally {
        remove();
      }
      await service.stop();
      assert.deepEqual(codes, [1], 'exit is reported once');
    });

    it('removes its handlers when asked', async () => {
      const service = await started();
      const before = process.listenerCount('SIGTERM');
      const remove = stopOnSignals(service, { onExit: () => undefined });
      assert.equal(process.listenerCount('SIGTERM'), before + 1);
      remove();
      assert.equal(process.listenerCount('SIGTERM'), before);
    });
  });
});
