import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { basicCredentials, type CredentialProvider } from '../../src/auth/index.js';
import { createClient, type FarolClient } from '../../src/client/index.js';
import { ConsulClient } from '../../src/consul/index.js';
import { isFarolError, type FarolError } from '../../src/errors.js';
import { createCertificateAuthority, issueCertificate } from '../../src/pki/index.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import {
  answerWithInstance,
  closedLoopbackPort,
  createTestPki,
  eventually,
  makeTempDir,
  registerInstance,
  startHttpsServer,
  uniqueServiceName,
  waitForHealth,
  type RegisteredInstance,
  type TestHandler,
  type TestPki,
  type TestServer,
} from './fixtures.js';

function thrown(run: () => unknown): FarolError {
  try {
    run();
  } catch (error) {
    assert.ok(isFarolError(error), `expected a FarolError, got ${String(error)}`);
    return error;
  }
  return assert.fail('expected a FarolError to be thrown');
}

async function rejection(promise: Promise<unknown>): Promise<FarolError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isFarolError(error), `expected a FarolError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('client without a reachable Consul', () => {
  it('fails with CONSUL_UNREACHABLE naming the address when Consul is on a closed port', async () => {
    const pki = await createTestPki();
    const port = await closedLoopbackPort();
    const dir = await makeTempDir();
    const client = createClient({ consul: { address: `127.0.0.1:${port}` }, ca: pki.ca.certPem, logFile: join(dir.path, 'client-log.txt') });
    try {
      const error = await rejection(client.call('api'));
      assert.equal(error.code, 'CONSUL_UNREACHABLE');
      assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
      assert.ok(error.hint);
      const again = await rejection(client.call('api'));
      assert.equal(again.code, 'CONSUL_UNREACHABLE', 'a later call asks Consul again and fails the same way');
    } finally {
      await client.close();
      await dir.remove();
    }
  });
});

describe('client timer bounds', () => {
  it('refuses a timeout or deadline beyond 2^31-1 ms (24.8 days), which setTimeout would turn into 1 ms', () => {
    for (const bounds of [{ timeoutMs: 2 ** 31 }, { deadlineMs: 7_200_000_000 }]) {
      assert.throws(
        () => createClient({ consul: { address: '127.0.0.1:1' }, ...bounds } as Parameters<typeof createClient>[0]),
        (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /must be at most 2147483647 \(24\.8 days\)/.test(error.message),
        JSON.stringify(bounds),
      );
    }
  });
});

describeWithConsul('client against a real Consul agent', (getAgent) => {
  let pki: TestPki;
  let consul: ConsulClient;
  let logDir: { path: string; remove(): Promise<void> };
  const servers: TestServer[] = [];
  const registered: RegisteredInstance[] = [];
  const clients: FarolClient[] = [];

  before(async () => {
    pki = await createTestPki();
    consul = new ConsulClient({ address: getAgent().address });
    logDir = await makeTempDir();
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(registered.map((instance) => instance.deregister().catch(() => undefined)));
    await Promise.all(servers.map((server) => server.close()));
    await consul.close();
    await logDir.remove();
  });

  async function serve(pair = pki.server, handler = answerWithInstance('x'), opts: Parameters<typeof startHttpsServer>[2] = {}): Promise<TestServer> {
    const server = await startHttpsServer(pair, handler, opts);
    servers.push(server);
    return server;
  }

  async function register(service: string, id: string, server: TestServer, status: 'passing' | 'critical' = 'passing') {
    const instance = await registerInstance(consul, { service, id, port: server.port, status });
    registered.push(instance);
    return instance;
  }

  function client(opts: Partial<Parameters<typeof createClient>[0]> = {}, logName = 'client-log.txt'): FarolClient {
    const made = createClient({ consul, ca: pki.ca.certPem, logFile: join(logDir.path, logName), timeoutMs: 5000, ...opts });
    clients.push(made);
    return made;
  }

  it("reaches a passing instance and returns its status and body", async () => {
    const service = uniqueServiceName('api');
    const server = await serve(pki.server, answerWithInstance('one'));
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const result = await client().call(service, { path: '/hello' });
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body), { instance: 'one' });
    assert.deepEqual(result.instance, { id: `${service}-1`, address: '127.0.0.1', port: server.port });
    assert.equal(result.headers['content-type'], 'application/json');
    assert.ok(result.latencyMs >= 0);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]?.url, '/hello');
  });

  it('sends the credentials as an Authorization header, and the method, headers and body', async () => {
    const service = uniqueServiceName('api');
    let seenHeader: string | undefined;
    const server = await serve(pki.server, (req, res, body) => {
      seenHeader = req.headers['x-request-note'] as string | undefined;
      res.end(`${req.method} ${body}`);
    });
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const result = await client({ credentials: basicCredentials('bob', 's3cret-pw') }).call(service, {
      method: 'post',
      path: '/items',
      headers: { 'x-request-note': 'hi' },
      body: 'payload',
    });
    assert.equal(result.body, 'POST payload');
    assert.equal(seenHeader, 'hi');
    assert.equal(server.requests[0]?.authorization, `Basic ${Buffer.from('bob:s3cret-pw').toString('base64')}`);
  });

  it('uses both of two passing instances in turn (round-robin)', async () => {
    const service = uniqueServiceName('api');
    const first = await serve(pki.server, answerWithInstance('a'));
    const second = await serve(pki.server, answerWithInstance('b'));
    await register(service, `${service}-a`, first);
    await register(service, `${service}-b`, second);
    await waitForHealth(consul, service, { registered: 2, passing: 2 });

    const farol = client({ balancer: 'round-robin' });
    const seen: string[] = [];
    for (let i = 0; i < 6; i += 1) seen.push((await farol.call(service)).instance.id);
    assert.equal(first.requests.length, 3);
    assert.equal(second.requests.length, 3);
    for (let i = 1; i < seen.length; i += 1) assert.notEqual(seen[i], seen[i - 1], `consecutive calls went to ${seen[i]}`);
    assert.deepEqual(
      (await farol.instances(service)).map((instance) => instance.id),
      [`${service}-a`, `${service}-b`],
    );
  });

  it('never calls an instance whose check is critical', async () => {
    const service = uniqueServiceName('api');
    const healthy = await serve(pki.server, answerWithInstance('healthy'));
    const sick = await serve(pki.server, answerWithInstance('sick'));
    await register(service, `${service}-healthy`, healthy);
    await register(service, `${service}-sick`, sick, 'critical');
    await waitForHealth(consul, service, { registered: 2, passing: 1 });

    const farol = client({ balancer: 'random' });
    for (let i = 0; i < 8; i += 1) assert.equal((await farol.call(service)).instance.id, `${service}-healthy`);
    assert.equal(healthy.requests.length, 8);
    assert.equal(sick.requests.length, 0);
  });

  it('stops calling an instance once its check turns critical, and closes its connections', async () => {
    const service = uniqueServiceName('api');
    const stays = await serve(pki.server, answerWithInstance('stays'));
    const leaves = await serve(pki.server, answerWithInstance('leaves'));
    await register(service, `${service}-stays`, stays);
    const leaving = await register(service, `${service}-leaves`, leaves);
    await waitForHealth(consul, service, { registered: 2, passing: 2 });

    const farol = client();
    await farol.call(service);
    await farol.call(service);
    assert.equal(leaves.requests.length, 1);
    assert.equal(leaves.openConnections(), 1, 'the keep-alive connection stays open between calls');

    await consul.agent.updateTTL(leaving.checkId, 'critical', 'going away');
    await eventually(async () => (await farol.instances(service)).length === 1, 'the client sees one passing instance');
    const before = leaves.requests.length;
    for (let i = 0; i < 4; i += 1) assert.equal((await farol.call(service)).instance.id, `${service}-stays`);
    assert.equal(leaves.requests.length, before);
    await eventually(() => leaves.openConnections() === 0, 'the pool of the departed instance is closed');
  });

  it('fails with NO_HEALTHY_INSTANCE, with counts and a hint, when no instance passes', async () => {
    const service = uniqueServiceName('api');
    const sick = await serve();
    await register(service, `${service}-1`, sick, 'critical');
    await register(service, `${service}-2`, sick, 'critical');
    await waitForHealth(consul, service, { registered: 2, passing: 0 });

    const error = await rejection(client().call(service));
    assert.equal(error.code, 'NO_HEALTHY_INSTANCE');
    assert.equal(error.message, `no healthy instance of service '${service}' in Consul (2 registered, 0 passing)`);
    assert.equal(error.hint, `start one (createService({ name: '${service}' }) or farol serve --service ${service}), or check its health in Consul`);
    assert.equal(sick.requests.length, 0);
  });

  it('says so when no instance of the service is registered at all', async () => {
    const service = uniqueServiceName('ghost');
    const error = await rejection(client().call(service));
    assert.equal(error.code, 'NO_HEALTHY_INSTANCE');
    assert.match(error.message, /none registered/);
  });

  it('refuses a server whose certificate comes from another CA, before the request reaches it', async () => {
    const service = uniqueServiceName('api');
    const otherCa = await createCertificateAuthority({ commonName: 'Some other CA' });
    const foreign = await issueCertificate(otherCa, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const server = await serve(foreign);
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const error = await rejection(client({ credentials: basicCredentials('bob', 'never-sent') }).call(service));
    assert.equal(error.code, 'TLS_UNTRUSTED');
    assert.match(error.message, new RegExp(`^the certificate of '${service}' at 127\\.0\\.0\\.1:${server.port} is not trusted: `));
    assert.match(error.hint ?? '', /--ca/);
    assert.equal(server.requests.length, 0);
  });

  it('refuses a certificate that does not name the instance, saying which name is missing', async () => {
    const service = uniqueServiceName('api');
    const misnamed = await issueCertificate(pki.ca, { commonName: 'elsewhere', usage: 'server', dnsNames: ['elsewhere.example'] });
    const server = await serve(misnamed);
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const error = await rejection(client().call(service));
    assert.equal(error.code, 'TLS_UNTRUSTED');
    assert.equal(error.message, `the certificate of '${service}' at 127.0.0.1:${server.port} does not name 127.0.0.1`);
    assert.match(error.hint ?? '', /--server-name/);
    assert.equal(server.requests.length, 0);
  });

  it("verifies the name from a '{service}' server-name template instead of the address", async () => {
    const service = uniqueServiceName('api');
    const byName = await issueCertificate(pki.ca, { commonName: service, usage: 'server', dnsNames: [`${service}.service.consul`] });
    const server = await serve(byName, answerWithInstance('named'));
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const result = await client({ serverName: '{service}.service.consul' }).call(service);
    assert.equal(result.status, 200);
    const error = await rejection(client({ serverName: 'wrong.service.consul' }).call(service));
    assert.equal(error.code, 'TLS_UNTRUSTED');
    assert.match(error.message, /does not name wrong\.service\.consul$/);
  });

  it('resolves with 4xx and 5xx statuses and leaves the decision to the caller', async () => {
    const service = uniqueServiceName('api');
    const server = await serve(pki.server, (_req, res) => {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Basic realm="api"');
      res.end('no');
    });
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const result = await client().call(service);
    assert.equal(result.status, 401);
    assert.equal(result.headers['www-authenticate'], 'Basic realm="api"');
  });

  it('presents a client certificate to an instance that requires mutual TLS, from PEM text or from files', async () => {
    const service = uniqueServiceName('mtls');
    const server = await serve(pki.server, answerWithInstance('mutual'), { requireClientCertificate: { ca: pki.ca.certPem } });
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });
    const caller = await issueCertificate(pki.ca, { commonName: 'caller-1', usage: 'client' });

    const fromPem = await client({ clientCertificate: { cert: caller.certPem, key: caller.keyPem } }).call(service);
    assert.equal(fromPem.status, 200);
    assert.equal(server.requests[0]?.clientCertificateCn, 'caller-1');

    const certFile = join(logDir.path, 'client-caller.pem');
    const keyFile = join(logDir.path, 'client-caller-key.pem');
    await writeFile(certFile, caller.certPem);
    await writeFile(keyFile, caller.keyPem, { mode: 0o600 });
    const fromFiles = await client({ clientCertificate: { certFile, keyFile } }).call(service);
    assert.equal(fromFiles.status, 200);
    assert.equal(server.requests[1]?.clientCertificateCn, 'caller-1');
  });

  it('fails with a FarolError, not a raw TLS error, when an instance requires a client certificate and none is given', async () => {
    const service = uniqueServiceName('mtls');
    const server = await serve(pki.server, answerWithInstance('mutual'), { requireClientCertificate: { ca: pki.ca.certPem } });
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const error = await rejection(client({ retries: 0 }).call(service));
    assert.equal(error.code, 'AUTH_REJECTED', 'the service refused the caller, as a 401 would');
    assert.match(error.message, new RegExp(`'${service}' at 127\\.0\\.0\\.1:${server.port} requires a client certificate`));
    assert.match(error.hint ?? '', /client certificate/);
    assert.ok(!error.message.includes('\n'), 'one line');
    assert.equal(server.requests.length, 0);
  });

  it('refuses, at creation, a client certificate whose files are missing, or whose key does not match, with CERT_MISSING / CERT_INVALID', async () => {
    const missing = join(logDir.path, 'no-such-client.pem');
    const absent = thrown(() => client({ clientCertificate: { certFile: missing, keyFile: `${missing}.key` } }));
    assert.equal(absent.code, 'CERT_MISSING');
    assert.ok(absent.message.includes(missing), absent.message);
    assert.ok(absent.hint);

    const one = await issueCertificate(pki.ca, { commonName: 'one', usage: 'client' });
    const other = await issueCertificate(pki.ca, { commonName: 'other', usage: 'client' });
    const mismatched = thrown(() => client({ tls: { ca: { pem: pki.ca.certPem }, clientCertificate: { certPem: one.certPem, keyPem: other.keyPem } }, ca: undefined }));
    assert.equal(mismatched.code, 'CERT_INVALID');
    const garbage = thrown(() => client({ clientCertificate: { cert: 'not a certificate', key: one.keyPem } }));
    assert.equal(garbage.code, 'CERT_INVALID');
    const noCa = thrown(() => client({ tls: { ca: { file: missing } }, ca: undefined }));
    assert.equal(noCa.code, 'CERT_MISSING');
    assert.ok(noCa.message.includes(missing), noCa.message);
  });

  /** A provider handing out Bearer t1, t2, ...; `invalidate` drops the current one. */
  function rotatingTokens(): CredentialProvider & { issued: number; invalidated: string[] } {
    let current: string | undefined;
    const provider = {
      issued: 0,
      invalidated: [] as string[],
      authorization: async () => {
        if (current === undefined) {
          provider.issued += 1;
          current = `Bearer t${provider.issued}`;
        }
        return current;
      },
      invalidate: (rejected: string) => {
        provider.invalidated.push(rejected);
        if (rejected === current) current = undefined;
      },
    };
    return provider;
  }

  function rejectingTokens(rejected: (authorization: string | undefined) => boolean, challenge = 'Bearer error="invalid_token"'): TestHandler {
    return (req, res) => {
      if (rejected(req.headers.authorization)) {
        res.statusCode = 401;
        res.setHeader('www-authenticate', challenge);
        res.end('{"error":"unauthorized"}');
        return;
      }
      res.end(`ok ${req.headers.authorization ?? ''}`);
    };
  }

  it('on a 401 with error="invalid_token", drops the token, fetches a fresh one and retries once', async () => {
    const service = uniqueServiceName('token');
    const server = await serve(pki.server, rejectingTokens((authorization) => authorization === 'Bearer t1'));
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const tokens = rotatingTokens();
    const farol = client({ credentials: tokens, retries: 0 });
    const result = await farol.call(service);
    assert.equal(result.status, 200);
    assert.equal(result.body, 'ok Bearer t2');
    assert.equal(result.attempts, 1, 'the refresh is not a retry on another instance');
    assert.deepEqual(tokens.invalidated, ['Bearer t1']);
    assert.equal(tokens.issued, 2);
    assert.deepEqual(server.requests.map((r) => r.authorization), ['Bearer t1', 'Bearer t2']);

    const next = await farol.call(service);
    assert.equal(next.body, 'ok Bearer t2', 'the fresh token is kept for later calls');
    assert.equal(server.requests.length, 3);
  });

  it('refreshes the token at most once per call, and not for other 401s or providers that cannot refresh', async () => {
    const service = uniqueServiceName('token');
    const alwaysInvalid = await serve(pki.server, rejectingTokens(() => true));
    await register(service, `${service}-1`, alwaysInvalid);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });
    const tokens = rotatingTokens();
    const result = await client({ credentials: tokens }).call(service);
    assert.equal(result.status, 401);
    assert.equal(alwaysInvalid.requests.length, 2, 'one first try, one retry with a fresh token');
    assert.deepEqual(tokens.invalidated, ['Bearer t1']);

    const plain = uniqueServiceName('token');
    const wrongPassword = await serve(pki.server, rejectingTokens(() => true, 'Basic realm="api", charset="UTF-8"'));
    await register(plain, `${plain}-1`, wrongPassword);
    await waitForHealth(consul, plain, { registered: 1, passing: 1 });
    const other = rotatingTokens();
    assert.equal((await client({ credentials: other }).call(plain)).status, 401);
    assert.equal(wrongPassword.requests.length, 1, 'a 401 without invalid_token is the answer');
    assert.deepEqual(other.invalidated, []);

    const staticToken = { authorization: async () => 'Bearer fixed' };
    assert.equal((await client({ credentials: staticToken }).call(service)).status, 401);
    assert.equal(alwaysInvalid.requests.length, 3, 'a provider without invalidate gets no second try');
  });

  it('times out with TIMEOUT when an instance never answers', async () => {
    const service = uniqueServiceName('api');
    const server = await serve(pki.server, () => undefined);
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const error = await rejection(client({ timeoutMs: 300, retries: 0 }).call(service));
    assert.equal(error.code, 'TIMEOUT');
    assert.match(error.message, /300 ms/);
  });

  it('stops trying again at the deadline of the call, whatever retries are left', async () => {
    const service = uniqueServiceName('api');
    const server = await serve(pki.server, () => undefined);
    await register(service, `${service}-1`, server);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const started = Date.now();
    const error = await rejection(client({ timeoutMs: 300, retries: 5, deadlineMs: 500 }).call(service));
    assert.equal(error.code, 'TIMEOUT');
    assert.match(error.message, /500 ms deadline/);
    assert.ok(Date.now() - started < 2000, 'the call ended near its deadline');
    assert.ok(server.requests.length >= 2 && server.requests.length <= 3, `tried ${server.requests.length} times within the deadline`);
  });

  it('retries an idempotent call on another instance after a 5xx, and ejects the instance that keeps failing', async () => {
    const service = uniqueServiceName('api');
    const sick = await serve(pki.server, (_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const well = await serve(pki.server, answerWithInstance('well'));
    await register(service, `${service}-sick`, sick);
    await register(service, `${service}-well`, well);
    await waitForHealth(consul, service, { registered: 2, passing: 2 });

    const farol = client({ balancer: 'round-robin' }, 'retry-log.txt');
    const results = [];
    for (let i = 0; i < 12; i += 1) results.push(await farol.call(service));
    assert.ok(results.every((r) => r.status === 200 && r.instance.id === `${service}-well`), 'every call ended on the healthy instance');
    assert.ok(results.some((r) => r.attempts === 2), 'some calls needed a second try');
    assert.equal(sick.requests.length, 3, 'the sick instance got three calls, then was ejected');
    await farol.close(); // writes the pending log lines
    const events = (await readFile(join(logDir.path, 'retry-log.txt'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(events.some((e) => e.event === 'ejected' && e.instance === `${service}-sick`), 'the ejection is logged');
    assert.ok(events.some((e) => e.event === 'retry'), 'the retries are logged');
  });

  it('returns the 500 of a POST as it is: a request that reached an instance is not sent twice', async () => {
    const service = uniqueServiceName('api');
    const sick = await serve(pki.server, (_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    await register(service, `${service}-sick`, sick);
    await register(service, `${service}-well`, await serve(pki.server, answerWithInstance('well')));
    await waitForHealth(consul, service, { registered: 2, passing: 2 });

    const farol = client({ balancer: 'round-robin' });
    const results = [await farol.call(service, { method: 'POST', body: 'x' }), await farol.call(service, { method: 'POST', body: 'x' })];
    const failed = results.find((r) => r.instance.id === `${service}-sick`);
    assert.equal(failed?.status, 500);
    assert.equal(failed?.attempts, 1);
    assert.equal(sick.requests.length, 1);
  });

  it('retries even a POST on another instance when the connection was refused (it was never sent)', async () => {
    const service = uniqueServiceName('api');
    registered.push(await registerInstance(consul, { service, id: `${service}-gone`, port: await closedLoopbackPort(), status: 'passing' }));
    const well = await serve(pki.server, answerWithInstance('well'));
    await register(service, `${service}-well`, well);
    await waitForHealth(consul, service, { registered: 2, passing: 2 });

    const farol = client({ balancer: 'round-robin' });
    for (let i = 0; i < 4; i += 1) {
      const result = await farol.call(service, { method: 'POST', body: 'x' });
      assert.equal(result.status, 200);
      assert.equal(result.instance.id, `${service}-well`);
    }
    assert.equal(well.requests.length, 4, 'each POST reached the healthy instance exactly once');
  });

  it('waits out Retry-After when every instance has asked for a rest, then tries again', async () => {
    const service = uniqueServiceName('api');
    let calls = 0;
    const busy = await serve(pki.server, (_req, res) => {
      calls += 1;
      if (calls === 1) {
        res.statusCode = 503;
        res.setHeader('retry-after', '1');
        res.end('busy');
        return;
      }
      res.end('ok now');
    });
    await register(service, `${service}-1`, busy);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const started = Date.now();
    const result = await client().call(service);
    assert.equal(result.status, 200);
    assert.equal(result.attempts, 2);
    assert.ok(Date.now() - started >= 900, `the retry waited for Retry-After (${Date.now() - started} ms)`);
  });

  it('fails with REQUEST_FAILED when a passing instance refuses connections', async () => {
    const service = uniqueServiceName('api');
    const port = await closedLoopbackPort();
    registered.push(await registerInstance(consul, { service, id: `${service}-1`, port, status: 'passing' }));
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const error = await rejection(client().call(service));
    assert.equal(error.code, 'REQUEST_FAILED');
    assert.match(error.message, /ECONNREFUSED/);
  });

  it('logs discovery and every call, and never the password or Authorization header', async () => {
    const service = uniqueServiceName('api');
    const good = await serve(pki.server, answerWithInstance('logged'));
    await register(service, `${service}-1`, good);
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const password = 'very-secret-password-42';
    const farol = createClient({
      consul,
      ca: pki.ca.certPem,
      credentials: basicCredentials('bob', password),
      logFile: join(logDir.path, 'logged.txt'),
    });
    await farol.call(service, { path: '/one' });
    await farol.call(service, { path: '/two', headers: { authorization: 'Bearer leaked-if-logged' } });
    await farol.close();

    const text = await readFile(join(logDir.path, 'logged.txt'), 'utf8');
    const lines = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const discovery = lines.find((line) => line.event === 'discovery');
    assert.ok(discovery, text);
    assert.equal(discovery.service, service);
    assert.deepEqual(discovery.instances, [{ id: `${service}-1`, address: '127.0.0.1', port: good.port }]);
    const calls = lines.filter((line) => line.event === 'call');
    assert.deepEqual(
      calls.map((line) => [line.service, line.instance, line.method, line.path, line.status]),
      [
        [service, `${service}-1`, 'GET', '/one', 200],
        [service, `${service}-1`, 'GET', '/two', 200],
      ],
    );
    assert.ok(calls.every((line) => typeof line.latencyMs === 'number'));
    assert.ok(!text.includes(password));
    assert.ok(!text.includes(Buffer.from(`bob:${password}`).toString('base64')));
    assert.ok(!text.includes('leaked-if-logged'));
  });

  it('logs a failed call with its error code', async () => {
    const service = uniqueServiceName('api');
    const port = await closedLoopbackPort();
    registered.push(await registerInstance(consul, { service, id: `${service}-1`, port, status: 'passing' }));
    await waitForHealth(consul, service, { registered: 1, passing: 1 });

    const farol = createClient({ consul, ca: pki.ca.certPem, logFile: join(logDir.path, 'failed.txt') });
    await rejection(farol.call(service));
    await farol.close();
    const lines = (await readFile(join(logDir.path, 'failed.txt'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    const failed = lines.find((line: Record<string, unknown>) => line.event === 'call_failed');
    assert.equal(failed?.code, 'REQUEST_FAILED');
    assert.equal(failed?.service, service);
  });

  it('refuses calls once closed', async () => {
    const farol = client();
    await farol.close();
    const error = await rejection(farol.call('api'));
    assert.equal(error.code, 'CLIENT_CLOSED');
  });
});
