import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type AddressInfo } from 'node:net';
import { createCertificateAuthority, issueCertificate, type PemPair } from '../../src/pki/index.js';
import { networkProbe } from '../../src/registry/probes.js';
import { ttlCheck } from './fixtures.js';
import type { CheckDefinition } from '../../src/registry/catalog.js';

function httpCheck(url: string, extra: Partial<CheckDefinition> = {}): CheckDefinition {
  return { ...ttlCheck('h'), type: 'http', http: url, method: 'GET', intervalMs: 1000, ttlMs: 0, timeoutMs: 2000, ...extra };
}

describe('network probes', () => {
  let ca: PemPair;
  let otherCa: PemPair;
  let https: HttpsServer;
  let tcp: TcpServer;
  let httpsPort: number;
  let tcpPort: number;
  let status = 200;

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'probe test CA' });
    otherCa = await createCertificateAuthority({ commonName: 'another CA' });
    const leaf = await issueCertificate(ca, { commonName: 'web.service.consul', usage: 'server', dnsNames: ['web.service.consul'] });
    https = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`hello ${req.headers['user-agent']}`);
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    httpsPort = (https.address() as AddressInfo).port;
    tcp = createTcpServer((socket) => socket.end());
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    tcpPort = (tcp.address() as AddressInfo).port;
  });

  after(async () => {
    https.closeAllConnections();
    await new Promise((resolve) => https.close(resolve));
    await new Promise((resolve) => tcp.close(resolve));
  });

  it('passes an HTTPS check verified against the CA under TLSServerName, with Consul\'s output', async () => {
    const url = `https://127.0.0.1:${httpsPort}/health`;
    const result = await networkProbe(ca.certPem)(httpCheck(url, { tlsServerName: 'web.service.consul' }));
    assert.deepEqual(result, { status: 'passing', output: `HTTP GET ${url}: 200 OK Output: hello Consul Health Check` });
  });

  it('fails an HTTPS check whose certificate does not match the name', async () => {
    const result = await networkProbe(ca.certPem)(httpCheck(`https://127.0.0.1:${httpsPort}/health`));
    assert.equal(result.status, 'critical');
    assert.match(result.output, /^Get "https:\/\/127\.0\.0\.1:\d+\/health": tls: failed to verify certificate: x509: cannot validate certificate for 127\.0\.0\.1 because it doesn't contain any IP SANs$/);
  });

  it('fails an HTTPS check signed by a CA it does not trust', async () => {
    const result = await networkProbe(otherCa.certPem)(httpCheck(`https://127.0.0.1:${httpsPort}/health`, { tlsServerName: 'web.service.consul' }));
    assert.equal(result.status, 'critical');
    assert.match(result.output, /: tls: failed to verify certificate: x509: certificate signed by unknown authority$/);
  });

  it('maps 429 to warning and other non-2xx to critical, as Consul', async () => {
    const check = httpCheck(`https://127.0.0.1:${httpsPort}/health`, { tlsServerName: 'web.service.consul' });
    status = 429;
    assert.equal((await networkProbe(ca.certPem)(check)).status, 'warning');
    status = 503;
    const result = await networkProbe(ca.certPem)(check);
    assert.equal(result.status, 'critical');
    assert.match(result.output, /: 503 Service Unavailable Output: /);
    status = 200;
  });

  it('words a refused HTTP connection as Go does', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const url = `http://127.0.0.1:${port}/health`;
    assert.deepEqual(await networkProbe(undefined)(httpCheck(url)), {
      status: 'critical',
      output: `Get "${url}": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    });
  });

  it('passes a TCP check that connects and fails one that is refused', async () => {
    const tcpDef = (addr: string) => ({ ...ttlCheck('t'), type: 'tcp' as const, tcp: addr, timeoutMs: 2000 });
    assert.deepEqual(await networkProbe(undefined)(tcpDef(`127.0.0.1:${tcpPort}`)), { status: 'passing', output: `TCP connect 127.0.0.1:${tcpPort}: Success` });
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    assert.deepEqual(await networkProbe(undefined)(tcpDef(`127.0.0.1:${closedPort}`)), {
      status: 'critical',
      output: `dial tcp 127.0.0.1:${closedPort}: connect: connection refused`,
    });
  });
});
