/**
 * DeregisterCriticalServiceAfter: a service whose check stays critical longer than that is removed
 * (agent, checks, health, catalog); a passing sibling with the same setting stays; a setting below
 * Consul's 1m minimum is raised to it.
 *
 * Why this takes ~1.5 minutes: Consul 1.15 raises any DeregisterCriticalServiceAfter below
 * check_deregister_interval_min (1m) to 1m, and reaps on a check_reap_interval (30s) loop. Both are
 * "non-user" settings (agent/config/default.go NonUserSource) that override the agent's config, so
 * the real agent cannot be made faster. The shortest honest scenario therefore uses 1m and allows up
 * to 1m + 30s + slack; the two targets run side by side so the file costs that time once.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import { eventually, getJson, putOk } from './wire.js';

const DEREGISTER_AFTER_MS = 60_000;
const CONSUL_REAP_INTERVAL_MS = 30_000;
const SLACK_MS = 10_000;

async function registered(target: TargetContext, id: string): Promise<boolean> {
  const services = await getJson<Record<string, unknown>>(target, '/v1/agent/services');
  return id in services;
}

async function checkStatus(target: TargetContext, checkId: string): Promise<string | undefined> {
  const checks = await getJson<Record<string, { Status: string }>>(target, '/v1/agent/checks');
  return checks[checkId]?.Status;
}

forEachTarget(
  'reaping critical services',
  (getTarget) => {
    let criticalSince = 0;

    it('registers a service whose TTL check will lapse and a passing sibling, both with DeregisterCriticalServiceAfter 1m', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'doomed-1',
        Name: 'doomed',
        Port: 6000,
        Check: { TTL: '1s', Status: 'passing', DeregisterCriticalServiceAfter: '1m' },
      });
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'doomed-2',
        Name: 'doomed',
        Port: 6001,
        Check: { TTL: '10m', Status: 'passing', DeregisterCriticalServiceAfter: '1m' },
      });
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'hasty-1',
        Name: 'hasty',
        Port: 6002,
        Check: { TTL: '1s', Status: 'passing', DeregisterCriticalServiceAfter: '10s' },
      });
      const lapsed = await eventually(async () => (await checkStatus(getTarget(), 'service:doomed-1')) === 'critical', 5000, 50);
      criticalSince = performance.now();
      assert.ok(lapsed, 'the 1 s TTL lapses to critical');
    });

    it('keeps the critical service while it has been critical for less than DeregisterCriticalServiceAfter', async () => {
      await sleep(Math.max(0, criticalSince + DEREGISTER_AFTER_MS - 15_000 - performance.now()));
      assert.ok(await registered(getTarget(), 'doomed-1'), 'still registered 45 s into a 1m DeregisterCriticalServiceAfter');
      assert.equal(await checkStatus(getTarget(), 'service:doomed-1'), 'critical');
    });

    it('raises a DeregisterCriticalServiceAfter below 1m to 1m (check_deregister_interval_min), as Consul does', async () => {
      assert.equal(await checkStatus(getTarget(), 'service:hasty-1'), 'critical');
      assert.ok(await registered(getTarget(), 'hasty-1'), 'a 10s DeregisterCriticalServiceAfter has not reaped the service 45 s in');
    });

    it('removes it from the agent, its checks, health and catalog once that time has passed', async () => {
      const budget = criticalSince + DEREGISTER_AFTER_MS + CONSUL_REAP_INTERVAL_MS + SLACK_MS - performance.now();
      const reaped = await eventually(async () => !(await registered(getTarget(), 'doomed-1')), Math.max(0, budget), 250);
      const after = Math.round((performance.now() - criticalSince) / 1000);
      assert.ok(reaped, `doomed-1 should be reaped within 1m + 30s + 10s of turning critical (still there after ${after} s)`);
      assert.ok(performance.now() - criticalSince >= DEREGISTER_AFTER_MS - 1000, `not before the minute is up (reaped after ${after} s)`);
      assert.equal(await checkStatus(getTarget(), 'service:doomed-1'), undefined, 'its check is gone too');
      const inCatalog = await eventually(async () => {
        const health = await getJson<{ Service: { ID: string } }[]>(getTarget(), '/v1/health/service/doomed');
        const catalog = await getJson<{ ServiceID: string }[]>(getTarget(), '/v1/catalog/service/doomed');
        return (
          JSON.stringify(health.map((entry) => entry.Service.ID)) === '["doomed-2"]' &&
          JSON.stringify(catalog.map((entry) => entry.ServiceID)) === '["doomed-2"]'
        );
      }, 5000);
      assert.ok(inCatalog, 'health and catalog list only the passing sibling');
      // It lapsed within milliseconds of doomed-1, so at most one more reap pass is needed.
      const hastyReaped = await eventually(async () => !(await registered(getTarget(), 'hasty-1')), CONSUL_REAP_INTERVAL_MS + 1000, 250);
      assert.ok(hastyReaped, 'the service with the raised 10s setting is reaped too');
    });

    it('leaves the passing sibling registered', async () => {
      assert.ok(await registered(getTarget(), 'doomed-2'));
      assert.equal(await checkStatus(getTarget(), 'service:doomed-2'), 'passing');
    });
  },
  { concurrent: true },
);
