import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient, consulOptionsFromEnv } from '../../../src/consul/index.js';
import type { AgentCheck } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { createCertificateAuthority, issueCertificate } from '../../../src/pki/index.js';
import type { PemPair } from '../../../src/pki/index.js';
import { startConsulAgent } from '../../support/consul-agent.js';
import type { ConsulAgent } from '../../support/consul-agent.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';

/** Test PKI: CA "trusted" signs every server certificate; CA "other" signs nothing we serve. */
interface Pki {
  dir: string;
  trustedCaFile: string;
  otherCaFile: string;
  server: PemPair;
  serverCertFile: string;
  serverKeyFile: string;
}
let pki: Pki | undefined;

async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'farol-consul-tls-'));
  const trusted = await createCertificateAuthority({ commonName: 'Farol test CA (trusted)' });
  const other = await createCertificateAuthority({ commonName: 'Farol test CA (other)' });
  const server = await issueCertificate(trusted, {
    commonName: 'localhost',
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const files = {
    trustedCaFile: join(dir, 'trusted-ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    serverCertFile: join(dir, 'cert.pem'),
    serverKeyFile: join(dir, 'key.pem'),
  };
  await writeFile(files.trustedCaFile, trusted.certPem);
  await writeFile(files.otherCaFile, other.certPem);
  await writeFile(files.serverCertFile, server.certPem);
  await writeFile(files.serverKeyFile, server.keyPem, { mode: 0o600 });
  return { dir, server, ...files };
}

async function settledCheck(consul: ConsulClient, checkId: string, wanted: (check: AgentCheck) => boolean): Promise<AgentCheck> {
  const deadline = performance.now() + 10_000;
  let last: AgentCheck | undefined;
  while (performance.now() < deadline) {
    last = (await consul.agent.checks())[checkId];
    if (last && wanted(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`check ${checkId} did not settle: ${JSON.stringify(last)}`);
}

const hasRun = (check: AgentCheck): boolean => check.Output !== '';

describeWithConsul(
  'TLS with a real agent: verified HTTPS health checks and the HTTPS API',
  (getAgent) => {
    let healthServer: Server;
    let healthUrl: string;
    let otherAgent: ConsulAgent;
    let consul: ConsulClient;
    let consulTrustingOther: ConsulClient;
    const need = (): Pki => {
      if (!pki) throw new Error('test PKI missing');
      return pki;
    };

    before(async () => {
      const { server } = need();
      healthServer = createServer({ cert: server.certPem, key: server.keyPem }, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"passing"}');
      });
      await new Promise<void>((resolve) => healthServer.listen(0, '127.0.0.1', resolve));
      const address = healthServer.address();
      assert.ok(typeof address === 'object' && address);
      healthUrl = `https://127.0.0.1:${address.port}/health`;
      otherAgent = await startConsulAgent({ caFile: need().otherCaFile });
      consul = new ConsulClient({ address: getAgent().address });
      consulTrustingOther = new ConsulClient({ address: otherAgent.address });
    });
    after(async () => {
      await consul?.close();
      await consulTrustingOther?.close();
      await otherAgent?.stop();
      await new Promise((resolve) => healthServer?.close(resolve));
      if (pki) await rm(pki.dir, { recursive: true, force: true });
    });

    it('passes an HTTPS check when the agent trusts the CA that signed the target (TLSServerName localhost)', async () => {
      await consul.agent.registerService({
        ID: 'tls-ok',
        Name: 'tls-ok',
        Port: 1,
        Check: { CheckID: 'tls-ok-https', HTTP: healthUrl, Interval: '1s', Timeout: '2s', TLSServerName: 'localhost' },
      });
      const check = await settledCheck(consul, 'tls-ok-https', (c) => c.Status === 'passing');
      assert.match(check.Output, /200 OK/);
    });

    it('verifies an IP TLSServerName against the IP SAN', async () => {
      await consul.agent.registerService({
        ID: 'tls-ip',
        Name: 'tls-ip',
        Port: 1,
        Check: { CheckID: 'tls-ip-https', HTTP: healthUrl, Interval: '1s', Timeout: '2s', TLSServerName: '127.0.0.1' },
      });
      await settledCheck(consul, 'tls-ip-https', (c) => c.Status === 'passing');
    });

    it("without TLSServerName verifies against the agent's node name, not the URL host, and stays critical", async () => {
      await consul.agent.registerService({
        ID: 'tls-no-name',
        Name: 'tls-no-name',
        Port: 1,
        Check: { CheckID: 'tls-no-name-https', HTTP: healthUrl, Interval: '1s', Timeout: '2s' },
      });
      const check = await settledCheck(consul, 'tls-no-name-https', hasRun);
      assert.equal(check.Status, 'critical');
      assert.match(check.Output, new RegExp(getAgent().nodeName));
    });

    it('keeps an HTTPS check critical when the agent trusts a different CA', async () => {
      await consulTrustingOther.agent.registerService({
        ID: 'tls-untrusted',
        Name: 'tls-untrusted',
        Port: 1,
        Check: { CheckID: 'tls-untrusted-https', HTTP: healthUrl, Interval: '1s', Timeout: '2s', TLSServerName: 'localhost' },
      });
      const check = await settledCheck(consulTrustingOther, 'tls-untrusted-https', hasRun);
      assert.equal(check.Status, 'critical');
      assert.match(check.Output, /certificate signed by unknown authority/);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal((await consulTrustingOther.agent.checks())['tls-untrusted-https']?.Status, 'critical');
    });

    it("talks to Consul's HTTPS API with the CA from CONSUL_CACERT and CONSUL_HTTP_SSL=true", async () => {
      const options = consulOptionsFromEnv({
        CONSUL_HTTP_ADDR: getAgent().httpsAddress,
        CONSUL_HTTP_SSL: 'true',
        CONSUL_CACERT: need().trustedCaFile,
      });
      const secure = new ConsulClient(options);
      try {
        assert.equal(secure.address, `https://${getAgent().httpsAddress}`);
        assert.match(await secure.status.leader(), /^127\.0\.0\.1:\d+$/);
        await secure.agent.registerService({ ID: 'via-https', Name: 'via-https', Port: 1 });
        assert.ok((await secure.agent.services())['via-https']);
      } finally {
        await secure.close();
      }
    });

    it("refuses Consul's HTTPS certificate when it is not signed by the configured CA (TLS_UNTRUSTED)", async () => {
      const secure = new ConsulClient({ address: `https://${getAgent().httpsAddress}`, tls: { caFile: need().otherCaFile } });
      try {
        await assert.rejects(secure.status.leader(), (error: unknown) => {
          assert.ok(isFarolError(error, 'TLS_UNTRUSTED'));
          assert.match(error.message, /is not trusted: it is not signed by the given CA/);
          assert.match(error.hint ?? '', /CONSUL_CACERT/);
          return true;
        });
      } finally {
        await secure.close();
      }
    });

    it('refuses a certificate that does not match the server name (TLS_UNTRUSTED, hint CONSUL_TLS_SERVER_NAME)', async () => {
      const secure = new ConsulClient({
        address: `https://${getAgent().httpsAddress}`,
        tls: { caFile: need().trustedCaFile, serverName: 'consul.example.org' },
      });
      try {
        await assert.rejects(secure.status.leader(), (error: unknown) => {
          assert.ok(isFarolError(error, 'TLS_UNTRUSTED'));
          assert.match(error.hint ?? '', /CONSUL_TLS_SERVER_NAME/);
          return true;
        });
      } finally {
        await secure.close();
      }
    });

    it('reports a missing CA file as CERT_MISSING', async () => {
      const secure = new ConsulClient({ address: `https://${getAgent().httpsAddress}`, tls: { caFile: join(need().dir, 'nope.pem') } });
      try {
        await assert.rejects(secure.status.leader(), (error: unknown) => isFarolError(error, 'CERT_MISSING') && /CONSUL_CACERT/.test(error.hint ?? ''));
      } finally {
        await secure.close();
      }
    });
  },
  async () => {
    pki = await makePki();
    return { caFile: pki.trustedCaFile, https: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } };
  },
);
