/**
 * Fault injection against a real Consul cluster (3 servers, 2 client agents, test/support/consul-cluster.ts),
 * shared by every scenario. Consul's model, followed: each Farol instance registers with the client
 * agent of its host, and the caller reads from the agent of its own host, failing over to the other.
 *
 *   host A (client-a): instances a1, a2
 *   host B (client-b): instance b1, and the caller (consul: { address: [client-b, client-a] })
 *
 * Every scenario runs a steady load bounded in count and time, and must end with 0 failed calls; it
 * prints its calls, failures, the longest time discovery could not refresh (gap) and the staleness
 * seen (see cluster-observer.ts). Everything binds to 127.0.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addUser, basicCredentials } from '../../src/auth/index.js';
import { createClient, type FarolClient } from '../../src/client/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames } from '../../src/pki/index.js';
import { findConsulBinary } from '../support/consul-agent.js';
import { startConsulCluster, type ClusterAgent, type ConsulCluster } from '../support/consul-cluster.js';
import { observeDiscovery, type DiscoveryFigures, type DiscoveryObserver } from './cluster-observer.js';
import { failureSummary, logCapture, startInstance, steadyLoad, stopInstance, type RunningInstance, type Sample } from './fleet.js';

const SERVICE = 'cluster-api';
const PASSWORD = 'cluster-password-4b2e';
/** Per scenario: bounded in calls and in time (the longest scenario, the quorum loss, needs about 30 s). */
const LOAD = { path: '/work', concurrency: 3, pauseMs: 20, maxRequests: 15_000, maxMs: 90_000 };
const QUORUM_LOSS_MS = 20_000;

const found = findConsulBinary();
const skip = 'missing' in found && process.env.CI !== 'true' ? `no Consul binary: ${found.missing}` : false;
if (skip) console.warn(`\n!! SKIPPED the Consul cluster chaos tests: ${skip}\n`);

interface Figures extends DiscoveryFigures {
  scenario: string;
  calls: number;
  failures: number;
  retried: number;
  extra: string;
}
const report: Figures[] = [];

describe('chaos: a Consul cluster (3 servers, a client agent per host) under a fleet and a caller', { skip }, () => {
  let dir: string;
  let files: { caFile: string; certFile: string; keyFile: string; usersFile: string };
  let cluster: ConsulCluster;
  let clientA: ClusterAgent;
  let clientB: ClusterAgent;
  let fleet: { instance: RunningInstance; host: ClusterAgent }[] = [];
  let client: FarolClient;
  let observer: DiscoveryObserver;
  const suiteStarted = performance.now();

  async function passingIds(from: ClusterAgent = clientA): Promise<string[]> {
    const answer = await cluster.api(`/v1/health/service/${SERVICE}?passing`, from);
    assert.equal(answer.status, 200, `health of ${SERVICE} from ${from.name}`);
    return (answer.body as { Service: { ID: string } }[]).map((e) => e.Service.ID).sort();
  }

  /** Polls until exactly `ids` pass, read from `from`; resolves with when that was first seen. */
  async function waitPassing(ids: string[], timeoutMs: number, from: ClusterAgent = clientA): Promise<number> {
    const wanted = [...ids].sort().join(',');
    const deadline = Date.now() + timeoutMs;
    let seen = '';
    for (;;) {
      try {
        seen = (await passingIds(from)).join(',');
        if (seen === wanted) return Date.now();
      } catch (error) {
        seen = String(error);
      }
      if (Date.now() > deadline) assert.fail(`${SERVICE} passing was [${seen}], not [${wanted}], ${timeoutMs} ms on (read from ${from.name})`);
      await sleep(100);
    }
  }

  /** Polls until `agent` itself has the instance registered with its check passing; resolves with when. */
  async function agentPassing(agent: ClusterAgent, id: string, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let seen: unknown = 'no answer';
    for (;;) {
      // 200: registered and passing, 503: registered and not passing, 404: not registered.
      const answer = await cluster.api(`/v1/agent/health/service/id/${id}`, agent).catch((error: unknown) => ({ status: 0, body: String(error) }));
      if (answer.status === 200) return Date.now();
      seen = `${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`;
      if (Date.now() > deadline) assert.fail(`${id} not registered and passing on ${agent.name} within ${timeoutMs} ms (last: ${seen})`);
      await sleep(50);
    }
  }

  /** A leader all servers agree on, every agent alive, and autopilot calling every server healthy. */
  async function settled(timeoutMs = 30_000): Promise<void> {
    await cluster.waitForLeader({ timeoutMs });
    await cluster.waitForMembers({ timeoutMs });
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const health = await cluster.api('/v1/operator/autopilot/health').catch((error: unknown) => ({ status: 0, body: String(error) }));
      last = health.body;
      if (health.status === 200 && (health.body as { Healthy?: boolean }).Healthy === true) return;
      await sleep(200);
    }
    assert.fail(`autopilot did not call the cluster healthy within ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  function record(scenario: string, samples: readonly Sample[], extra = ''): Figures {
    const figures: Figures = {
      scenario,
      calls: samples.length,
      failures: samples.filter((s) => !s.ok).length,
      retried: samples.filter((s) => s.attempts > 1).length,
      ...observer.figures(),
      extra,
    };
    report.push(figures);
    console.log(
      `# cluster ${scenario}: ${figures.calls} calls, ${figures.failures} failed, ${figures.retried} retried; discovery gap ${figures.gapMs} ms ` +
        `(${figures.watchErrors} failed watch queries); default-mode answers without a known leader ${figures.noLeaderAnswers}, ` +
        `max LastContact ${figures.maxLastContactMs} ms; ?stale max LastContact ${figures.maxStaleLastContactMs} ms ` +
        `(${figures.staleReadFailures} stale reads failed)${extra ? `; ${extra}` : ''}`,
    );
    return figures;
  }

  function startLoad(): ReturnType<typeof steadyLoad> {
    observer.reset();
    return steadyLoad(client, SERVICE, LOAD);
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-cluster-chaos-'));
    const ca = await createCertificateAuthority({ commonName: 'Farol cluster chaos CA' });
    const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames([SERVICE]) });
    files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), usersFile: join(dir, 'users.txt') };
    await writeFile(files.caFile, ca.certPem);
    await writeFile(files.certFile, leaf.certPem);
    await writeFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
    await addUser(files.usersFile, 'chaos', PASSWORD);

    cluster = await startConsulCluster({ servers: 3, clients: 2, checksCaFile: files.caFile });
    clientA = cluster.agent('client-a');
    clientB = cluster.agent('client-b');
    const config = (host: ClusterAgent): Parameters<typeof startInstance>[0] => ({
      service: SERVICE,
      consulAddress: host.httpAddress,
      ...files,
      logFile: join(dir, `server-log-${host.name}.txt`),
    });
    const hosts = [clientA, clientA, clientB];
    const instances = await Promise.all(hosts.map((host) => startInstance(config(host))));
    fleet = instances.map((instance, i) => ({ instance, host: hosts[i]! }));
    await waitPassing(instances.map((i) => i.id), 30_000);

    client = createClient({
      consul: { address: [clientB.httpAddress, clientA.httpAddress] },
      ca: { caFile: files.caFile },
      credentials: basicCredentials('chaos', PASSWORD),
      serverName: 'localhost',
      timeoutMs: 2000,
      logger: createLogger({ name: 'client', destination: logCapture() }),
    });
    observer = observeDiscovery(SERVICE, [clientB.httpAddress, clientA.httpAddress]);
    // The first call starts the caller's watch; every scenario then starts from a warm client.
    await client.call(SERVICE, { path: '/work' });
  });

  after(async () => {
    await observer?.close();
    await client?.close();
    await Promise.all(fleet.map(({ instance }) => stopInstance(instance, 'SIGKILL')));
    await cluster?.close();
    await rm(dir, { recursive: true, force: true });
    if (report.length > 0) {
      console.log('# cluster scenario | calls | failed | retried | gap ms | no-leader answers | max LastContact ms | ?stale max LastContact ms');
      for (const f of report) {
        console.log(`# ${f.scenario} | ${f.calls} | ${f.failures} | ${f.retried} | ${f.gapMs} | ${f.noLeaderAnswers} | ${f.maxLastContactMs} | ${f.maxStaleLastContactMs}`);
      }
      console.log(`# cluster chaos file: ${Math.round((performance.now() - suiteStarted) / 1000)} s from the first before() to the end`);
    }
  });

  it('the fixture: 3 servers and 2 client agents on distinct loopback ports, one leader, every instance on its host agent', async () => {
    assert.deepEqual(cluster.servers.map((s) => s.name), ['server-1', 'server-2', 'server-3']);
    assert.deepEqual(cluster.clients.map((c) => c.name), ['client-a', 'client-b']);
    const addresses = cluster.agents.flatMap((a) => [a.httpAddress, a.rpcAddress, a.serfAddress]);
    assert.equal(new Set(addresses.map((a) => a.replace(/^https?:\/\//, ''))).size, 15, 'every port distinct');
    for (const address of addresses) assert.match(address, /^(http:\/\/)?127\.0\.0\.1:\d+$/);
    assert.equal(new Set(cluster.agents.map((a) => a.pid)).size, 5);
    const leader = await cluster.leader();
    assert.ok(leader && leader.role === 'server', 'a server leads');
    const peers = await cluster.api('/v1/status/peers');
    assert.deepEqual([...(peers.body as string[])].sort(), cluster.servers.map((s) => s.rpcAddress).sort(), 'the three servers are the raft peers');
    for (const { instance, host } of fleet) {
      const services = await cluster.api('/v1/agent/services', host);
      assert.ok(Object.keys(services.body as object).includes(instance.id), `${instance.id} is registered with ${host.name}`);
    }
  });

  it('(a) the leader is SIGKILLed and a new one elected, then it restarts: no call fails', async () => {
    const load = startLoad();
    await sleep(1000);
    const old = await cluster.waitForLeader();
    const killedAt = performance.now();
    await old.stop('SIGKILL');
    const next = await cluster.waitForLeader({ not: old });
    const electedInMs = Math.round(performance.now() - killedAt);
    await sleep(2000);
    await old.start();
    await settled();
    await sleep(1000);
    const samples = await load.stop();
    record('(a) leader SIGKILL', samples, `new leader ${next.name} agreed on ${electedInMs} ms after the kill`);
    assert.notEqual(next, old);
    assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
    assert.ok(samples.length > 100, `a steady load ran (${samples.length} calls)`);
  });

  it('(b) two of three servers down for 20 s (no quorum), then back: no call fails', async () => {
    const load = startLoad();
    await sleep(1000);
    const leader = await cluster.waitForLeader();
    const down = [leader, cluster.servers.find((s) => s !== leader)!];
    await Promise.all(down.map((s) => s.stop('SIGKILL')));
    await sleep(QUORUM_LOSS_MS);
    const noLeader = await cluster.leader();
    await Promise.all(down.map((s) => s.start()));
    const backAt = performance.now();
    await cluster.waitForLeader();
    const leaderInMs = Math.round(performance.now() - backAt);
    await settled();
    await sleep(1000);
    const samples = await load.stop();
    record('(b) quorum lost 20 s', samples, `leader again ${leaderInMs} ms after both servers restarted`);
    assert.equal(noLeader, undefined, 'no leader while two of three servers were down');
    assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
  });

  it('(c) the client agent of the host running one instance is SIGKILLed: the instance leaves the passing set, traffic moves, and it is registered again within 5 s of the agent returning', async () => {
    const load = startLoad();
    await sleep(1000);
    const lonely = fleet.find((f) => f.host === clientB)!.instance;
    const others = fleet.filter((f) => f.host !== clientB).map((f) => f.instance.id);
    await clientB.stop('SIGKILL');
    const killedAt = Date.now();
    const leftAt = await waitPassing(others, 20_000);
    // Traffic moves: no call is sent to the lonely instance once the caller's discovery can know it left.
    await sleep(3000);
    const movedBy = Date.now();
    await sleep(1000);
    const sentThereLate = load.samples.filter((s) => s.instance === lonely.id && s.sentAt >= movedBy).length;
    // The agent comes back without the services it had persisted (a host whose agent lost its state):
    // the instance's own anti-entropy (keepRegistered) must register it again.
    await clientB.start({ forgetLocalState: true });
    const backAt = Date.now();
    // Read from the agent itself: until its first sync, the catalog still holds the entry from before the kill.
    const passingAgainAt = await agentPassing(clientB, lonely.id, 5000);
    const registeredInMs = passingAgainAt - backAt;
    await waitPassing(fleet.map((f) => f.instance.id), 5000);
    await cluster.waitForMembers();
    await sleep(1500);
    const samples = await load.stop();
    const servedAgain = samples.some((s) => s.instance === lonely.id && s.sentAt >= passingAgainAt);
    const reRegistered = (await readFile(join(dir, 'server-log-client-b.txt'), 'utf8'))
      .split('\n')
      .some((line) => line.includes('"event":"re_registered"') && line.includes(lonely.id));
    record(
      '(c) client agent SIGKILL',
      samples,
      `instance left the passing set ${leftAt - killedAt} ms after the kill; registered and passing on its agent again ${registeredInMs} ms after the agent returned; ` +
        `re_registered by Farol: ${reRegistered}; served again: ${servedAgain}`,
    );
    assert.equal(sentThereLate, 0, `${sentThereLate} calls still sent to ${lonely.id} 3 s after it left the passing set`);
    assert.ok(reRegistered, `${lonely.id} logged re_registered: its own anti-entropy registered it with the agent that forgot it`);
    assert.ok(registeredInMs <= 5000, `registered and passing again ${registeredInMs} ms after its agent returned`);
    assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
  });

  it('(d) a rolling restart of all three servers: no call fails', async () => {
    const load = startLoad();
    await sleep(1000);
    const leaders: string[] = [];
    for (const server of cluster.servers) {
      await server.stop('SIGTERM');
      leaders.push((await cluster.waitForLeader()).name);
      await server.start();
      await settled();
    }
    await sleep(1000);
    const samples = await load.stop();
    record('(d) rolling restart', samples, `leaders seen: ${leaders.join(', ')}`);
    assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
  });
});
