/**
 * Checks the registry runs itself: HTTPS (verified against the CA it was started with), plain HTTP
 * and TCP. HTTPS checks name TLSServerName, as Farol's service always does: without it Consul (with
 * enable_agent_tls_for_checks) verifies the certificate against the agent's node name, not the URL host. Status follows the target's answers as in Consul: 2xx passing, 429 warning, anything else
 * or an untrusted certificate critical; TCP passing while something listens.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../src/pki/index.js';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import { eventually, getJson, putOk } from './wire.js';

interface Check {
  Status: string;
  Output: string;
  Type: string;
  Interval: string;
  Timeout: string;
}

const pkiDir = await mkdtemp(join(tmpdir(), 'farol-conformance-'));
const caFile = join(pkiDir, 'ca.pem');
const trustedCa = await createCertificateAuthority({ commonName: 'Farol conformance CA' });
const strangerCa = await createCertificateAuthority({ commonName: 'Some other CA' });
await writeFile(caFile, trustedCa.certPem);
const leafOptions = { commonName: 'localhost', usage: 'server' as const, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
const trustedLeaf = await issueCertificate(trustedCa, leafOptions);
const strangerLeaf = await issueCertificate(strangerCa, leafOptions);

/** The status code every probe server answers with; tests change it to drive the checks. */
const answer = { status: 200 };
const servers: (Server | TcpServer)[] = [];

function listen(server: Server | TcpServer): Promise<number> {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function probeHandler(_req: unknown, res: { writeHead(status: number): void; end(body: string): void }): void {
  res.writeHead(answer.status);
  res.end(`answered ${answer.status}`);
}

let trustedPort = 0;
let strangerPort = 0;
let plainPort = 0;
let tcpPort = 0;
let closedPort = 0;

before(async () => {
  trustedPort = await listen(createHttpsServer({ cert: trustedLeaf.certPem, key: trustedLeaf.keyPem }, probeHandler));
  strangerPort = await listen(createHttpsServer({ cert: strangerLeaf.certPem, key: strangerLeaf.keyPem }, probeHandler));
  plainPort = await listen(createHttpServer(probeHandler));
  tcpPort = await listen(createTcpServer((socket) => socket.end()));
  const closed = createTcpServer();
  closedPort = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

after(async () => {
  for (const server of servers) {
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await rm(pkiDir, { recursive: true, force: true });
});

async function agentCheck(target: TargetContext, checkId: string): Promise<Check | undefined> {
  return (await getJson<Record<string, Check>>(target, '/v1/agent/checks'))[checkId];
}

async function expectStatus(target: TargetContext, checkId: string, status: string, timeoutMs = 6000): Promise<Check> {
  let last: Check | undefined;
  const ok = await eventually(async () => {
    last = await agentCheck(target, checkId);
    return last?.Status === status;
  }, timeoutMs, 100);
  assert.ok(ok, `${checkId} should become ${status}; it is ${last?.Status} (${last?.Output})`);
  return last as Check;
}

forEachTarget(
  'HTTP, HTTPS and TCP checks',
  (getTarget) => {
    after(() => {
      answer.status = 200;
    });

    it('runs an HTTPS check verified against the configured CA and reports it passing', async () => {
      answer.status = 200;
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'tls-1',
        Name: 'tls',
        Port: trustedPort,
        Check: { HTTP: `https://127.0.0.1:${trustedPort}/health`, Interval: '1s', Timeout: '500ms', TLSServerName: 'localhost' },
      });
      const check = await expectStatus(getTarget(), 'service:tls-1', 'passing');
      assert.deepEqual([check.Type, check.Interval, check.Timeout], ['http', '1s', '500ms']);
      assert.equal(check.Output, `HTTP GET https://127.0.0.1:${trustedPort}/health: 200 OK Output: answered 200`);
    });

    it('turns the check warning on 429 and critical on 503, then passing again on 200', async () => {
      answer.status = 429;
      await expectStatus(getTarget(), 'service:tls-1', 'warning');
      answer.status = 503;
      const critical = await expectStatus(getTarget(), 'service:tls-1', 'critical');
      assert.equal(critical.Output, `HTTP GET https://127.0.0.1:${trustedPort}/health: 503 Service Unavailable Output: answered 503`);
      answer.status = 200;
      await expectStatus(getTarget(), 'service:tls-1', 'passing');
    });

    it('keeps an HTTPS check critical when the certificate is not from the configured CA', async () => {
      answer.status = 200;
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'stranger-1',
        Name: 'stranger',
        Port: strangerPort,
        Check: {
          HTTP: `https://127.0.0.1:${strangerPort}/health`,
          Interval: '1s',
          Timeout: '500ms',
          TLSServerName: 'localhost',
          Status: 'passing',
        },
      });
      const check = await expectStatus(getTarget(), 'service:stranger-1', 'critical');
      assert.notEqual(check.Output, '', 'the output says why');
      const healthy = await getJson<unknown[]>(getTarget(), '/v1/health/service/stranger?passing');
      assert.deepEqual(healthy, []);
    });

    it('keeps an HTTPS check critical when TLSServerName is a name the certificate does not carry', async () => {
      answer.status = 200;
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'misnamed-1',
        Name: 'misnamed',
        Port: trustedPort,
        Check: {
          HTTP: `https://127.0.0.1:${trustedPort}/health`,
          Interval: '1s',
          Timeout: '500ms',
          TLSServerName: 'elsewhere.example',
          Status: 'passing',
        },
      });
      await expectStatus(getTarget(), 'service:misnamed-1', 'critical');
    });

    it('runs a plain HTTP check', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'plain-1',
        Name: 'plain',
        Port: plainPort,
        Check: { HTTP: `http://127.0.0.1:${plainPort}/health`, Interval: '1s', Timeout: '500ms' },
      });
      await expectStatus(getTarget(), 'service:plain-1', 'passing');
    });

    it('runs TCP checks: passing while something listens, critical when nothing does', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'tcp-open',
        Name: 'tcp',
        Port: tcpPort,
        Check: { TCP: `127.0.0.1:${tcpPort}`, Interval: '1s', Timeout: '500ms' },
      });
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'tcp-closed',
        Name: 'tcp',
        Port: closedPort,
        Check: { TCP: `127.0.0.1:${closedPort}`, Interval: '1s', Timeout: '500ms', Status: 'passing' },
      });
      const open = await expectStatus(getTarget(), 'service:tcp-open', 'passing');
      assert.deepEqual([open.Type, open.Interval, open.Timeout], ['tcp', '1s', '500ms']);
      assert.equal(open.Output, `TCP connect 127.0.0.1:${tcpPort}: Success`);
      await expectStatus(getTarget(), 'service:tcp-closed', 'critical');
      const passing = await eventually(async () => {
        const entries = await getJson<{ Service: { ID: string } }[]>(getTarget(), '/v1/health/service/tcp?passing');
        return JSON.stringify(entries.map((entry) => entry.Service.ID)) === '["tcp-open"]';
      }, 5000);
      assert.ok(passing, 'only the listening instance is passing');
    });

    it('shows Interval and Timeout in Go’s canonical duration form', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'slow-1',
        Name: 'slow',
        Port: tcpPort,
        Check: { TCP: `127.0.0.1:${tcpPort}`, Interval: '90s', Timeout: '1500ms' },
      });
      const check = await agentCheck(getTarget(), 'service:slow-1');
      assert.deepEqual([check?.Interval, check?.Timeout], ['1m30s', '1.5s']);
    });

    it('removes the checks of deregistered services', async () => {
      for (const id of ['tls-1', 'stranger-1', 'misnamed-1', 'plain-1', 'tcp-open', 'tcp-closed', 'slow-1']) {
        await putOk(getTarget(), `/v1/agent/service/deregister/${id}`);
      }
      assert.deepEqual(await getJson(getTarget(), '/v1/agent/checks'), {});
    });
  },
  { caFile },
);
