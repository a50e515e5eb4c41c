import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { Agent } from 'undici';
import { createService, type FarolService } from '../../src/service/index.js';
import { basic, httpsGet, issueTestPki, logLines, tempDir, writeUsers, type TestPki } from './fixtures.js';

const password = 'correct horse battery staple';
const wrongPassword = 'Tr0ub4dor&3';

/** Sends raw bytes over verified TLS and returns the response's status code. */
function rawStatus(port: number, ca: string, requestBytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => socket.end(requestBytes));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (match) resolve(Number(match[1]));
      else reject(new Error(`no HTTP response: ${JSON.stringify(received.slice(0, 200))}`));
    });
  });
}

/** Resolves with the negotiated protocol, or rejects with the handshake error. */
function handshake(options: ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(options, () => {
      const protocol = socket.getProtocol() ?? 'unknown';
      socket.end();
      resolve(protocol);
    });
    socket.on('error', reject);
  });
}

describe('service host over HTTPS with basic auth (standalone, no Consul)', () => {
  let dir: string;
  let pki: TestPki;
  let service: FarolService;
  let agent: Agent;
  let logFile: string;
  let url: string;

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir);
    logFile = join(dir, 'logs', 'server-log.txt');
    service = await createService({
      name: 'api',
      port: 0,
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      usersFile: await writeUsers(dir, { alice: password }),
      consul: false,
      logFile,
      drain: { delayMs: 0 },
      routes: (app) => {
        app.get('/boom', async () => {
          throw new Error('kaboom with internal detail');
        });
      },
    });
    await service.start();
    url = service.url;
    agent = new Agent({ connect: { ca: pki.caPem } });
  });

  after(async () => {
    await agent?.close();
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on an ephemeral loopback port and names it in its URL', () => {
    assert.ok(service.port > 0);
    assert.equal(url, `https://127.0.0.1:${service.port}`);
  });

  it('answers 200 with the right password, naming the service, the instance and the user', async () => {
    const response = await httpsGet(agent, `${url}/`, { authorization: basic('alice', password) });
    assert.equal(response.status, 200);
    const body = response.json();
    assert.equal(body.service, 'api');
    assert.equal(body.instance, service.instanceId);
    assert.equal(body.user, 'alice');
    assert.equal(body.address, '127.0.0.1');
    assert.equal(body.port, service.port);
    assert.ok(!Number.isNaN(Date.parse(String(body.time))));
  });

  it('rejects a wrong password with 401 and a Basic challenge', async () => {
    const response = await httpsGet(agent, `${url}/`, { authorization: basic('alice', wrongPassword) });
    assert.equal(response.status, 401);
    assert.match(String(response.headers['www-authenticate']), /^Basic realm="api"/);
    assert.equal(response.json().error, 'unauthorized');
  });

  it('rejects an unknown user with the same 401 as a wrong password', async () => {
    const response = await httpsGet(agent, `${url}/`, { authorization: basic('mallory', password) });
    assert.equal(response.status, 401);
    assert.deepEqual(response.json(), (await httpsGet(agent, `${url}/`, { authorization: basic('alice', wrongPassword) })).json());
  });

  it('rejects a request without credentials with 401 and a Basic challenge', async () => {
    const response = await httpsGet(agent, `${url}/`);
    assert.equal(response.status, 401);
    assert.match(String(response.headers['www-authenticate']), /^Basic realm="api"/);
  });

  for (const [label, value] of [
    ['garbage base64', 'Basic !!!not*base64***'],
    ['a bare scheme', 'Basic'],
    ['two credentials', 'Basic a b'],
    ['a 10 KB header', `Basic ${'QUFB'.repeat(2560)}`],
    ['credentials that are not UTF-8', `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28]).toString('base64')}`],
    ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`],
    ['an unknown scheme', 'Negotiate abc'],
  ] as const) {
    it(`answers a malformed Authorization header (${label}) with 400 or 401, never 500`, async () => {
      const response = await httpsGet(agent, `${url}/`, { authorization: value });
      assert.ok(response.status === 400 || response.status === 401, `status ${response.status}`);
      assert.equal(response.json().error, 'unauthorized');
      assert.ok(response.headers['www-authenticate'] !== undefined);
    });
  }

  it('answers raw non-UTF-8 bytes in the Authorization header with 400 or 401', async () => {
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Basic `, 'latin1');
    const bytes = Buffer.concat([head, Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]), Buffer.from('\r\n\r\n')]);
    const status = await rawStatus(service.port, pki.caPem, bytes);
    assert.ok(status === 400 || status === 401, `status ${status}`);
  });

  it('serves GET /health without authentication', async () => {
    const response = await httpsGet(agent, `${url}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { status: 'passing', instance: service.instanceId });
  });

  it('answers an unknown route with 401 to an anonymous caller, and 404 only after authentication', async () => {
    const anonymous = await httpsGet(agent, `${url}/admin/secret-route`);
    assert.equal(anonymous.status, 401);
    const authenticated = await httpsGet(agent, `${url}/admin/secret-route`, { authorization: basic('alice', password) });
    assert.equal(authenticated.status, 404);
    assert.deepEqual(authenticated.json(), { error: 'not_found' });
  });

  it('requires authentication on any method to /health other than GET', async () => {
    const bytes = Buffer.from('POST /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    assert.equal(await rawStatus(service.port, pki.caPem, bytes), 401);
  });

  it('answers a failing route with 500 {"error":"internal"} and no stack trace', async () => {
    const response = await httpsGet(agent, `${url}/boom`, { authorization: basic('alice', password) });
    assert.equal(response.status, 500);
    assert.deepEqual(response.json(), { error: 'internal' });
    assert.ok(!response.text.includes('kaboom'));
    const { lines } = await logLines(logFile, (all) => all.some((line) => line.event === 'error'));
    assert.ok(lines.some((line) => line.event === 'error' && line.path === '/boom'));
  });

  it('refuses a TLS 1.1 client', async () => {
    await assert.rejects(
      handshake({
        host: '127.0.0.1',
        port: service.port,
        ca: pki.caPem,
        servername: 'localhost',
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        // let this client really offer TLS 1.1, so the refusal is the server's
        ciphers: 'DEFAULT@SECLEVEL=0',
      }),
      (error: NodeJS.ErrnoException) => {
        assert.match(String(error.code), /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS/);
        return true;
      },
    );
  });

  it('accepts a TLS 1.2 client and prefers TLS 1.3', async () => {
    const base = { host: '127.0.0.1', port: service.port, ca: pki.caPem, servername: 'localhost' };
    assert.equal(await handshake({ ...base, maxVersion: 'TLSv1.2' }), 'TLSv1.2');
    assert.equal(await handshake(base), 'TLSv1.3');
  });

  it('refuses a client that does not trust the server certificate (verification stays on)', async () => {
    const otherDir = join(dir, 'other-ca');
    await mkdir(otherDir);
    const { caPem: otherCa } = await issueTestPki(otherDir);
    await assert.rejects(handshake({ host: '127.0.0.1', port: service.port, ca: otherCa, servername: 'localhost' }), (error: NodeJS.ErrnoException) => {
      assert.match(String(error.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
      return true;
    });
  });

  describe('audit log', () => {
    it('writes one access line per request with principal, method, path, status, latency and instance', async () => {
      await httpsGet(agent, `${url}/?token=query-secret-123`, { authorization: basic('alice', password) });
      const { lines } = await logLines(logFile, (all) =>
        all.some((line) => line.event === 'access' && line.principal === 'alice' && line.status === 200),
      );
      const access = lines.find((line) => line.event === 'access' && line.principal === 'alice' && line.status === 200)!;
      assert.equal(access.method, 'GET');
      assert.equal(access.path, '/');
      assert.equal(access.instance, service.instanceId);
      assert.equal(typeof access.latencyMs, 'number');
      assert.ok((access.latencyMs as number) >= 0);
      assert.equal(access.remoteAddress, '127.0.0.1');
      assert.ok(typeof access.time === 'string' && !Number.isNaN(Date.parse(access.time)));
    });

    it('writes an auth_failed line naming the attempted user, the reason and the remote address', async () => {
      await httpsGet(agent, `${url}/`, { authorization: basic('alice', wrongPassword) });
      const { lines } = await logLines(logFile, (all) => all.some((line) => line.event === 'auth_failed' && line.username === 'alice'));
      const failed = lines.find((line) => line.event === 'auth_failed' && line.username === 'alice')!;
      assert.equal(failed.remoteAddress, '127.0.0.1');
      assert.equal(typeof failed.reason, 'string');
      assert.ok(lines.some((line) => line.event === 'access' && line.status === 401 && line.principal === null));
    });

    it('never contains a password, the credentials, the Authorization header or the query string', async () => {
      await httpsGet(agent, `${url}/`, { authorization: basic('alice', password) });
      await httpsGet(agent, `${url}/`, { authorization: basic('alice', wrongPassword) });
      const { raw } = await logLines(logFile, (all) => all.filter((line) => line.event === 'access').length >= 4);
      for (const secret of [
        password,
        wrongPassword,
        Buffer.from(`alice:${password}`).toString('base64'),
        Buffer.from(`alice:${wrongPassword}`).toString('base64'),
        'query-secret-123',
      ]) {
        assert.ok(!raw.includes(secret), `log leaks ${secret.slice(0, 6)}…`);
      }
      assert.ok(!/authorization/i.test(raw), 'log mentions the Authorization header');
    });
  });
});
