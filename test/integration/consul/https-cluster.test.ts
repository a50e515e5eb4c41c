/**
 * HTTPS to Consul as production runs it: a real cluster (3 servers, 2 client agents) whose HTTP
 * API is HTTPS only (ports.http -1) with verify_incoming, its certificates from a test CA. Farol
 * reaches it only through Consul's own variables, read as Consul's CLI reads them:
 * CONSUL_HTTP_ADDR (https://, or a bare host:port with CONSUL_HTTP_SSL=true), CONSUL_CACERT,
 * CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY and CONSUL_TLS_SERVER_NAME. Verification is never off.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basicCredentials } from '../../../src/auth/index.js';
import { createClient } from '../../../src/client/index.js';
import { ConsulClient, consulOptionsFromEnv } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { createService, type FarolService } from '../../../src/service/index.js';
import { runFarol } from '../../support/cli.js';
import { findConsulBinary } from '../../support/consul-agent.js';
import { startConsulCluster, type ClusterAgent, type ClusterTls, type ConsulCluster } from '../../support/consul-cluster.js';
import { eventually } from '../../support/consul-health.js';
import { issueTestPki, writeUsers, type TestPki } from '../../service/fixtures.js';

const SERVICE = 'ledger';
const PASSWORD = 'https-cluster-password-2c9d';

const found = findConsulBinary();
const skip = 'missing' in found && process.env.CI !== 'true' ? `no Consul binary: ${found.missing}` : false;

/** "https://127.0.0.1:8501" → "127.0.0.1:8501". */
const hostPort = (agent: ClusterAgent): string => agent.httpAddress.replace(/^https:\/\//, '');

describe('HTTPS-only Consul cluster with verify_incoming, through CONSUL_CACERT and a client certificate', { skip }, () => {
  let cluster: ConsulCluster;
  let tls: ClusterTls;
  let clientA: ClusterAgent;
  let clientB: ClusterAgent;
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  let ledger: FarolService | undefined;

  /** Consul's variables for `agent`, as an operator exports them. */
  const envFor = (agent: ClusterAgent, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ CONSUL_HTTP_ADDR: agent.httpAddress, ...tls.env, ...extra });

  /** Expects `consul` (made from env) to fail its first read with `code`, and returns the error. */
  async function firstReadFails(env: NodeJS.ProcessEnv, code: 'TLS_UNTRUSTED' | 'CONSUL_ERROR' | 'CONSUL_UNREACHABLE') {
    const consul = new ConsulClient({ ...consulOptionsFromEnv(env), timeoutMs: 5000 });
    try {
      return await consul.status.leader().then(
        () => assert.fail('the read succeeded'),
        (error: unknown) => {
          assert.ok(isFarolError(error, code), `${String(error)} (${(error as { code?: string }).code})`);
          return error;
        },
      );
    } finally {
      await consul.close();
    }
  }

  before(async () => {
    cluster = await startConsulCluster({ https: { verifyIncoming: true } });
    assert.ok(cluster.tls, 'the fixture returns its CA and client certificate');
    tls = cluster.tls;
    [clientA, clientB] = cluster.clients as [ClusterAgent, ClusterAgent];
    assert.match(clientA.httpAddress, /^https:\/\/127\.0\.0\.1:\d+$/);
    dir = await mkdtemp(join(tmpdir(), 'farol-https-cluster-'));
    pki = await issueTestPki(dir, [SERVICE]);
    usersFile = await writeUsers(dir, { alice: PASSWORD });
  });

  after(async () => {
    await ledger?.stop().catch(() => undefined);
    await cluster?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('registers a service (createService) with its host agent over verified HTTPS and a client certificate', async () => {
    ledger = await createService({
      name: SERVICE,
      port: 0,
      bind: '127.0.0.1',
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      usersFile,
      consul: consulOptionsFromEnv(envFor(clientA)),
      check: { kind: 'ttl', ttl: '10s' },
      drain: { delayMs: 0 },
      keepRegistered: { intervalMs: 0 },
      routes: (app) => {
        app.get('/entries/:id', async (request) => ({ id: (request.params as { id: string }).id }));
      },
    });
    await ledger.start();
    await eventually(
      'ledger passing, read from the other host',
      async () => {
        const answer = await cluster.api(`/v1/health/service/${SERVICE}?passing`, clientB);
        return answer.status === 200 && (answer.body as unknown[]).length === 1 ? true : undefined;
      },
      15_000,
    );
  });

  it('discovers and calls it (createClient) with CONSUL_HTTP_SSL=true, a bare host:port and CONSUL_TLS_SERVER_NAME', async () => {
    const options = consulOptionsFromEnv({ ...envFor(clientB), CONSUL_HTTP_ADDR: hostPort(clientB), CONSUL_HTTP_SSL: 'true', CONSUL_TLS_SERVER_NAME: 'server.dc1.consul:8501' });
    assert.equal(options.address, clientB.httpAddress);
    assert.equal(options.tls?.serverName, 'server.dc1.consul');
    const client = createClient({ consul: options, tls: { ca: { file: pki.caFile } }, credentials: basicCredentials('alice', PASSWORD), retries: 0 });
    try {
      // Discovery reads stale: a follower may apply the passing check one raft heartbeat after the leader.
      await eventually('ledger in the client\'s passing set', async () => ((await client.instances(SERVICE)).length === 1 ? true : undefined), 5000);
      const result = await client.call(SERVICE, { path: '/entries/3' });
      assert.equal(result.status, 200);
      assert.deepEqual(JSON.parse(result.body), { id: '3' });
    } finally {
      await client.close();
    }
  });

  it('lets the farol CLI call it with the variables alone', async () => {
    const run = await runFarol(['call', SERVICE, '/entries/4', '--ca', pki.caFile, '--user', 'alice', '--log-file', join(dir, 'cli-call.log')], {
      env: { ...envFor(clientB), CONSUL_HTTP_ADDR: hostPort(clientB), CONSUL_HTTP_SSL: 'true', FAROL_PASSWORD: PASSWORD },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"id":\s*"4"/);
  });

  it("says which variable to set when Consul's certificate cannot be verified: no CA, or a server name it does not carry", async () => {
    const noCa = await firstReadFails({ CONSUL_HTTP_ADDR: clientB.httpAddress, CONSUL_CLIENT_CERT: tls.clientCertFile, CONSUL_CLIENT_KEY: tls.clientKeyFile }, 'TLS_UNTRUSTED');
    assert.match(noCa.hint ?? '', /CONSUL_CACERT/);
    const wrongName = await firstReadFails(envFor(clientB, { CONSUL_TLS_SERVER_NAME: 'consul.example.test' }), 'TLS_UNTRUSTED');
    assert.match(wrongName.message, /does not name the host connected to/);
    assert.match(wrongName.hint ?? '', /CONSUL_TLS_SERVER_NAME/);
  });

  it('fails without the client certificate verify_incoming asks for, naming CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY', async () => {
    const consul = new ConsulClient({ ...consulOptionsFromEnv({ CONSUL_HTTP_ADDR: clientB.httpAddress, CONSUL_CACERT: tls.caFile }), timeoutMs: 5000 });
    try {
      await assert.rejects(consul.status.leader(), (error: unknown) => {
        assert.ok(isFarolError(error, 'CONSUL_UNREACHABLE'), String(error));
        assert.match(error.hint ?? '', /verify_incoming\), set CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY/);
        return true;
      });
    } finally {
      await consul.close();
    }
  });

  it('answers an http:// address for the HTTPS-only port with a hint to write https:// and set CONSUL_CACERT', async () => {
    const error = await firstReadFails({ CONSUL_HTTP_ADDR: `http://${hostPort(clientB)}` }, 'CONSUL_ERROR');
    assert.match(error.hint ?? '', /serves HTTPS: write https:\/\/ in CONSUL_HTTP_ADDR/);
  });
});
