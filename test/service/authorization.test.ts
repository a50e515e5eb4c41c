import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { Agent } from 'undici';
import { createCertificateAuthenticator } from '../../src/auth/index.js';
import type { FarolService } from '../../src/service/index.js';
import { basic, httpsGet, issueTestPki, logLines, serviceStarter, tempDir, writeUsers, type TestPki } from './fixtures.js';

const password = 'correct horse battery staple';

describe('service routes: who may call what (401, 403, 429)', () => {
  let dir: string;
  let pki: TestPki;
  let service: FarolService;
  let agent: Agent;
  let logFile: string;
  let token: (scope: string) => Promise<string>;
  const running: FarolService[] = [];

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir);
    logFile = join(dir, 'server-log.txt');
    const keys = await generateKeyPair('ES256');
    token = (scope) =>
      new SignJWT({ scope }).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://idp').setAudience('api').setSubject('billing').setExpirationTime('5m').sign(keys.privateKey);
    const start = serviceStarter(
      (overrides) => ({
        name: 'api',
        port: 0,
        tls: { certFile: pki.certFile, keyFile: pki.keyFile },
        consul: false,
        drain: { delayMs: 0 },
        logFile,
        loginLimits: { maxFailuresPerAddress: 3 },
        routes: (app) => {
          app.get('/whoami', async (request) => ({ principal: request.principal }));
          app.get('/admin', { config: { auth: { require: { principals: ['root'] } } } }, async () => ({ admin: true }));
          app.get('/orders', { config: { auth: { require: { scopes: ['orders:read'] } } } }, async () => ({ orders: [] }));
          app.get('/status', { config: { auth: { public: true } } }, async () => ({ ok: true }));
          app.get('/machines', { config: { auth: { authenticators: [createCertificateAuthenticator()] } } }, async () => ({ machine: true }));
        },
        ...overrides,
      }),
      running,
    );
    service = await start({
      usersFile: await writeUsers(dir, { alice: password }),
      jwt: { issuer: 'https://idp', audience: 'api', publicKey: await exportSPKI(keys.publicKey) },
    });
    agent = new Agent({ connect: { ca: pki.caPem } });
  });

  after(async () => {
    await agent.close();
    for (const running_ of running) await running_.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) => httpsGet(agent, `${service.url}${path}`, headers);

  it('invites an anonymous caller to every scheme the service accepts', async () => {
    const response = await get('/whoami');
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Basic realm="api", charset="UTF-8", Bearer realm="api"');
  });

  it('gives handlers the principal of a user and of a token', async () => {
    assert.deepEqual((await get('/whoami', { authorization: basic('alice', password) })).json().principal, { kind: 'user', id: 'alice' });
    assert.deepEqual((await get('/whoami', { authorization: `Bearer ${await token('orders:read')}` })).json().principal, {
      kind: 'token',
      id: 'billing',
      scopes: ['orders:read'],
    });
  });

  it('answers 403, not 401, to an authenticated caller the route does not allow, and logs it', async () => {
    const response = await get('/admin', { authorization: basic('alice', password) });
    assert.equal(response.status, 403);
    assert.equal(response.headers['www-authenticate'], undefined, 'a user cannot fix this by sending other credentials');
    const { lines } = await logLines(logFile, (all) => all.some((line) => line.event === 'forbidden'));
    const line = lines.find((entry) => entry.event === 'forbidden')!;
    assert.deepEqual(
      { principal: line.principal, principalKind: line.principalKind, path: line.path, status: line.status, reason: line.reason },
      { principal: 'alice', principalKind: 'user', path: '/admin', status: 403, reason: 'principal is not allowed on this route' },
    );
  });

  it('tells a token without the scope which scope it lacks (RFC 6750 insufficient_scope)', async () => {
    const response = await get('/orders', { authorization: `Bearer ${await token('orders:write')}` });
    assert.equal(response.status, 403);
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="api", error="insufficient_scope", scope="orders:read"');
    assert.equal((await get('/orders', { authorization: `Bearer ${await token('orders:read')}` })).status, 200);
  });

  it('says why a token is refused, without echoing it', async () => {
    const response = await get('/whoami', { authorization: 'Bearer not.a.token' });
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="api", error="invalid_token", error_description="malformed token"');
  });

  it('serves a public route to anyone, and a route with its own authenticators only to those', async () => {
    assert.equal((await get('/status')).status, 200);
    assert.equal((await get('/machines', { authorization: basic('alice', password) })).status, 401, 'only client certificates count there');
  });

  it('limits failed logins from one address with 429 and Retry-After, and logs the refusal', async () => {
    for (let i = 0; i < 3; i += 1) assert.equal((await get('/whoami', { authorization: basic(`guess${i}`, 'x') })).status, 401);
    const limited = await get('/whoami', { authorization: basic('mallory', 'x') });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '1');
    const alice = await get('/whoami', { authorization: basic('alice', password) });
    assert.equal(alice.status, 200, 'alice logged in from this address before: the lock does not shut her out');
    assert.equal((await get('/whoami', { authorization: `Bearer ${await token('orders:read')}` })).status, 200, 'a token still works from there');
    const { lines } = await logLines(logFile, (all) => all.some((line) => line.event === 'auth_limited'));
    assert.equal(lines.find((line) => line.event === 'auth_limited')!.status, 429);
  });
});
