/**
 * The cluster fixture itself (test/support/consul-cluster.ts) with everything on: default-deny ACLs
 * bootstrapped with a known management token, and an HTTPS-only API that requires a client
 * certificate, read through the variables Consul's CLI reads. The plain cluster is exercised by
 * cluster.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { ConsulClient, consulOptionsFromEnv } from '../../src/consul/index.js';
import { findConsulBinary } from '../support/consul-agent.js';
import { clusterAgentConfig, startConsulCluster, type ConsulCluster } from '../support/consul-cluster.js';

const found = findConsulBinary();
const skip = 'missing' in found && process.env.CI !== 'true' ? `no Consul binary: ${found.missing}` : false;

describe('the Consul cluster fixture with default-deny ACLs and HTTPS only (verify_incoming)', { skip }, () => {
  let cluster: ConsulCluster;
  const token = 'b1c0ffee-0000-4000-8000-00000000cafe';

  before(async () => {
    cluster = await startConsulCluster({ servers: 3, clients: 1, acl: { defaultPolicy: 'deny', managementToken: token }, https: { verifyIncoming: true } });
  });

  after(async () => {
    await cluster?.close();
    await cluster?.close(); // a second close is harmless
  });

  it('elects a leader among the servers, and every agent is an alive member in the catalog', async () => {
    assert.equal(cluster.managementToken, token);
    const leader = await cluster.leader();
    assert.ok(leader && leader.role === 'server');
    const members = (await cluster.api('/v1/agent/members')).body as { Name: string; Status: number }[];
    assert.deepEqual(members.filter((m) => m.Status === 1).map((m) => m.Name).sort(), ['client-a', 'server-1', 'server-2', 'server-3']);
    const nodes = (await cluster.api('/v1/catalog/nodes')).body as { Node: string }[];
    assert.equal(nodes.length, 4, 'every agent synced its node under default-deny (its agent token works)');
  });

  it('serves HTTPS only, and Farol reads it through CONSUL_HTTP_ADDR, CONSUL_CACERT, CONSUL_CLIENT_CERT/KEY and CONSUL_HTTP_TOKEN', async () => {
    const agent = cluster.agent('client-a');
    assert.match(agent.httpAddress, /^https:\/\/127\.0\.0\.1:\d+$/);
    const tls = cluster.tls!;
    const consul = new ConsulClient(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: agent.httpAddress, CONSUL_HTTP_TOKEN: token, ...tls.env }));
    try {
      assert.equal(await consul.status.leader(), (await cluster.leader())!.rpcAddress);
      assert.ok('consul' in (await consul.catalog.services()).services, 'the token reads the catalog');
    } finally {
      await consul.close();
    }
  });

  it('refuses a caller without the client certificate, and an anonymous read of the catalog shows nothing', async () => {
    const agent = cluster.agent('client-a');
    const noClientCert = new Agent({ connect: { ca: cluster.tls!.ca.certPem } });
    try {
      await assert.rejects(request(`${agent.httpAddress}/v1/status/leader`, { dispatcher: noClientCert, signal: AbortSignal.timeout(5000) }));
    } finally {
      await noClientCert.close();
    }
    const anonymous = await cluster.api('/v1/catalog/nodes', agent, { token: 'anonymous' });
    assert.deepEqual(anonymous.body, [], 'default deny: the anonymous token reads no node');
  });

  it('restarts one agent on the same ports and data dir, and it rejoins', async () => {
    const agent = cluster.agent('client-a');
    const before = agent.pid;
    await agent.stop('SIGTERM');
    assert.equal(agent.running, false);
    await agent.start();
    assert.notEqual(agent.pid, before);
    await cluster.waitForMembers({ timeoutMs: 20_000 });
  });
});

describe('clusterAgentConfig: the configuration of one cluster agent', () => {
  const base = {
    ports: { http: 20001, server: 20002, serfLan: 20003 },
    dataDir: '/tmp/x/data',
    serverCount: 3,
    retryJoin: ['127.0.0.1:20003', '127.0.0.1:20013', '127.0.0.1:20023'],
    https: false,
    checksTls: false,
  };

  it('makes a server expect the other servers, and keeps autopilot from removing one that is down', () => {
    const config = clusterAgentConfig({ ...base, name: 'server-1', role: 'server' });
    assert.equal(config.server, true);
    assert.equal(config.bootstrap_expect, 3);
    assert.deepEqual(config.autopilot, { min_quorum: 3, server_stabilization_time: '1s', cleanup_dead_servers: true });
    assert.deepEqual(config.retry_join, base.retryJoin);
    assert.equal(config.leave_on_terminate, false);
    assert.equal(config.skip_leave_on_interrupt, true);
    assert.deepEqual(config.ports, { http: 20001, https: -1, server: 20002, serf_lan: 20003, serf_wan: -1, dns: -1, grpc: -1, grpc_tls: -1 });
  });

  it('makes a client agent without server settings, with the management token as its agent token under ACLs', () => {
    const config = clusterAgentConfig({ ...base, name: 'client-a', role: 'client', acl: { defaultPolicy: 'deny', managementToken: 't' } });
    assert.equal(config.server, false);
    assert.equal(config.bootstrap_expect, undefined);
    assert.equal(config.autopilot, undefined);
    assert.deepEqual((config.acl as { tokens: unknown }).tokens, { agent: 't' });
  });

  it('with https, serves the API on HTTPS only, on the same chosen port', () => {
    const config = clusterAgentConfig({
      ...base,
      name: 'server-1',
      role: 'server',
      https: true,
      tlsFiles: { caFile: 'ca.pem', certFile: 'cert.pem', keyFile: 'key.pem', verifyIncoming: true },
      checksTls: true,
    });
    assert.equal((config.ports as { http: number }).http, -1);
    assert.equal((config.ports as { https: number }).https, 20001);
    assert.deepEqual(config.tls, { defaults: { ca_file: 'ca.pem' }, https: { cert_file: 'cert.pem', key_file: 'key.pem', verify_incoming: true } });
    assert.equal(config.enable_agent_tls_for_checks, true);
  });
});
