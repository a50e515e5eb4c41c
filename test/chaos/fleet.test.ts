/**
 * Fault injection against a real Consul agent: three Farol instances (child processes) behind
 * one Farol client under a steady, bounded load of idempotent calls. Every scenario is bounded in
 * time and in requests, and everything binds to 127.0.0.1.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addUser, basicCredentials } from '../../src/auth/index.js';
import { createClient, type FarolClient } from '../../src/client/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames } from '../../src/pki/index.js';
import type { ConsulAgent } from '../support/consul-agent.js';
import { eventually, rawHealth } from '../support/consul-health.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { failureSummary, logCapture, startInstance, steadyLoad, stopInstance, type FleetConfig, type RunningInstance } from './fleet.js';

const SERVICE = 'chaos-api';
const FLAKY_SERVICE = 'chaos-flaky';
const PASSWORD = 'chaos-password-7d1f';
const LOAD = { path: '/work', concurrency: 4, pauseMs: 10, maxRequests: 20_000, maxMs: 60_000 };

let dir: string;
let files: { caFile: string; certFile: string; keyFile: string; usersFile: string };

async function makeFiles(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'farol-chaos-'));
  const ca = await createCertificateAuthority({ commonName: 'Farol chaos CA' });
  const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames([SERVICE, FLAKY_SERVICE]) });
  files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), usersFile: join(dir, 'users.txt') };
  await writeFile(files.caFile, ca.certPem);
  await writeFile(files.certFile, leaf.certPem);
  await writeFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
  await addUser(files.usersFile, 'chaos', PASSWORD);
}

async function passingIds(agent: ConsulAgent, service: string): Promise<string[]> {
  return (await rawHealth(agent, service, true)).map((e) => e.Service.ID).sort();
}

async function waitPassing(agent: ConsulAgent, service: string, ids: string[], timeoutMs = 20_000): Promise<void> {
  const wanted = [...ids].sort().join(',');
  await eventually(`${service} passing = ${wanted}`, async () => ((await passingIds(agent, service)).join(',') === wanted ? true : undefined), timeoutMs);
}

/** The client under test, with its log captured in memory. */
function chaosClient(agent: ConsulAgent, log: ReturnType<typeof logCapture>): FarolClient {
  return createClient({
    consul: { address: agent.address },
    ca: { caFile: files.caFile },
    credentials: basicCredentials('chaos', PASSWORD),
    serverName: 'localhost',
    timeoutMs: 2000,
    logger: createLogger({ name: 'client', destination: log }),
  });
}

describeWithConsul(
  'chaos: a fleet behind one client, against a real Consul',
  (getAgent) => {
    let config: FleetConfig;
    let fleet: RunningInstance[] = [];
    let client: FarolClient;
    let log: ReturnType<typeof logCapture>;

    before(async () => {
      config = { service: SERVICE, consulAddress: getAgent().address, ...files, logFile: join(dir, 'server-log.txt') };
      fleet = await Promise.all([0, 1, 2].map(() => startInstance(config)));
      await waitPassing(getAgent(), SERVICE, fleet.map((i) => i.id));
      log = logCapture();
      client = chaosClient(getAgent(), log);
    });

    after(async () => {
      await client?.close();
      await Promise.all(fleet.map((i) => stopInstance(i, 'SIGKILL')));
    });

    it('1. SIGKILL of one instance: no call fails, and the dead instance gets no traffic once ejected or gone', async () => {
      const load = steadyLoad(client, SERVICE, LOAD);
      await sleep(1500);
      const victim = fleet[0]!;
      const killedAt = Date.now();
      await stopInstance(victim, 'SIGKILL');
      await sleep(4000);
      const samples = await load.stop();
      fleet = fleet.slice(1);

      assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
      const tries = log.events().filter((e) => (e.event === 'call' || e.event === 'call_failed') && e.instance === victim.id);
      const ejection = log.events().find((e) => e.event === 'ejected' && e.instance === victim.id);
      const lastTry = Math.max(...tries.map((e) => Date.parse(String(e.time))));
      // A try is logged when it ends; it was sent latencyMs before. Tries already in flight when the
      // instance was ejected end after the ejection, but none may start after it (1 ms: log time resolution).
      const lastSent = Math.max(...tries.map((e) => Date.parse(String(e.time)) - Number(e.latencyMs)));
      if (ejection) assert.ok(lastSent <= Date.parse(String(ejection.time)) + 1, 'no try was sent to the dead instance after its ejection');
      assert.ok(lastTry - killedAt < 3000, `tries reached the dead instance for ${lastTry - killedAt} ms after the kill`);
      assert.ok(samples.length > 200, `a steady load ran (${samples.length} calls)`);
      console.log(`# scenario 1: ${samples.length} calls, 0 failed, ${samples.filter((s) => s.attempts > 1).length} retried; ejected: ${ejection !== undefined}`);

      fleet.push(await startInstance(config));
      await waitPassing(getAgent(), SERVICE, fleet.map((i) => i.id));
    });

    it('2. rolling restart of all three (SIGTERM, start again, next): no call fails', async () => {
      const load = steadyLoad(client, SERVICE, LOAD);
      await sleep(1000);
      for (let n = 0; n < 3; n += 1) {
        const old = fleet.shift()!;
        assert.equal(await stopInstance(old, 'SIGTERM'), 0, 'a drained instance exits 0');
        fleet.push(await startInstance(config));
        await waitPassing(getAgent(), SERVICE, fleet.map((i) => i.id));
      }
      // Every new instance takes traffic. A latency-aware balancer rightly sends little to one that
      // is still cold (slow first answers on a busy machine), so this is "within 10 s", not "at once".
      const allPassingAt = Date.now();
      const served = (id: string): boolean => load.samples.some((s) => s.instance === id && s.sentAt >= allPassingAt);
      while (!fleet.every((instance) => served(instance.id)) && Date.now() - allPassingAt < 10_000) await sleep(100);
      const samples = await load.stop();
      assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
      for (const instance of fleet) assert.ok(served(instance.id), `new instance ${instance.id} served within 10 s of the last one passing`);
      console.log(`# scenario 2: ${samples.length} calls, 0 failed, ${samples.filter((s) => s.attempts > 1).length} retried`);
    });

    it('3. the Consul agent down for 10 s: no call fails, and every instance is passing again within 5 s of its return', async () => {
      const agent = getAgent();
      const load = steadyLoad(client, SERVICE, LOAD);
      await sleep(1000);
      await agent.kill('SIGKILL');
      await sleep(10_000);
      await agent.start();
      const back = Date.now();
      await waitPassing(agent, SERVICE, fleet.map((i) => i.id), 5000);
      const recoveredInMs = Date.now() - back;
      await sleep(2000);
      const samples = await load.stop();
      assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
      assert.ok(recoveredInMs <= 5000);
      console.log(`# scenario 3: ${samples.length} calls, 0 failed; all ${fleet.length} passing again ${recoveredInMs} ms after Consul returned`);
    });

    it('4. a fourth instance gets traffic within 1 s of its check passing', async () => {
      const load = steadyLoad(client, SERVICE, LOAD);
      await sleep(1000);
      const fourth = await startInstance(config);
      fleet.push(fourth);
      let passingAt = 0;
      await eventually('the fourth instance passes', async () => {
        if ((await passingIds(getAgent(), SERVICE)).includes(fourth.id)) passingAt = Date.now();
        return passingAt > 0 ? true : undefined;
      });
      await sleep(1500);
      const samples = await load.stop();
      // "Gets traffic" is when the client sends it a call (a single-try call goes straight to the instance that
      // answers it); the answer itself also includes a freshly started process's first, unoptimised request.
      const first = samples.filter((s) => s.instance === fourth.id && s.attempts === 1).sort((a, b) => a.sentAt - b.sentAt)[0];
      assert.ok(first, 'the fourth instance answered at least one call');
      // Polled every 200 ms, so Consul may have seen it pass up to 200 ms before passingAt.
      const sentDelay = first.sentAt - (passingAt - 200);
      const answeredDelay = first.at - (passingAt - 200);
      assert.ok(sentDelay <= 1000, `first call sent to the new instance ${sentDelay} ms after its check passed`);
      assert.equal(samples.filter((s) => !s.ok).length, 0, `failed calls: ${failureSummary(samples)}`);
      console.log(
        `# scenario 4: first call sent to the new instance at most ${sentDelay} ms after its check passed (answered at most ${answeredDelay} ms after)`,
      );
    });
  },
  async () => {
    await makeFiles();
    return { caFile: files.caFile };
  },
);

describeWithConsul(
  'chaos: one instance answers 500 half the time',
  (getAgent) => {
    let fleet: RunningInstance[] = [];
    let client: FarolClient;
    let log: ReturnType<typeof logCapture>;

    before(async () => {
      const config = { service: FLAKY_SERVICE, consulAddress: getAgent().address, ...files, logFile: join(dir, 'flaky-server-log.txt') };
      fleet = await Promise.all(([{ FAROL_CHAOS_FAIL_RATIO: '0.5' }, {}, {}] as Record<string, string>[]).map((env) => startInstance(config, env)));
      await waitPassing(getAgent(), FLAKY_SERVICE, fleet.map((i) => i.id));
      log = logCapture();
      client = chaosClient(getAgent(), log);
    });

    after(async () => {
      await client?.close();
      await Promise.all(fleet.map((i) => stopInstance(i, 'SIGKILL')));
      await rm(dir, { recursive: true, force: true });
    });

    it('5. the sick instance is ejected and at least 99.9% of calls succeed, with retries within the budget', async () => {
      const sick = fleet[0]!;
      const all = await steadyLoad(client, FLAKY_SERVICE, { ...LOAD, maxRequests: 2000, maxMs: 30_000 }).finished();
      const succeeded = all.filter((s) => s.ok).length;
      const rate = succeeded / all.length;
      const ejections = log.events().filter((e) => e.event === 'ejected' && e.instance === sick.id);
      const retries = log.events().filter((e) => e.event === 'retry').length;
      const bySick = log.events().filter((e) => (e.event === 'call' || e.event === 'call_failed') && e.instance === sick.id).length;
      console.log(`# scenario 5: ${all.length} calls, success ${(rate * 100).toFixed(2)}%, ${retries} retries, ${bySick} tries on the sick instance, ${ejections.length} ejection(s)`);
      assert.ok(ejections.length >= 1, 'the sick instance was ejected');
      assert.ok(rate >= 0.999, `success rate ${rate} (${failureSummary(all)})`);
      assert.ok(retries <= 0.2 * all.length + 100, `${retries} retries for ${all.length} calls stays within the budget`);
    });
  },
  () => ({ caFile: files.caFile }),
);
