/**
 * Blocking queries and their response headers, asserted identically against Consul and the
 * embedded registry: index 0 answers at once, an unchanged result waits out `wait` and keeps its
 * index, a change wakes the query promptly with a higher index.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import { consulIndex, header, okJson, putOk, send } from './wire.js';
import type { WireResponse } from './wire.js';
import { TEXTS } from './expected.js';

const HEALTH = '/v1/health/service/blk';
/** Consul adds up to wait/16 of jitter to a blocking query's wait; the rest is scheduling slack. */
const WAIT_SLACK_MS = 1000;

/**
 * `blocked`: the answer to a query with index > 0. Consul 1.15 serves those for health/service from
 * its streaming backend, which always reports X-Consul-KnownLeader: false (X-Consul-Query-Backend:
 * streaming); a registry may equally say true there, so only the header's presence and form are held.
 */
function assertMetaHeaders(response: WireResponse, path: string, blocked = false): void {
  assert.equal(response.status, 200, `${path}: ${response.text}`);
  consulIndex(response);
  const knownLeader = header(response, 'x-consul-knownleader');
  if (blocked) assert.match(knownLeader ?? '(absent)', /^(true|false)$/, `${path}: X-Consul-KnownLeader`);
  else assert.equal(knownLeader, 'true', `${path}: X-Consul-KnownLeader`);
  assert.equal(header(response, 'x-consul-lastcontact'), '0', `${path}: X-Consul-LastContact`);
  assert.match(header(response, 'content-type') ?? '', /^application\/json/, `${path}: Content-Type`);
}

async function currentIndex(target: TargetContext, path: string): Promise<number> {
  return consulIndex(await send(target, path));
}

/** Waits (bounded) until the registry's answer for `path` has settled on `predicate`, then returns its index. */
async function settledIndex(target: TargetContext, path: string, predicate: (body: unknown) => boolean): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const response = await send(target, path);
    if (predicate(okJson(response, path))) return consulIndex(response);
    await sleep(100);
  }
  assert.fail(`${path} did not reach the expected state within 5 s`);
}

function statusOf(body: unknown, checkId: string): string | undefined {
  const entries = body as { Checks: { CheckID: string; Status: string }[] }[];
  return entries[0]?.Checks.find((check) => check.CheckID === checkId)?.Status;
}

forEachTarget('blocking queries', (getTarget) => {
  it('sends X-Consul-Index, X-Consul-KnownLeader and X-Consul-LastContact on health and catalog reads', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'blk-1', Name: 'blk', Port: 7000, Check: { TTL: '60s', Status: 'passing' } });
    for (const path of [HEALTH, `${HEALTH}?passing`, '/v1/catalog/services', '/v1/catalog/service/blk']) {
      assertMetaHeaders(await send(getTarget(), path), path);
    }
  });

  it('answers at once when index is 0 or absent, whatever the wait', async () => {
    for (const query of ['?index=0&wait=10s', '?wait=10s']) {
      const response = await send(getTarget(), `${HEALTH}${query}`);
      assertMetaHeaders(response, query);
      assert.ok(response.elapsedMs < 1000, `${query} answered in ${Math.round(response.elapsedMs)} ms`);
    }
  });

  it('waits out `wait` when nothing changes and returns the same index and result', async () => {
    const index = await settledIndex(getTarget(), HEALTH, (body) => statusOf(body, 'service:blk-1') === 'passing');
    const before = okJson(await send(getTarget(), HEALTH), HEALTH);
    const response = await send(getTarget(), `${HEALTH}?index=${index}&wait=2s`);
    assertMetaHeaders(response, 'blocked', true);
    assert.ok(response.elapsedMs >= 1900, `held for the wait (returned after ${Math.round(response.elapsedMs)} ms)`);
    assert.ok(response.elapsedMs <= 2000 + 2000 / 16 + WAIT_SLACK_MS, `not much longer than the wait (${Math.round(response.elapsedMs)} ms)`);
    assert.equal(consulIndex(response), index, 'the index is unchanged');
    assert.deepEqual(okJson(response, 'blocked'), before, 'the result is unchanged');
  });

  it('wakes within 1 s of a health change, with a higher index and the new status', async () => {
    const index = await settledIndex(getTarget(), HEALTH, (body) => statusOf(body, 'service:blk-1') === 'passing');
    const blocked = send(getTarget(), `${HEALTH}?index=${index}&wait=10s`);
    await sleep(300);
    const changedAt = performance.now();
    await putOk(getTarget(), '/v1/agent/check/fail/service:blk-1');
    const response = await blocked;
    const afterChangeMs = performance.now() - changedAt;
    assertMetaHeaders(response, 'woken', true);
    assert.ok(afterChangeMs < 1000, `woke ${Math.round(afterChangeMs)} ms after the change`);
    assert.ok(consulIndex(response) > index, `the index rose (${index} -> ${consulIndex(response)})`);
    const body = okJson(response, 'woken');
    // Consul may wake on the agent's write before the catalog shows the new status; if so the next index shows it.
    if (statusOf(body, 'service:blk-1') !== 'critical') {
      const next = await send(getTarget(), `${HEALTH}?index=${consulIndex(response)}&wait=5s`);
      assert.equal(statusOf(okJson(next, 'next'), 'service:blk-1'), 'critical');
    }
  });

  it('wakes a ?passing query when the instance leaves the passing set', async () => {
    await putOk(getTarget(), '/v1/agent/check/pass/service:blk-1');
    const index = await settledIndex(getTarget(), `${HEALTH}?passing`, (body) => (body as unknown[]).length === 1);
    const blocked = send(getTarget(), `${HEALTH}?passing&index=${index}&wait=10s`);
    await sleep(300);
    const changedAt = performance.now();
    await putOk(getTarget(), '/v1/agent/check/fail/service:blk-1');
    const response = await blocked;
    assert.ok(performance.now() - changedAt < 1000, 'woke within 1 s');
    assert.ok(consulIndex(response) > index, 'the index rose');
  });

  it('wakes a health query when a new instance registers and when it deregisters', async () => {
    const index = await currentIndex(getTarget(), HEALTH);
    const blocked = send(getTarget(), `${HEALTH}?index=${index}&wait=10s`);
    await sleep(300);
    const registeredAt = performance.now();
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'blk-2', Name: 'blk', Port: 7001 });
    const woken = await blocked;
    assert.ok(performance.now() - registeredAt < 1000, 'woke within 1 s of the registration');
    const afterRegister = consulIndex(woken);
    assert.ok(afterRegister > index, 'the index rose');

    const settled = await settledIndex(getTarget(), HEALTH, (body) => (body as unknown[]).length === 2);
    const blockedAgain = send(getTarget(), `${HEALTH}?index=${settled}&wait=10s`);
    await sleep(300);
    const deregisteredAt = performance.now();
    await putOk(getTarget(), '/v1/agent/service/deregister/blk-2');
    const wokenAgain = await blockedAgain;
    assert.ok(performance.now() - deregisteredAt < 1000, 'woke within 1 s of the deregistration');
    assert.ok(consulIndex(wokenAgain) > settled, 'the index rose');
  });

  it('wakes a /v1/catalog/services query when a new service name appears', async () => {
    const index = await currentIndex(getTarget(), '/v1/catalog/services');
    const blocked = send(getTarget(), `/v1/catalog/services?index=${index}&wait=10s`);
    await sleep(300);
    const registeredAt = performance.now();
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'fresh-1', Name: 'fresh', Port: 7002, Tags: ['new'] });
    const response = await blocked;
    assert.ok(performance.now() - registeredAt < 1000, 'woke within 1 s of the registration');
    assert.ok(consulIndex(response) > index, 'the index rose');
    const settled = await settledIndex(getTarget(), '/v1/catalog/services', (body) => 'fresh' in (body as object));
    assert.ok(settled >= consulIndex(response));
  });

  it('wakes a /v1/catalog/service/:name query when an instance of that service registers', async () => {
    const path = '/v1/catalog/service/fresh';
    const index = await settledIndex(getTarget(), path, (body) => (body as unknown[]).length === 1);
    const blocked = send(getTarget(), `${path}?index=${index}&wait=10s`);
    await sleep(300);
    const registeredAt = performance.now();
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'fresh-2', Name: 'fresh', Port: 7004 });
    const response = await blocked;
    assert.ok(performance.now() - registeredAt < 1000, 'woke within 1 s of the registration');
    assert.ok(consulIndex(response) > index, 'the index rose');
    await settledIndex(getTarget(), path, (body) => (body as unknown[]).length === 2);
  });

  it('neither changes the index of nor wakes a health query for a service when another service changes', async () => {
    const index = await settledIndex(getTarget(), HEALTH, (body) => (body as unknown[]).length === 1);
    const blocked = send(getTarget(), `${HEALTH}?index=${index}&wait=2s`);
    await sleep(300);
    await putOk(getTarget(), '/v1/agent/service/register', { ID: 'bystander-1', Name: 'bystander', Port: 7003 });
    const response = await blocked;
    assert.ok(response.elapsedMs >= 1900, `not woken by another service (returned after ${Math.round(response.elapsedMs)} ms)`);
    assert.equal(consulIndex(response), index);
    assert.equal(await currentIndex(getTarget(), HEALTH), index, 'the service’s own index is unchanged');
  });

  it('holds a query whose index is ahead of the registry’s for the whole wait', async () => {
    const index = await currentIndex(getTarget(), HEALTH);
    const response = await send(getTarget(), `${HEALTH}?index=${index + 1000}&wait=1s`);
    assertMetaHeaders(response, 'ahead', true);
    assert.ok(response.elapsedMs >= 900, `held for the wait (${Math.round(response.elapsedMs)} ms)`);
    assert.ok(response.elapsedMs <= 1000 + 1000 / 16 + WAIT_SLACK_MS, `not much longer (${Math.round(response.elapsedMs)} ms)`);
  });

  it('refuses a malformed index or wait with 400 and Consul’s texts', async () => {
    const badIndex = await send(getTarget(), `${HEALTH}?index=abc`);
    assert.deepEqual([badIndex.status, badIndex.text], [400, TEXTS.invalidIndex]);
    const badWait = await send(getTarget(), `${HEALTH}?index=1&wait=zz`);
    assert.deepEqual([badWait.status, badWait.text], [400, TEXTS.invalidWait]);
  });
});
