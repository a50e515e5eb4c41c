/**
 * Caller authentication end to end, with real parts only: a real Consul agent, a real OAuth2
 * authorization server (oidc-provider), Farol services registered in Consul, and Farol clients
 * that discover them and authenticate with OAuth2 client credentials, a client certificate
 * (mTLS) or a password.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Agent } from 'undici';
import { oauth2ClientCredentials, type OAuth2ClientCredentials } from '../../../src/auth/index.js';
import { createClient, type FarolClient } from '../../../src/client/index.js';
import { isFarolError } from '../../../src/errors.js';
import { createCertificateAuthority, issueCertificate, clientSubjectAltNames } from '../../../src/pki/index.js';
import type { FarolService, ServiceOptions } from '../../../src/service/index.js';
import { startAuthorizationServer, type RunningAuthorizationServer } from '../../support/authorization-server.js';
import type { ConsulAgent } from '../../support/consul-agent.js';
import { eventually } from '../../support/consul-health.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { runFarol } from '../../support/cli.js';
import { basic, httpsGet, issueTestPki, logLines, serviceStarter, tempDir, writeUsers, type TestPki } from '../../service/fixtures.js';

const AUDIENCE = 'https://orders.service.consul';
const PASSWORD = 'correct horse battery staple';

describeWithConsul('caller authentication end to end (real Consul, real OAuth2 server)', (getAgent) => {
  let agent: ConsulAgent;
  let dir: string;
  let pki: TestPki;
  let as: RunningAuthorizationServer;
  const running: FarolService[] = [];
  const clients: { close(): Promise<void> }[] = [];
  let serverLog: string;
  let clientLog: string;

  const options = (overrides: Partial<ServiceOptions>): ServiceOptions => ({
    name: 'orders',
    port: 0,
    tls: { certFile: pki.certFile, keyFile: pki.keyFile },
    consul: { address: agent.address },
    check: { kind: 'ttl', ttl: '10s' },
    drain: { delayMs: 0 },
    keepRegistered: { intervalMs: 0 },
    logFile: serverLog,
    routes: (app) => {
      app.get('/orders', { config: { auth: { require: { scopes: ['orders:read'] } } } }, async (request) => ({ caller: request.principal }));
      app.post('/orders', { config: { auth: { require: { scopes: ['orders:write'] } } } }, async () => ({ created: true }));
      app.get('/whoami', async (request) => ({ caller: request.principal }));
    },
    ...overrides,
  });
  const start = serviceStarter(options, running);

  const jwt = () => ({ jwksUrl: as.jwksUri, issuer: as.issuer, audience: AUDIENCE, ca: as.ca, jwksCooldownMs: 0 });

  function farolClient(opts: Partial<Parameters<typeof createClient>[0]>): FarolClient {
    const client = createClient({ consul: { address: agent.address }, ca: pki.caPem, logFile: clientLog, timeoutMs: 5000, retries: 0, ...opts });
    clients.push(client);
    return client;
  }

  function tokens(scope: string[]): OAuth2ClientCredentials {
    const [registered] = as.clients;
    const provider = oauth2ClientCredentials({
      issuer: as.issuer,
      clientId: registered!.clientId,
      clientSecret: registered!.clientSecret,
      scope,
      audience: AUDIENCE,
      ca: as.ca,
    });
    clients.push(provider);
    return provider;
  }

  before(async () => {
    agent = getAgent();
    dir = await tempDir();
    pki = await issueTestPki(dir, ['orders']);
    as = await startAuthorizationServer({ audience: AUDIENCE });
    serverLog = join(dir, 'server-log.txt');
    clientLog = join(dir, 'client-log.txt');
  });

  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    for (const service of running) await service.stop().catch(() => undefined);
    await as?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a client with OAuth2 client credentials calls a JWT-protected service found through Consul', async () => {
    const service = await start({ jwt: jwt() });
    const client = farolClient({ credentials: tokens(['orders:read']) });
    const result = await client.call('orders', { path: '/orders' });
    assert.equal(result.status, 200, result.body);
    assert.equal(result.instance.id, service.instanceId);
    const caller = (JSON.parse(result.body) as { caller: { kind: string; id: string; scopes: string[] } }).caller;
    assert.deepEqual(caller, { kind: 'token', id: as.clients[0]!.clientId, scopes: ['orders:read'] });
    await service.stop();
  });

  it('farol call gets its token from the issuer itself (--oauth-issuer, --client-id, the secret from FAROL_CLIENT_SECRET)', async () => {
    const service = await start({ name: 'orders-cli', jwt: jwt() });
    const caFile = join(dir, 'ca.pem');
    const issuerCaFile = join(dir, 'issuer-ca.pem');
    await writeFile(caFile, pki.caPem);
    await writeFile(issuerCaFile, as.ca);
    const [registered] = as.clients;
    const run = await runFarol(
      ['call', 'orders-cli', '/orders', '--consul', agent.address, '--ca', caFile, '--oauth-issuer', as.issuer, '--oauth-ca', issuerCaFile,
        '--client-id', registered!.clientId, '--scope', 'orders:read', '--audience', AUDIENCE, '--log-file', clientLog],
      { env: { FAROL_CLIENT_SECRET: registered!.clientSecret } },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"kind":"token"/);
    assert.ok(!run.stdout.includes(registered!.clientSecret) && !run.stderr.includes(registered!.clientSecret));
    await service.stop();
  });

  it('authenticated without the scope a route needs is 403 with insufficient_scope, not 401', async () => {
    const service = await start({ jwt: jwt() });
    const client = farolClient({ credentials: tokens(['orders:read']) });
    const result = await client.call('orders', { method: 'POST', path: '/orders', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(result.status, 403);
    assert.equal(result.headers['www-authenticate'], 'Bearer realm="orders", error="insufficient_scope", scope="orders:write"');
    await service.stop();
  });

  it('survives a key rotation at the provider: an instance that never saw the old key refuses the cached token, the client refreshes once and retries', async () => {
    const first = await start({ jwt: jwt() });
    const provider = tokens(['orders:read']);
    const client = farolClient({ credentials: provider });
    assert.equal((await client.call('orders', { path: '/orders' })).status, 200);
    const before = as.tokenRequests;

    await as.rotateKeys({ previous: 'drop' });
    // The running instance still accepts the old token from its key cache; a new one fetches the
    // rotated key set, in which the old key is gone.
    await first.stop();
    const second = await start({ name: 'orders-rotated', jwt: jwt() });
    await eventually('the client sees the new instance', async () =>
      (await client.instances('orders-rotated')).some((instance) => instance.id === second.instanceId) || undefined,
    );
    const result = await client.call('orders-rotated', { path: '/orders' });
    assert.equal(result.status, 200, result.body);
    assert.equal(result.instance.id, second.instanceId);
    assert.equal(as.tokenRequests - before, 1, 'exactly one new token was fetched');
    await second.stop();
  });

  it('mTLS: a certificate from the service CA is a principal; one from another CA, an expired one or a server-only one is refused with 401', async () => {
    const service = await start({ name: 'payments', usersFile: await writeUsers(dir, { alice: PASSWORD }), clientCertificates: { ca: pki.caPem } });
    const issue = (ca = pki.ca, extra: Partial<Parameters<typeof issueCertificate>[1]> = {}) =>
      issueCertificate(ca, { commonName: 'payments', usage: 'client', ...clientSubjectAltNames('payments'), ...extra });

    const good = await issue();
    const ok = await farolClient({ clientCertificate: { cert: good.certPem, key: good.keyPem } }).call('payments', { path: '/whoami' });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual((JSON.parse(ok.body) as { caller: unknown }).caller, { kind: 'certificate', id: 'spiffe://farol.local/client/payments' });

    const otherCa = await createCertificateAuthority({ commonName: 'Someone else' });
    const day = 86_400_000;
    const refused = {
      'another CA': await issue(otherCa),
      expired: await issue(pki.ca, { notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) }),
      'server-only': await issueCertificate(pki.ca, { commonName: 'payments', usage: 'server', dnsNames: ['payments'] }),
    };
    // Straight through undici: Farol's client itself refuses to present an expired certificate (below).
    for (const [what, pair] of Object.entries(refused)) {
      const http = new Agent({ connect: { ca: pki.caPem, cert: pair.certPem, key: pair.keyPem } });
      clients.push(http);
      assert.equal((await httpsGet(http, `${service.url}/whoami`)).status, 401, what);
    }
    // Refused when the client is made, before anything is sent.
    assert.throws(
      () => farolClient({ clientCertificate: { cert: refused.expired.certPem, key: refused.expired.keyPem } }),
      (error: unknown) => isFarolError(error, 'CERT_INVALID'),
    );
    // The same service still takes a password from a caller without a certificate.
    const withPassword = await farolClient({ credentials: { authorization: async () => basic('alice', PASSWORD) } }).call('payments', { path: '/whoami' });
    assert.equal(withPassword.status, 200);
    // The log file is shared with the other tests' services: wait for this instance's three lines.
    const mine = (line: Record<string, unknown>): boolean => line.event === 'auth_failed' && line.instance === service.instanceId;
    const { lines } = await logLines(serverLog, (all) => all.filter(mine).length >= 3);
    const reasons = lines.filter(mine).map((line) => line.reason);
    assert.deepEqual(reasons.sort(), [
      'client certificate not trusted: INVALID_PURPOSE',
      'client certificate not trusted: CERT_HAS_EXPIRED',
      'client certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    ].sort());
    await service.stop();
  });

  it('farol certs init --client, then farol call --cert/--key: the client certificate it issued is accepted', async () => {
    const certs = join(dir, 'cli-certs');
    const init = await runFarol(['certs', 'init', '--dir', certs, '--service', 'vault', '--client', 'alice']);
    assert.equal(init.code, 0, init.stderr);
    const service = await start({
      name: 'vault',
      tls: { certFile: join(certs, 'cert.pem'), keyFile: join(certs, 'key.pem') },
      clientCertificates: { caFile: join(certs, 'ca.pem') },
      require: { principals: ['spiffe://farol.local/client/alice'] },
    });
    const run = await runFarol([
      'call', 'vault', '/whoami', '--consul', agent.address, '--ca', join(certs, 'ca.pem'),
      '--cert', join(certs, 'client-alice.pem'), '--key', join(certs, 'client-alice-key.pem'), '--log-file', clientLog,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"id":"spiffe:\/\/farol.local\/client\/alice"/);
    await service.stop();
  });

  it('mTLS required: a caller without a trusted certificate fails at the handshake with a clear error', async () => {
    const service = await start({ name: 'ledger', clientCertificates: { ca: pki.caPem } });
    await assert.rejects(farolClient({}).call('ledger', { path: '/whoami' }), (error: unknown) => {
      assert.ok(isFarolError(error), String(error));
      assert.match(error.message, /certificate/i);
      return true;
    });
    await service.stop();
  });

  it('brute force: after 10 wrong logins from one address, it gets 429 with Retry-After, whatever the credentials', async () => {
    const service = await start({ name: 'accounts', usersFile: await writeUsers(dir, { alice: PASSWORD }) });
    const http = new Agent({ connect: { ca: pki.caPem } });
    clients.push(http);
    const url = `${service.url}/whoami`;
    const statuses: number[] = [];
    // A different user name each time: the per-user limit (5) stays out of the way of the address limit (10).
    for (let i = 0; i < 10; i += 1) statuses.push((await httpsGet(http, url, { authorization: basic(`user${i}`, 'guess') })).status);
    assert.deepEqual(statuses, Array(10).fill(401));
    const limited = await httpsGet(http, url, { authorization: basic('alice', PASSWORD) });
    assert.equal(limited.status, 429, 'the address is locked, whatever the credentials');
    assert.match(String(limited.headers['retry-after']), /^\d+$/);
    await service.stop();
  });

  it('logs hold no token, password or client secret', async () => {
    const secrets = [PASSWORD, as.clients[0]!.clientSecret, (await as.issueToken()).accessToken];
    const provider = tokens(['orders:read']);
    const service = await start({ jwt: jwt() });
    const result = await farolClient({ credentials: provider }).call('orders', { path: '/orders' });
    assert.equal(result.status, 200);
    const token = (await provider.authorization()).slice('Bearer '.length);
    await service.stop();
    for (const client of clients) await client.close().catch(() => undefined);
    const logs = (await readFile(serverLog, 'utf8')) + (await readFile(clientLog, 'utf8'));
    assert.ok(logs.includes('"event":"access"'), 'the logs were written');
    for (const secret of [...secrets, token]) assert.ok(!logs.includes(secret), 'a secret reached a log');
  });
});
