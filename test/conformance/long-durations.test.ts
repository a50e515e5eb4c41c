/**
 * Durations beyond 2^31-1 ms (24.8 days), which Node's timers would turn into 1 ms: a TCP check
 * with Interval 720h is not probed in a loop, a TTL check with TTL 720h stays passing after a pass,
 * and a duration beyond Go's int64 nanoseconds is refused with Consul's text, on both registries.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { forEachTarget } from './targets.js';
import { getJson, putOk, send } from './wire.js';

interface Check {
  Status: string;
  Output: string;
  Interval: string;
  Timeout: string;
}

/** How long each scenario watches for a timer that fires too early. */
const WATCH_MS = 3000;

let listener: Server;
let connections = 0;
let tcpPort = 0;
const warnings: string[] = [];
const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);

before(async () => {
  process.on('warning', onWarning);
  listener = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  tcpPort = (listener.address() as AddressInfo).port;
});

after(async () => {
  process.off('warning', onWarning);
  await new Promise((resolve) => listener.close(resolve));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

forEachTarget('durations beyond 2^31-1 ms', (getTarget) => {
  it('does not probe a TCP check with Interval 720h in a loop: not at all within the first seconds', async () => {
    const before = connections;
    await putOk(getTarget(), '/v1/agent/service/register', {
      ID: 'monthly-1',
      Name: 'monthly',
      Port: tcpPort,
      Check: { TCP: `127.0.0.1:${tcpPort}`, Interval: '720h', Timeout: '720h', DeregisterCriticalServiceAfter: '720h' },
    });
    await sleep(WATCH_MS);
    const checks = await getJson<Record<string, Check>>(getTarget(), '/v1/agent/checks');
    const check = checks['service:monthly-1'];
    assert.deepEqual([check?.Interval, check?.Timeout], ['720h0m0s', '720h0m0s']);
    // The first probe comes after a random stagger within the interval (agent/checks/check.go): in
    // 3 s out of 720 h, almost surely none. A 1 ms timer would have probed thousands of times.
    assert.equal(connections - before, 0, `the check probed ${connections - before} times in ${WATCH_MS} ms`);
    assert.equal(check?.Status, 'critical', 'not probed yet: still the initial status');
  });

  it('keeps a TTL check with TTL 720h passing after a pass', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', {
      ID: 'ttl-month-1',
      Name: 'ttl-month',
      Port: 9000,
      Check: { TTL: '720h', DeregisterCriticalServiceAfter: '720h' },
    });
    await putOk(getTarget(), '/v1/agent/check/pass/service:ttl-month-1?note=fine');
    await sleep(WATCH_MS);
    const checks = await getJson<Record<string, Check>>(getTarget(), '/v1/agent/checks');
    assert.deepEqual([checks['service:ttl-month-1']?.Status, checks['service:ttl-month-1']?.Output], ['passing', 'fine']);
    const passing = await getJson<{ Service: { ID: string } }[]>(getTarget(), '/v1/health/service/ttl-month?passing');
    assert.deepEqual(passing.map((entry) => entry.Service.ID), ['ttl-month-1']);
  });

  it('refuses durations beyond Go\'s int64 nanoseconds with Consul\'s 400 texts', async () => {
    const register = (check: Record<string, unknown>) =>
      send(getTarget(), '/v1/agent/service/register', { method: 'PUT', json: { ID: 'huge-1', Name: 'huge', Check: check } });
    const interval = await register({ TCP: `127.0.0.1:${tcpPort}`, Interval: '999999999h' });
    assert.deepEqual([interval.status, interval.text], [400, 'Request decode failed: time: invalid duration "999999999h"']);
    const ttl = await register({ TTL: '2562047h47m16.854775808s' });
    assert.deepEqual([ttl.status, ttl.text], [400, 'Request decode failed: time: invalid duration "2562047h47m16.854775808s"']);
    const wait = await send(getTarget(), '/v1/health/service/monthly?index=1&wait=999999999h');
    assert.deepEqual([wait.status, wait.text], [400, 'Invalid wait time']);
    const services = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/services');
    assert.equal(services['huge-1'], undefined, 'nothing registered');
  });

  it('accepts the largest duration Go has', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', {
      ID: 'max-1',
      Name: 'max',
      Port: tcpPort,
      Check: { TCP: `127.0.0.1:${tcpPort}`, Interval: '2562047h47m16.854775807s' },
    });
    const checks = await getJson<Record<string, Check>>(getTarget(), '/v1/agent/checks');
    assert.equal(checks['service:max-1']?.Interval, '2562047h47m16.854775807s');
  });

  it('cleans up, and no TimeoutOverflowWarning was printed by this process', async () => {
    for (const id of ['monthly-1', 'ttl-month-1', 'max-1']) await putOk(getTarget(), `/v1/agent/service/deregister/${id}`);
    assert.deepEqual(warnings.filter((warning) => warning.startsWith('TimeoutOverflowWarning')), []);
  });
});
