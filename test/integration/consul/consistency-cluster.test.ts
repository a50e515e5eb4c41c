/**
 * Why discovery reads 'stale' by default, shown on a real cluster (3 servers, 1 client agent):
 * with two of three servers down there is no leader; a 'default' read fails ("No cluster
 * leader"), while a stale read still answers from the surviving server, saying how stale it is
 * (X-Consul-LastContact, X-Consul-KnownLeader) — and maxStaleMs turns a too-stale answer into a
 * failure. The servers come back at the end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient, isConsulStatusError, watchHealthService } from '../../../src/consul/index.js';
import type { HealthServiceWatch, QueryMeta } from '../../../src/consul/index.js';
import { isFarolError, type FarolError } from '../../../src/errors.js';
import { findConsulBinary } from '../../support/consul-agent.js';
import { startConsulCluster, type ClusterAgent, type ConsulCluster } from '../../support/consul-cluster.js';
import { eventually } from '../../support/consul-health.js';

const SERVICE = 'inventory';
const found = findConsulBinary();
const skip = 'missing' in found && process.env.CI !== 'true' ? `no Consul binary: ${found.missing}` : false;

describe('consistency modes on a cluster that loses its quorum', { skip }, () => {
  let cluster: ConsulCluster;
  let host: ClusterAgent;
  let consul: ConsulClient;
  let watch: HealthServiceWatch | undefined;
  const updates: QueryMeta[] = [];
  const answers: QueryMeta[] = [];
  const entriesSeen: number[] = [];
  let stopped: ClusterAgent[] = [];

  before(async () => {
    // A leaderless read is refused after rpc_hold_timeout (default 7 s); 1 s keeps the file short.
    cluster = await startConsulCluster({ servers: 3, clients: 1, extraConfig: { performance: { rpc_hold_timeout: '1s' } } });
    [host] = cluster.clients as [ClusterAgent];
    consul = new ConsulClient({ address: host.httpAddress, timeoutMs: 15_000 });
    await consul.agent.registerService({ ID: 'inventory-1', Name: SERVICE, Port: 9001 });
    // Stale: a follower applies the registration up to one raft heartbeat after the leader.
    await eventually('inventory in the catalog of every server', async () => ((await consul.health.service(SERVICE, { consistency: 'stale' })).entries.length === 1 ? true : undefined), 10_000);
  });

  after(async () => {
    watch?.stop();
    await consul?.close();
    await Promise.all(stopped.map((server) => server.start().catch(() => undefined)));
    await cluster?.close();
  });

  it('reads the same answer in every mode while there is a leader; a stale read says how fresh it is', async () => {
    for (const consistency of ['default', 'stale', 'consistent'] as const) {
      const { entries, meta } = await consul.health.service(SERVICE, { consistency });
      assert.deepEqual(
        entries.map((e) => e.Service.ID),
        ['inventory-1'],
        consistency,
      );
      assert.equal(meta.knownLeader, true, consistency);
      assert.equal(meta.effectiveConsistency, consistency === 'default' ? 'leader' : consistency);
    }
    watch = watchHealthService(consul, SERVICE, {
      wait: '2s',
      onUpdate: (entries, meta) => {
        updates.push(meta);
        entriesSeen.push(entries.length);
      },
      onResponse: (meta) => answers.push(meta),
    });
    assert.equal((await watch.firstResult).length, 1);
    assert.equal(updates[0]?.knownLeader, true);
  });

  it('keeps answering stale reads (and the default watch) with no quorum, while a default read fails for want of a leader', async () => {
    // Every server must have applied the registration: a follower learns the commit index one heartbeat
    // after the leader, and a write it has not applied when the quorum goes is not in its stale answers.
    for (const server of cluster.servers) {
      await eventually(`inventory applied on ${server.name}`, async () => {
        const answer = await cluster.api(`/v1/health/service/${SERVICE}?stale`, server);
        return answer.status === 200 && (answer.body as unknown[]).length === 1 ? true : undefined;
      }, 10_000);
    }
    const leader = await cluster.waitForLeader();
    const follower = cluster.servers.find((server) => server !== leader) as ClusterAgent;
    stopped = [leader, follower];
    await Promise.all(stopped.map((server) => server.stop('SIGKILL')));

    // The client agent may first try a server that is gone (500 "rpc error getting client"); it then moves on.
    const leaderless = await eventually(
      'a stale answer with no known leader',
      async () => {
        const answer = await consul.health.service(SERVICE, { consistency: 'stale' }).catch(() => undefined);
        return answer === undefined || answer.meta.knownLeader ? undefined : answer;
      },
      20_000,
    );
    assert.deepEqual(
      leaderless.entries.map((e) => e.Service.ID),
      ['inventory-1'],
      JSON.stringify(leaderless.meta),
    );
    assert.equal(leaderless.meta.effectiveConsistency, 'stale');
    assert.ok(leaderless.meta.lastContactMs > 0, `lastContactMs ${leaderless.meta.lastContactMs}`);

    const refused = await eventually(
      "a default read refused for want of a leader (once the agent asks the surviving server)",
      async () => {
        const error = await consul.health.service(SERVICE, { consistency: 'default' }).then(() => assert.fail('a default read answered without a leader'), (caught: unknown) => caught);
        return isConsulStatusError(error) && error.reason.kind === 'no-leader' ? error : undefined;
      },
      20_000,
    );
    assert.equal(refused.status, 500);
    assert.match(refused.hint ?? '', /read with consistency stale/);

    // The watch's blocking reads are answered by the client agent's streaming view: they keep coming, with no staleness facts.
    const before = answers.length;
    await eventually('the watch answering without a leader', async () => (answers.length > before ? true : undefined), 10_000);
    // After a failed read the watch starts again from index 0 (answered by a server over RPC); its blocking reads are streamed.
    for (const meta of answers.slice(before)) {
      if (meta.queryBackend === 'streaming') assert.deepEqual([meta.lastContactMs, meta.knownLeader], [0, false], 'a streamed answer carries no staleness');
      else assert.equal(meta.knownLeader, false, JSON.stringify(meta));
    }
  });

  it('treats a stale answer beyond maxStaleMs as a failure while there is no leader', async () => {
    const errors: FarolError[] = [];
    const bounded = watchHealthService(consul, SERVICE, {
      maxStaleMs: 1,
      wait: '1s',
      backoff: { baseMs: 50, maxMs: 200 },
      onUpdate: () => assert.fail('no update may come from a leaderless cluster past maxStaleMs'),
      onError: (error) => errors.push(error),
    });
    try {
      await assert.rejects(bounded.firstResult, (error: unknown) => isFarolError(error));
      // Consul re-asks the leader for ?max_stale, and there is none: "No cluster leader", or the stale answer, refused here.
      // The agent may first try a server that is gone (500 "rpc error getting client"); then the surviving one refuses.
      await eventually(
        `a refusal for staleness or for want of a leader (saw: ${errors.map((error) => error.message).join(' | ')})`,
        async () => (errors.some((error) => (isConsulStatusError(error) && error.reason.kind === 'no-leader') || error.details?.reason === 'stale') ? true : undefined),
        15_000,
      );
    } finally {
      bounded.stop();
    }
  });

  it('follows the new leader once the servers return', async () => {
    await Promise.all(stopped.map((server) => server.start()));
    stopped = [];
    await cluster.waitForLeader();
    const before = updates.length;
    await eventually('a registration accepted again', async () => ((await consul.agent.registerService({ ID: 'inventory-2', Name: SERVICE, Port: 9002 }).then(() => true, () => undefined))), 15_000);
    await eventually('a consistent read of both instances', async () => ((await consul.health.service(SERVICE, { consistency: 'consistent' }).catch(() => undefined))?.entries.length === 2 ? true : undefined), 15_000);
    await eventually(
      `the watch seeing inventory-2 (updates ${JSON.stringify(updates.slice(-3))})`,
      async () => (updates.length > before && entriesSeen.at(-1) === 2 ? true : undefined),
      // The watch may be in its backoff (at most 10 s) after the failures of the outage.
      15_000,
    );
  });
});
