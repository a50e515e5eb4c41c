/**
 * Service maintenance mode (PUT /v1/agent/service/maintenance/:id) and the agent's record of one
 * service (GET /v1/agent/service/:id), the two calls a draining and self-healing Farol host makes,
 * asserted identically against Consul and the embedded registry.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import { consulIndex, eventually, getJson, header, putOk, send, withoutVolatile } from './wire.js';
import { expectedAgentService, expectedCheck, SERVICE_NAME, TEXTS, webRegistration } from './expected.js';

const ID = 'web-m1';
const MAINT = `_service_maintenance:${ID}`;
const DEFAULT_REASON = 'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.';

function maintenanceCheck(notes: string, tags: string[]): Record<string, unknown> {
  return expectedCheck({ id: ID, checkId: MAINT, name: 'Service Maintenance Mode', type: 'maintenance', status: 'critical', notes, output: '', tags });
}

async function agentChecks(target: TargetContext): Promise<Record<string, Record<string, unknown>>> {
  return getJson<Record<string, Record<string, unknown>>>(target, '/v1/agent/checks');
}

async function passingIds(target: TargetContext): Promise<string[]> {
  const entries = await getJson<{ Service: { ID: string } }[]>(target, `/v1/health/service/${SERVICE_NAME}?passing`);
  return entries.map((entry) => entry.Service.ID).sort();
}

async function expectPassing(target: TargetContext, ids: string[]): Promise<void> {
  let last: string[] = [];
  const ok = await eventually(async () => {
    last = await passingIds(target);
    return JSON.stringify(last) === JSON.stringify(ids);
  }, 5000);
  assert.ok(ok, `health/service/${SERVICE_NAME}?passing should list ${JSON.stringify(ids)}, lists ${JSON.stringify(last)}`);
}

const maintenance = (target: TargetContext, query: string) =>
  send(target, `/v1/agent/service/maintenance/${query}`, { method: 'PUT' });

forEachTarget('service maintenance and the agent service record', (getTarget) => {
  it('answers GET /v1/agent/service/:id with the agent record, a ContentHash and X-Consul-ContentHash', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration(ID, ['m']));
    const response = await send(getTarget(), `/v1/agent/service/${ID}`);
    assert.equal(response.status, 200, response.text);
    assert.equal(header(response, 'content-type'), 'application/json');
    const body = JSON.parse(response.text) as Record<string, unknown>;
    const hash = body.ContentHash;
    assert.equal(typeof hash, 'string');
    assert.match(hash as string, /^[0-9a-f]{1,16}$/);
    assert.equal(header(response, 'x-consul-contenthash'), hash);
    assert.deepEqual(Object.keys(body), [...Object.keys(expectedAgentService(ID, ['m'])).filter((k) => k !== 'Datacenter'), 'ContentHash', 'Datacenter']);
    assert.deepEqual({ ...body, ContentHash: '<hash>' }, { ...expectedAgentService(ID, ['m']), ContentHash: '<hash>' });
    const again = await send(getTarget(), `/v1/agent/service/${ID}`);
    assert.equal(header(again, 'x-consul-contenthash'), hash, 'the hash is stable while the record is');
  });

  it('answers an unknown service ID with 404 "unknown service ID: <id>" and refuses PUT with 405', async () => {
    const unknown = await send(getTarget(), '/v1/agent/service/no-such-service');
    assert.deepEqual([unknown.status, unknown.text], [404, 'unknown service ID: no-such-service']);
    const put = await send(getTarget(), `/v1/agent/service/${ID}`, { method: 'PUT' });
    assert.deepEqual([put.status, put.text, header(put, 'allow')], [405, TEXTS.methodNotAllowed('PUT'), 'OPTIONS,GET']);
  });

  it('blocks GET /v1/agent/service/:id?hash= until the record changes', async () => {
    const first = await send(getTarget(), `/v1/agent/service/${ID}`);
    const hash = header(first, 'x-consul-contenthash')!;
    const unchanged = await send(getTarget(), `/v1/agent/service/${ID}?hash=${hash}&wait=300ms`);
    assert.equal(unchanged.status, 200);
    assert.equal(header(unchanged, 'x-consul-contenthash'), hash);
    assert.ok(unchanged.elapsedMs >= 250, `waited out the 300ms wait (${Math.round(unchanged.elapsedMs)} ms)`);
    const blocked = send(getTarget(), `/v1/agent/service/${ID}?hash=${hash}&wait=10s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration(ID, ['m', 'changed']));
    const woken = await blocked;
    assert.equal(woken.status, 200);
    assert.ok(woken.elapsedMs < 5000, `woke on the change (${Math.round(woken.elapsedMs)} ms)`);
    assert.notEqual(header(woken, 'x-consul-contenthash'), hash);
    assert.deepEqual((JSON.parse(woken.text) as { Tags: string[] }).Tags, ['m', 'changed']);
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration(ID, ['m']));
  });

  it('enabling maintenance adds a critical _service_maintenance check with the reason, and the instance leaves ?passing', async () => {
    await expectPassing(getTarget(), [ID]);
    const before = await send(getTarget(), `/v1/health/service/${SERVICE_NAME}`);
    const index = consulIndex(before);
    const woken = send(getTarget(), `/v1/health/service/${SERVICE_NAME}?passing&index=${index}&wait=10s`);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const enabled = await maintenance(getTarget(), `${ID}?enable=true&reason=${encodeURIComponent('draining: SIGTERM')}`);
    assert.deepEqual([enabled.status, enabled.text], [200, '']);
    const wake = await woken;
    assert.ok(wake.elapsedMs < 2000, `a blocking ?passing query wakes at once (${Math.round(wake.elapsedMs)} ms)`);
    assert.ok(consulIndex(wake) > index);
    assert.deepEqual(JSON.parse(wake.text), [], 'the woken answer no longer lists the instance');

    const checks = await agentChecks(getTarget());
    assert.deepEqual(withoutVolatile(checks[MAINT]!, ['Node', 'CreateIndex', 'ModifyIndex']), maintenanceCheck('draining: SIGTERM', ['m']));
    assert.equal(checks[`service:${ID}`]?.Status, 'passing', 'the service’s own check is untouched');
    await expectPassing(getTarget(), []);
    const entries = await getJson<{ Checks: Record<string, unknown>[] }[]>(getTarget(), `/v1/health/service/${SERVICE_NAME}`);
    assert.equal(entries.length, 1, 'still registered, only not passing');
    assert.deepEqual(
      entries[0]!.Checks.map((c) => c.CheckID),
      ['serfHealth', MAINT, `service:${ID}`],
    );
    const inHealth = entries[0]!.Checks.find((c) => c.CheckID === MAINT)!;
    assert.deepEqual(withoutVolatile(inHealth, ['Node', 'CreateIndex', 'ModifyIndex']), maintenanceCheck('draining: SIGTERM', ['m']));
  });

  it('enabling again changes nothing (the first reason stays); the check refuses TTL updates', async () => {
    const again = await maintenance(getTarget(), `${ID}?enable=true&reason=other`);
    assert.deepEqual([again.status, again.text], [200, '']);
    assert.equal((await agentChecks(getTarget()))[MAINT]?.Notes, 'draining: SIGTERM');
    const pass = await send(getTarget(), `/v1/agent/check/pass/${MAINT}`, { method: 'PUT' });
    assert.deepEqual([pass.status, pass.text], [500, `CheckID "${MAINT}" does not have associated TTL`]);
  });

  it('disabling removes the check and the instance is passing again; disabling twice is fine', async () => {
    const disabled = await maintenance(getTarget(), `${ID}?enable=false`);
    assert.deepEqual([disabled.status, disabled.text], [200, '']);
    assert.ok(!(MAINT in (await agentChecks(getTarget()))));
    await expectPassing(getTarget(), [ID]);
    const twice = await maintenance(getTarget(), `${ID}?enable=false`);
    assert.deepEqual([twice.status, twice.text], [200, '']);
  });

  it('uses Consul’s default Notes when no reason is given, and accepts Go’s boolean spellings', async () => {
    assert.equal((await maintenance(getTarget(), `${ID}?enable=1`)).status, 200);
    assert.equal((await agentChecks(getTarget()))[MAINT]?.Notes, DEFAULT_REASON);
    assert.equal((await maintenance(getTarget(), `${ID}?enable=F`)).status, 200);
    assert.ok(!(MAINT in (await agentChecks(getTarget()))));
  });

  it('refuses a missing or bad enable, a missing ID, an unknown ID and GET with Consul’s codes and texts', async () => {
    const cases: [string, number, string][] = [
      [ID, 400, 'Missing value for enable'],
      [`${ID}?enable=`, 400, 'Invalid value for enable: ""'],
      [`${ID}?enable=yes`, 400, 'Invalid value for enable: "yes"'],
      ['?enable=true', 400, 'Missing service ID'],
      ['no-such-service?enable=true', 404, TEXTS.unknownServiceId('no-such-service')],
      ['no-such-service?enable=false', 404, TEXTS.unknownServiceId('no-such-service')],
    ];
    for (const [query, status, text] of cases) {
      const response = await maintenance(getTarget(), query);
      assert.deepEqual([response.status, response.text], [status, text], query);
    }
    const get = await send(getTarget(), `/v1/agent/service/maintenance/${ID}?enable=true`);
    assert.deepEqual([get.status, header(get, 'allow')], [405, 'OPTIONS,PUT']);
    assert.ok(!(MAINT in (await agentChecks(getTarget()))), 'nothing was enabled by the refused calls');
  });

  it('re-registering keeps maintenance, unless ?replace-existing-checks=true, which removes it', async () => {
    assert.equal((await maintenance(getTarget(), `${ID}?enable=true&reason=r`)).status, 200);
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration(ID, ['m']));
    assert.equal((await agentChecks(getTarget()))[MAINT]?.Notes, 'r');
    await expectPassing(getTarget(), []);
    await putOk(getTarget(), '/v1/agent/service/register?replace-existing-checks=true', webRegistration(ID, ['m']));
    assert.ok(!(MAINT in (await agentChecks(getTarget()))));
    await expectPassing(getTarget(), [ID]);
  });

  it('deregistering a service in maintenance removes its maintenance check too', async () => {
    assert.equal((await maintenance(getTarget(), `${ID}?enable=true`)).status, 200);
    await putOk(getTarget(), `/v1/agent/service/deregister/${ID}`);
    const checks = await agentChecks(getTarget());
    assert.deepEqual(Object.keys(checks).filter((id) => id.includes(ID)), []);
    const gone = await send(getTarget(), `/v1/agent/service/${ID}`);
    assert.deepEqual([gone.status, gone.text], [404, `unknown service ID: ${ID}`]);
  });
});
