/**
 * ?filter= (go-bexpr's grammar as Consul 1.15.4 runs it) and the parameters Consul OSS refuses
 * (?ns=, ?partition= and their headers; ?dc= of an unknown datacenter), asserted identically
 * against real Consul and the embedded registry. Every expected text was read from the real agent.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import { eventually, getJson, putOk, send } from './wire.js';

const FILTER_PREFIX = 'Failed to create boolean expression evaluator: ';
const PARSE_ERROR = '1:5 (4): no match found, expected: "(", "-", "0", "\\"", "`", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]';

function q(filter: string): string {
  return `filter=${encodeURIComponent(filter)}`;
}

interface HealthEntry {
  Service: { ID: string };
}

async function healthIds(target: TargetContext, query: string): Promise<string[]> {
  const entries = await getJson<HealthEntry[]>(target, `/v1/health/service/web?${query}`);
  return entries.map((e) => e.Service.ID).sort();
}

async function refusal(target: TargetContext, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const response = await send(target, path, { headers });
  return { status: response.status, text: response.text };
}

forEachTarget('filters', (getTarget) => {
  it('registers a stable instance and a canary', async () => {
    const target = getTarget();
    await putOk(target, '/v1/agent/service/register', {
      ID: 'web-1',
      Name: 'web',
      Address: '127.0.0.1',
      Port: 8080,
      Tags: ['v1', 'primary'],
      Meta: { version: '1.2.3' },
      Check: { TTL: '30s', Status: 'passing' },
    });
    await putOk(target, '/v1/agent/service/register', {
      ID: 'web-2',
      Name: 'web',
      Address: '127.0.0.1',
      Port: 8081,
      Tags: ['v2', 'canary'],
      Meta: { version: '2.0.0', canary: 'true' },
      Check: { TTL: '30s' },
    });
    // Consul syncs agent state to its catalog asynchronously.
    assert.ok(await eventually(async () => (await healthIds(target, '')).length === 2, 5000), 'both instances in the catalog');
  });

  it('health/service: each operator over ports, tags, meta and checks', async () => {
    const cases: [string, string[]][] = [
      ['Service.Port == 8080', ['web-1']],
      ['Service.Port != 8080', ['web-2']],
      ['canary in Service.Tags', ['web-2']],
      ['"canary" not in Service.Tags', ['web-1']],
      ['Service.Tags contains primary', ['web-1']],
      ['Service.Tags not contains primary', ['web-2']],
      ['Service.Meta.canary == "true"', ['web-2']],
      ['Service.Meta["version"] == `1.2.3`', ['web-1']],
      ['Service.Meta.canary != "true"', ['web-1']],
      ['canary in Service.Meta', ['web-2']],
      ['Service.Meta is not empty', ['web-1', 'web-2']],
      ['Service.Tags is empty', []],
      ['Service.ID matches "-1$"', ['web-1']],
      ['Service.ID not matches "-1$"', ['web-2']],
      ['"-2" in Service.ID', ['web-2']],
      ['Checks.Status == critical', ['web-2']],
      ['Checks.Status == passing', ['web-1', 'web-2']],
      ['not Service.Port == 8080', ['web-2']],
      ['(Service.Port == 8080 or Service.Port == 8081) and v2 in Service.Tags', ['web-2']],
      ['Service.EnableTagOverride == false and Node.Datacenter == dc1', ['web-1', 'web-2']],
    ];
    for (const [filter, ids] of cases) assert.deepEqual(await healthIds(getTarget(), q(filter)), ids, filter);
  });

  it('a missing meta key: `==` is false, `!=` and even `matches` are true (go-bexpr)', async () => {
    assert.deepEqual(await healthIds(getTarget(), q('Service.Meta.canary matches "^x"')), ['web-1']);
  });

  it('an empty filter keeps everything; ?filter= combines with ?tag= and ?passing', async () => {
    assert.deepEqual(await healthIds(getTarget(), 'filter='), ['web-1', 'web-2']);
    assert.deepEqual(await healthIds(getTarget(), `tag=v1&${q('Service.Port == 8081')}`), []);
    assert.deepEqual(await healthIds(getTarget(), `passing&${q('Service.Meta.version matches "^[12]"')}`), ['web-1']);
  });

  it('catalog/service filters on ServiceNode fields', async () => {
    const entries = await getJson<{ ServiceID: string }[]>(getTarget(), `/v1/catalog/service/web?${q('ServiceMeta.canary == "true" and ServicePort == 8081')}`);
    assert.deepEqual(entries.map((e) => e.ServiceID), ['web-2']);
  });

  it('catalog/services keeps the services (and tags) of the instances that pass', async () => {
    const services = await getJson<Record<string, string[]>>(getTarget(), `/v1/catalog/services?${q('ServiceTags contains canary')}`);
    assert.deepEqual(Object.keys(services), ['web']);
    assert.deepEqual([...services.web!].sort(), ['canary', 'v2']);
  });

  it('agent/services and agent/checks filter with their own selectors', async () => {
    const services = await getJson<Record<string, unknown>>(getTarget(), `/v1/agent/services?${q('Port == 8081 and Meta.canary == "true"')}`);
    assert.deepEqual(Object.keys(services), ['web-2']);
    const checks = await getJson<Record<string, unknown>>(getTarget(), `/v1/agent/checks?${q('Status == critical')}`);
    assert.deepEqual(Object.keys(checks), ['service:web-2']);
  });

  it('catalog/nodes, catalog/node, health/checks, health/state and health/node filter their own records', async () => {
    const target = getTarget();
    const [self] = await getJson<{ Node: string }[]>(target, '/v1/catalog/nodes');
    const node = self!.Node;
    const nodes = async (filter: string): Promise<string[]> =>
      (await getJson<{ Node: string }[]>(target, `/v1/catalog/nodes?${q(filter)}`)).map((n) => n.Node);
    assert.deepEqual(await nodes('Datacenter == dc1 and Meta["consul-network-segment"] == ""'), [node]);
    assert.deepEqual(await nodes(`Node != "${node}"`), []);
    const services = await getJson<{ Services: Record<string, unknown> }>(target, `/v1/catalog/node/${node}?${q('Service == web and Port == 8081')}`);
    assert.deepEqual(Object.keys(services.Services), ['web-2']);
    const checkIds = async (path: string, filter: string): Promise<string[]> =>
      (await getJson<{ CheckID: string }[]>(target, `${path}?${q(filter)}`)).map((c) => c.CheckID).sort();
    assert.deepEqual(await checkIds('/v1/health/checks/web', 'ServiceID == "web-2"'), ['service:web-2']);
    assert.deepEqual(await checkIds('/v1/health/state/any', 'ServiceName == web and "primary" in ServiceTags'), ['service:web-1']);
    assert.deepEqual(await checkIds(`/v1/health/node/${node}`, 'ServiceID == "" and Status == passing'), ['serfHealth']);
    assert.deepEqual(await checkIds(`/v1/health/node/${node}`, 'CheckID == serfHealth'), ['serfHealth']);
    for (const path of ['/v1/catalog/nodes', `/v1/catalog/node/${node}`, '/v1/health/checks/web', '/v1/health/state/any', `/v1/health/node/${node}`]) {
      assert.deepEqual(await refusal(target, `${path}?${q('((((')}`), { status: 500, text: FILTER_PREFIX + PARSE_ERROR }, path);
      assert.deepEqual(await refusal(target, `${path}?${q('Nope == 1')}`), { status: 500, text: `${FILTER_PREFIX}Selector "Nope" is not valid` }, path);
      assert.deepEqual(await refusal(target, `${path}?dc=nope`), { status: 500, text: 'No path to datacenter' }, path);
    }
  });

  it('which endpoints read ns, only partition, or neither; catalog/datacenters takes no filter at all', async () => {
    const target = getTarget();
    const [self] = await getJson<{ Node: string }[]>(target, '/v1/catalog/nodes');
    const status = async (path: string): Promise<number> => (await send(target, path)).status;
    for (const path of [`/v1/catalog/node/${self!.Node}`, '/v1/health/checks/web', '/v1/health/state/any', `/v1/health/node/${self!.Node}`]) {
      assert.equal(await status(`${path}?ns=x`), 400, path);
      assert.equal(await status(`${path}?partition=x`), 400, path);
    }
    for (const path of ['/v1/catalog/nodes', '/v1/agent/members']) {
      assert.equal(await status(`${path}?ns=x`), 200, `${path} ignores ns`);
      assert.equal(await status(`${path}?partition=x`), 400, path);
    }
    for (const path of ['/v1/agent/self', '/v1/catalog/datacenters']) {
      assert.equal(await status(`${path}?ns=x&partition=x`), 200, path);
    }
    assert.equal(await status(`/v1/catalog/datacenters?dc=nope&${q('((((')}`), 200);
    assert.equal(await status(`/v1/agent/members?dc=nope&${q('((((')}`), 200);
  });

  it('a filter that does not parse: 500 with go-bexpr’s text on every filtering endpoint', async () => {
    for (const path of ['/v1/health/service/web', '/v1/catalog/service/web', '/v1/catalog/services', '/v1/agent/services', '/v1/agent/checks']) {
      assert.deepEqual(await refusal(getTarget(), `${path}?${q('((((')}`), { status: 500, text: FILTER_PREFIX + PARSE_ERROR }, path);
    }
  });

  it('grammar errors name the rule and position', async () => {
    const cases: [string, string][] = [
      ['(Service.Port == 1', '1:19 (18): rule "grouping": Unmatched parentheses'],
      ['Service.ID == "abc', '1:19 (18): rule "string": Unterminated string literal'],
      ['Service.Port == 1x', '1:18 (17): rule "number": Invalid number literal'],
      ['Service.Meta[', '1:14 (13): rule "index": Invalid index'],
      // A bare value is a selector-like word: a dash ends it.
      ['Service.ID == web-2', '1:18 (17): no match found, expected: ".", "[", [ \\t\\r\\n], [a-zA-Z0-9_] or EOF'],
    ];
    for (const [filter, text] of cases) {
      assert.deepEqual(await refusal(getTarget(), `/v1/health/service/web?${q(filter)}`), { status: 500, text: FILTER_PREFIX + text }, filter);
    }
  });

  it('unknown selectors, operators the field refuses and values that do not coerce: 500', async () => {
    const cases: [string, string, string][] = [
      ['/v1/health/service/web', 'Service.Nope == 1', 'Selector "Service.Nope" is not valid'],
      ['/v1/health/service/web', 'Service.Tags == x', 'Invalid match operator "Equal" for selector "Service.Tags"'],
      ['/v1/health/service/web', 'Service.Port matches "1"', 'Invalid match operator "Matches" for selector "Service.Port"'],
      ['/v1/health/service/web', 'Service.Port == abc', 'Failed to coerce value "abc" for selector "Service.Port": strconv.ParseInt: parsing "abc": invalid syntax'],
      ['/v1/health/service/web', 'Service.ID matches "("', 'Failed to compile regular expression "(": error parsing regexp: missing closing ): `(`'],
      ['/v1/catalog/service/web', 'Service.Port == 1', 'Selector "Service" is not valid'],
      ['/v1/catalog/services', 'Nope == 1', 'Selector "Nope" is not valid'],
      ['/v1/agent/services', 'Service.Port == 1', 'Selector "Service.Port" is not valid'],
    ];
    for (const [path, filter, text] of cases) {
      assert.deepEqual(await refusal(getTarget(), `${path}?${q(filter)}`), { status: 500, text: FILTER_PREFIX + text }, `${path} ${filter}`);
    }
  });

  it('agent/checks checks selectors against its first check, so its text has no prefix', async () => {
    assert.deepEqual(await refusal(getTarget(), `/v1/agent/checks?${q('Nope == 1')}`), { status: 500, text: 'Selector "Nope" is not valid' });
  });

  it('a blocking health/service read (streaming backend) reports filter errors without the prefix', async () => {
    assert.deepEqual(await refusal(getTarget(), `/v1/health/service/web?index=1&wait=1s&${q('Service.Nope == 1')}`), {
      status: 500,
      text: 'Selector "Service.Nope" is not valid',
    });
  });

  it('?dc= of an unknown datacenter: 500 "No path to datacenter" on health, catalog, KV and status; the agent ignores it', async () => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const response = await send(getTarget(), '/v1/kv/dc-probe?dc=nope', { method, ...(method === 'PUT' ? { body: 'x' } : {}) });
      assert.deepEqual({ status: response.status, text: response.text }, { status: 500, text: 'No path to datacenter' }, `KV ${method}`);
    }
    const flags = await send(getTarget(), '/v1/kv/dc-probe?dc=nope&flags=abc', { method: 'PUT', body: 'x' });
    assert.deepEqual({ status: flags.status, text: flags.text }, { status: 500, text: 'strconv.ParseUint: parsing "abc": invalid syntax' }, 'KV parses before routing');
    for (const path of ['/v1/status/leader', '/v1/status/peers']) {
      assert.deepEqual(await refusal(getTarget(), `${path}?dc=nope`), { status: 500, text: 'No path to datacenter' }, path);
    }
    for (const path of ['/v1/health/service/web', '/v1/catalog/service/web', '/v1/catalog/services']) {
      assert.deepEqual(await refusal(getTarget(), `${path}?dc=nope`), { status: 500, text: 'No path to datacenter' }, path);
      assert.deepEqual(await refusal(getTarget(), `${path}?dc=nope&${q('((((')}`), { status: 500, text: 'No path to datacenter' }, `${path} dc before filter`);
    }
    assert.equal((await send(getTarget(), '/v1/health/service/web?dc=dc1')).status, 200);
    assert.equal((await send(getTarget(), '/v1/health/service/web?dc=')).status, 200);
    assert.equal((await send(getTarget(), '/v1/agent/services?dc=nope')).status, 200);
  });

  it('Enterprise parameters: ?ns= and ?partition= (and their headers) answer 400 with Consul OSS’s texts', async () => {
    const ns = { status: 400, text: 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature' };
    const partition = { status: 400, text: 'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature' };
    for (const path of ['/v1/health/service/web', '/v1/catalog/service/web', '/v1/catalog/services', '/v1/agent/services', '/v1/agent/checks']) {
      assert.deepEqual(await refusal(getTarget(), `${path}?ns=x`), ns, path);
      assert.deepEqual(await refusal(getTarget(), `${path}?ns=default`), ns, `${path} default`);
      assert.deepEqual(await refusal(getTarget(), `${path}?partition=x`), partition, path);
      assert.deepEqual(await refusal(getTarget(), `${path}?ns=x&dc=nope&${q('((((')}`), ns, `${path}: ns first`);
    }
    assert.deepEqual(await refusal(getTarget(), '/v1/health/service/web', { 'X-Consul-Namespace': 'x' }), {
      status: 400,
      text: 'Invalid header: "X-Consul-Namespace" - Namespaces are a Consul Enterprise feature',
    });
    assert.deepEqual(await refusal(getTarget(), '/v1/health/service/web', { 'X-Consul-Partition': 'x' }), {
      status: 400,
      text: 'Invalid header: "X-Consul-Partition" - Partitions are a Consul Enterprise feature',
    });
    assert.equal((await send(getTarget(), '/v1/health/service/web?ns=&partition=')).status, 200, 'empty values are ignored');
    const write = await send(getTarget(), '/v1/agent/service/register?ns=x', { method: 'PUT', json: { Name: 'ns-probe' } });
    assert.deepEqual({ status: write.status, text: write.text }, ns, 'writes too');
    assert.equal((await send(getTarget(), '/v1/status/leader?ns=x&partition=x')).status, 200, 'status/* reads neither');
  });
});
