/**
 * TTL checks: pass, warn, fail and update transitions, the `passing` filter following them, and a
 * TTL that is not renewed turning critical, asserted identically against Consul and the embedded registry.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import { eventually, getJson, putOk, send } from './wire.js';
import { TEXTS } from './expected.js';

interface Check {
  Status: string;
  Output: string;
  Type: string;
}

async function agentCheck(target: TargetContext, checkId: string): Promise<Check | undefined> {
  const checks = await getJson<Record<string, Check>>(target, '/v1/agent/checks');
  return checks[checkId];
}

async function passingIds(target: TargetContext, service: string): Promise<string[]> {
  const entries = await getJson<{ Service: { ID: string } }[]>(target, `/v1/health/service/${service}?passing`);
  return entries.map((entry) => entry.Service.ID).sort();
}

/** The catalog follows the agent asynchronously in Consul; wait (bounded) until ?passing lists exactly `ids`. */
async function expectPassing(target: TargetContext, service: string, ids: string[]): Promise<void> {
  let last: string[] = [];
  const ok = await eventually(async () => {
    last = await passingIds(target, service);
    return JSON.stringify(last) === JSON.stringify(ids);
  }, 5000);
  assert.ok(ok, `health/service/${service}?passing should list ${JSON.stringify(ids)}, lists ${JSON.stringify(last)}`);
}

forEachTarget('TTL checks', (getTarget) => {
  const checkId = 'service:api-1';

  it('starts a TTL check as critical when no Status is given', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'api-1', Name: 'api', Port: 9000, Check: { TTL: '30s' } });
    const check = await agentCheck(getTarget(), checkId);
    assert.deepEqual({ Status: check?.Status, Output: check?.Output, Type: check?.Type }, { Status: 'critical', Output: '', Type: 'ttl' });
    await expectPassing(getTarget(), 'api', []);
  });

  it('pass, warn and fail set the status, and the note becomes the output', async () => {
    await putOk(getTarget(), `/v1/agent/check/pass/${checkId}?note=${encodeURIComponent('all good')}`);
    const noted = await agentCheck(getTarget(), checkId);
    assert.deepEqual([noted?.Status, noted?.Output], ['passing', 'all good']);
    await expectPassing(getTarget(), 'api', ['api-1']);

    await putOk(getTarget(), `/v1/agent/check/warn/${checkId}?note=slow`);
    const warned = await agentCheck(getTarget(), checkId);
    assert.deepEqual([warned?.Status, warned?.Output], ['warning', 'slow']);
    await expectPassing(getTarget(), 'api', []);

    await putOk(getTarget(), `/v1/agent/check/fail/${checkId}`);
    const failed = await agentCheck(getTarget(), checkId);
    assert.deepEqual([failed?.Status, failed?.Output], ['critical', '']);
    await expectPassing(getTarget(), 'api', []);

    await putOk(getTarget(), `/v1/agent/check/pass/${checkId}`);
    const passed = await agentCheck(getTarget(), checkId);
    assert.deepEqual([passed?.Status, passed?.Output], ['passing', '']);
    await expectPassing(getTarget(), 'api', ['api-1']);
  });

  it('update takes Status and Output from a JSON body', async () => {
    await putOk(getTarget(), `/v1/agent/check/update/${checkId}`, { Status: 'warning', Output: 'queue at 80%' });
    const warned = await agentCheck(getTarget(), checkId);
    assert.deepEqual([warned?.Status, warned?.Output], ['warning', 'queue at 80%']);
    await expectPassing(getTarget(), 'api', []);
    await putOk(getTarget(), `/v1/agent/check/update/${checkId}`, { Status: 'passing', Output: 'recovered' });
    const passed = await agentCheck(getTarget(), checkId);
    assert.deepEqual([passed?.Status, passed?.Output], ['passing', 'recovered']);
    await expectPassing(getTarget(), 'api', ['api-1']);
  });

  it('update refuses an unknown status, an unknown field and malformed JSON with 400 and Consul’s texts', async () => {
    const bogus = await send(getTarget(), `/v1/agent/check/update/${checkId}`, { method: 'PUT', json: { Status: 'bogus' } });
    assert.deepEqual([bogus.status, bogus.text], [400, "Invalid check status: 'bogus'"]);
    const extra = await send(getTarget(), `/v1/agent/check/update/${checkId}`, { method: 'PUT', json: { Status: 'passing', Extra: 1 } });
    assert.deepEqual([extra.status, extra.text], [400, 'Request decode failed: json: unknown field "Extra"']);
    const malformed = await send(getTarget(), `/v1/agent/check/update/${checkId}`, { method: 'PUT', body: '{"Status":' });
    assert.equal(malformed.status, 400);
    assert.ok(malformed.text.startsWith(TEXTS.decodeFailed), `"${malformed.text}" starts with "${TEXTS.decodeFailed}"`);
    assert.equal((await agentCheck(getTarget(), checkId))?.Status, 'passing', 'a refused update changes nothing');
  });

  it('refuses pass, warn, fail and update of an unknown check with 404 and Consul’s text', async () => {
    for (const verb of ['pass', 'warn', 'fail']) {
      const response = await send(getTarget(), `/v1/agent/check/${verb}/no-such-check`, { method: 'PUT' });
      assert.deepEqual([response.status, response.text], [404, TEXTS.unknownCheckId('no-such-check')], verb);
    }
    const update = await send(getTarget(), '/v1/agent/check/update/no-such-check', { method: 'PUT', json: { Status: 'passing' } });
    assert.deepEqual([update.status, update.text], [404, TEXTS.unknownCheckId('no-such-check')]);
  });

  it('refuses a GET on a check endpoint with 405', async () => {
    const response = await send(getTarget(), `/v1/agent/check/pass/${checkId}`, { method: 'GET' });
    assert.deepEqual([response.status, response.text], [405, TEXTS.methodNotAllowed('GET')]);
  });

  it('turns a TTL check that is not renewed critical with output "TTL expired"', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'short-1', Name: 'short', Port: 9001, Check: { TTL: '1s', Status: 'passing' } });
    await putOk(getTarget(), '/v1/agent/check/pass/service:short-1');
    const renewedAt = performance.now();
    assert.equal((await agentCheck(getTarget(), 'service:short-1'))?.Status, 'passing');
    await expectPassing(getTarget(), 'short', ['short-1']);
    const expired = await eventually(async () => (await agentCheck(getTarget(), 'service:short-1'))?.Status === 'critical', 4000, 50);
    const elapsed = performance.now() - renewedAt;
    assert.ok(expired, 'the check is critical within 4 s of a 1 s TTL');
    assert.ok(elapsed >= 900, `not before the TTL runs out (turned critical after ${Math.round(elapsed)} ms)`);
    assert.equal((await agentCheck(getTarget(), 'service:short-1'))?.Output, 'TTL expired');
    await expectPassing(getTarget(), 'short', []);
  });

  it('registers several checks from Checks, naming and numbering them as Consul does', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', {
      ID: 'multi-1',
      Name: 'multi',
      Port: 9002,
      Checks: [{ CheckID: 'multi-ready', Name: 'ready', TTL: '30s', Status: 'passing', Notes: 'first' }, { TTL: '30s' }],
    });
    const checks = await getJson<Record<string, Record<string, unknown>>>(getTarget(), '/v1/agent/checks');
    const mine = Object.entries(checks)
      .filter(([, check]) => check.ServiceID === 'multi-1')
      .map(([id, check]) => [id, check.CheckID, check.Name, check.Status, check.Notes, check.Type])
      .sort();
    assert.deepEqual(mine, [
      ['multi-ready', 'multi-ready', 'ready', 'passing', 'first', 'ttl'],
      ['service:multi-1:2', 'service:multi-1:2', "Service 'multi' check", 'critical', '', 'ttl'],
    ]);
    await expectPassing(getTarget(), 'multi', []);
    await putOk(getTarget(), '/v1/agent/check/pass/service:multi-1:2');
    await expectPassing(getTarget(), 'multi', ['multi-1']);
    await putOk(getTarget(), '/v1/agent/service/deregister/multi-1');
    const after = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/checks');
    assert.deepEqual(Object.keys(after).filter((id) => id.startsWith('multi') || id.includes('multi-1')), [], 'both checks leave with the service');
  });

  it('re-registering keeps checks left out of the new definition unless ?replace-existing-checks=true', async () => {
    const checksOf = async (): Promise<Record<string, [string, string]>> => {
      const checks = await getJson<Record<string, Check & { ServiceID: string }>>(getTarget(), '/v1/agent/checks');
      return Object.fromEntries(
        Object.entries(checks)
          .filter(([, check]) => check.ServiceID === 'rr-1')
          .map(([id, check]) => [id, [check.Status, check.Output]]),
      );
    };
    await putOk(getTarget(), '/v1/agent/service/register', {
      ID: 'rr-1',
      Name: 'rr',
      Checks: [
        { CheckID: 'rr-a', TTL: '60s', Status: 'passing' },
        { CheckID: 'rr-b', TTL: '60s', Status: 'passing' },
      ],
    });
    await putOk(getTarget(), '/v1/agent/check/warn/rr-a?note=busy');
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'rr-1', Name: 'rr', Checks: [{ CheckID: 'rr-a', TTL: '60s' }] });
    assert.deepEqual(await checksOf(), { 'rr-a': ['warning', 'busy'], 'rr-b': ['passing', ''] });
    await putOk(getTarget(), '/v1/agent/service/register?replace-existing-checks=true', {
      ID: 'rr-1',
      Name: 'rr',
      Checks: [{ CheckID: 'rr-a', TTL: '60s' }],
    });
    assert.deepEqual(await checksOf(), { 'rr-a': ['warning', 'busy'] });
  });

  it('re-registering keeps an existing check’s status and output, even when the new definition names a Status', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', {
      ID: 'rr-1',
      Name: 'rr',
      Checks: [{ CheckID: 'rr-a', TTL: '60s', Status: 'passing' }],
    });
    const check = await agentCheck(getTarget(), 'rr-a');
    assert.deepEqual([check?.Status, check?.Output], ['warning', 'busy']);
    await putOk(getTarget(), '/v1/agent/service/deregister/rr-1');
  });

  it('a pass after expiry makes the service passing again', async () => {
    await putOk(getTarget(), '/v1/agent/check/pass/service:short-1');
    assert.equal((await agentCheck(getTarget(), 'service:short-1'))?.Status, 'passing');
    await expectPassing(getTarget(), 'short', ['short-1']);
  });
});
