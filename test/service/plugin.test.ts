import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { fastify, type FastifyInstance } from 'fastify';
import { isFarolError } from '../../src/errors.js';
import { createServerTlsProvider, issueCertificate, serverSubjectAltNames } from '../../src/pki/index.js';
import { farolHttpsOptions, farolPlugin, stopOnSignals } from '../../src/service/index.js';
import { basic, issueTestPki, tempDir, writeServerFiles, writeUsers } from './fixtures.js';

const password = 'correct horse battery staple';

describe('farolPlugin on an app the team made (no listening socket: inject)', () => {
  let dir: string;
  let app: FastifyInstance;

  before(async () => {
    dir = await tempDir();
    const usersFile = await writeUsers(dir, { alice: password, bob: password });
    app = fastify();
    app.get('/before', async (request) => ({ user: request.principal?.id }));
    await app.register(farolPlugin, { service: { name: 'orders' }, auth: { usersFile, loginLimits: false }, consul: false, drain: { delayMs: 0 } });
    app.get('/orders', async (request) => ({ user: request.principal?.id }));
    app.get('/open', { config: { auth: { public: true } } }, async (request) => ({ user: request.principal }));
    app.get('/alice-only', { config: { auth: { require: { principals: ['alice'] } } } }, async () => ({ ok: true }));
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('decorates the app with the instance and every request with its principal', () => {
    assert.match(app.farol.instanceId, /^orders-[0-9a-f]{8}$/);
    assert.equal(app.farol.name, 'orders');
    assert.equal(app.farol.draining, false);
  });

  it('requires credentials on every route, those declared before the plugin and unknown ones included', async () => {
    for (const url of ['/orders', '/before', '/nowhere']) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 401, url);
      assert.match(String(response.headers['www-authenticate']), /^Basic realm="orders"/);
    }
    const ok = await app.inject({ url: '/orders', headers: { authorization: basic('alice', password) } });
    assert.deepEqual([ok.statusCode, ok.json()], [200, { user: 'alice' }]);
    assert.equal((await app.inject({ url: '/orders', headers: { authorization: basic('alice', 'wrong') } })).statusCode, 401);
  });

  it('lets a route be public or demand more, through its config.auth', async () => {
    const open = await app.inject({ url: '/open' });
    assert.deepEqual([open.statusCode, open.json()], [200, { user: null }]);
    assert.equal((await app.inject({ url: '/alice-only', headers: { authorization: basic('alice', password) } })).statusCode, 200);
    const bob = await app.inject({ url: '/alice-only', headers: { authorization: basic('bob', password) } });
    assert.deepEqual([bob.statusCode, bob.json().error], [403, 'forbidden']);
  });

  it('answers GET /health without credentials', async () => {
    const health = await app.inject({ url: '/health' });
    assert.deepEqual([health.statusCode, health.json()], [200, { status: 'passing', instance: app.farol.instanceId }]);
    assert.equal(health.headers['cache-control'], 'no-store');
  });
});

describe('farolPlugin drain', () => {
  it('app.farol fits stopOnSignals: SIGTERM drains the app, which had never listened, at once', async () => {
    const dir = await tempDir();
    try {
      const app = fastify();
      await app.register(farolPlugin, { service: { name: 'orders' }, auth: { usersFile: await writeUsers(dir, { alice: password }) }, consul: false, drain: { delayMs: 0 } });
      await app.ready();
      const exited = new Promise<number>((resolve) => {
        const remove = stopOnSignals(app.farol, {
          onExit: (code) => {
            remove();
            resolve(code);
          },
        });
      });
      process.emit('SIGTERM', 'SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(app.farol.draining, true);
      assert.equal(app.farol.registration.health().statusCode, 503);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The serial number of the certificate a new handshake with 127.0.0.1:port presents. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const serial = new X509Certificate(socket.getPeerX509Certificate()!.raw).serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

describe("farolPlugin on an app served with Farol's TLS provider", () => {
  it('new handshakes get a rotated certificate, with no restart', async () => {
    const dir = await tempDir();
    try {
      const pki = await issueTestPki(dir);
      const tls = await createServerTlsProvider({ keyPair: { certFile: pki.certFile, keyFile: pki.keyFile } });
      const app = fastify({ https: farolHttpsOptions(tls) });
      await app.register(farolPlugin, { service: { name: 'api' }, auth: { usersFile: await writeUsers(dir, { alice: password }) }, consul: false, tls, drain: { delayMs: 0 } });
      try {
        await app.listen({ host: '127.0.0.1', port: 0 });
        await app.farol.started();
        const { port } = app.server.address() as AddressInfo;
        const before = await servedSerial(port, pki.caPem);
        assert.equal(before, new X509Certificate(tls.current().keyPair.certPem).serialNumber);

        const next = await issueCertificate(pki.ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['api']) });
        await writeServerFiles(dir, next);
        await tls.reload();
        const after = await servedSerial(port, pki.caPem);
        assert.notEqual(after, before);
        assert.equal(after, new X509Certificate(next.certPem).serialNumber);
      } finally {
        await app.close();
        tls.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('farolPlugin options', () => {
  it('refuses an app with no service name, and bad options, as CONFIG_INVALID naming the option', async () => {
    const authenticators = [{ scheme: 'Basic', challenge: () => 'Basic realm="x"', authenticate: async () => ({ outcome: 'absent' as const }) }];
    const withoutName = fastify();
    await assert.rejects(
      async () => {
        await withoutName.register(farolPlugin, { auth: { authenticators }, consul: false });
        await withoutName.ready();
      },
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /option service/.test(error.message),
    );
    const badDrain = fastify();
    await assert.rejects(
      async () => {
        await badDrain.register(farolPlugin, { service: { name: 'orders' }, auth: { authenticators }, consul: false, drain: { delayMs: -1 } });
        await badDrain.ready();
      },
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /option drain\.delayMs/.test(error.message),
    );
    const typo = fastify();
    await assert.rejects(
      async () => {
        await typo.register(farolPlugin, { service: { name: 'orders' }, auth: { authenticators }, consul: false, drian: { delayMs: 0 } } as never);
        await typo.ready();
      },
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /option drian: unknown option/.test(error.message),
    );
    const noWayIn = fastify();
    await assert.rejects(
      async () => {
        await noWayIn.register(farolPlugin, { service: { name: 'orders' }, auth: {}, consul: false });
        await noWayIn.ready();
      },
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /no way to authenticate/.test(error.message),
    );
  });
});
