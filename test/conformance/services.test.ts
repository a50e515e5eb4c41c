/**
 * Registration, health, catalog, status and deregistration, spoken in raw HTTP and asserted
 * identically against real Consul and the embedded registry.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import {
  INDEX_FIELDS,
  consulIndex,
  eventually,
  getJson,
  header,
  okJson,
  putOk,
  send,
  fieldTypes,
  withStringMapsMasked,
  withoutVolatile,
} from './wire.js';
import {
  NODE_SHAPE,
  SERVICE_NAME,
  TEXTS,
  expectedAgentService,
  expectedCatalogService,
  expectedHealthService,
  expectedServiceCheck,
  webRegistration,
} from './expected.js';

interface HealthEntry {
  Node: Record<string, unknown>;
  Service: Record<string, unknown>;
  Checks: Record<string, unknown>[];
}

async function healthEntries(target: TargetContext, query = ''): Promise<HealthEntry[]> {
  return getJson<HealthEntry[]>(target, `/v1/health/service/${SERVICE_NAME}${query}`);
}

function serviceIds(entries: HealthEntry[]): string[] {
  return entries.map((entry) => String(entry.Service.ID)).sort();
}

/** Consul syncs agent state to its catalog asynchronously, so catalog-backed reads are polled briefly. */
async function waitForHealthIds(target: TargetContext, query: string, ids: string[]): Promise<HealthEntry[]> {
  let last: HealthEntry[] = [];
  const ok = await eventually(async () => {
    last = await healthEntries(target, query);
    return JSON.stringify(serviceIds(last)) === JSON.stringify([...ids].sort());
  }, 5000);
  assert.ok(ok, `health/service${query} should list ${JSON.stringify(ids)}, lists ${JSON.stringify(serviceIds(last))}`);
  return last;
}

forEachTarget('register, health and catalog', (getTarget) => {
  const primaryTags = ['primary', 'v1'];
  const canaryTags = ['canary', 'v1'];

  it('registers a service with tags, meta and a TTL check, answering 200 with an empty body', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-1', primaryTags));
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-2', canaryTags, 'critical'));
  });

  it('lists the services in /v1/agent/services exactly as Consul does', async () => {
    const services = await getJson<Record<string, Record<string, unknown>>>(getTarget(), '/v1/agent/services');
    assert.deepEqual(services['web-1'], expectedAgentService('web-1', primaryTags));
    assert.deepEqual(services['web-2'], expectedAgentService('web-2', canaryTags));
  });

  it('lists the TTL checks in /v1/agent/checks with Consul’s fields and initial statuses', async () => {
    const checks = await getJson<Record<string, Record<string, unknown>>>(getTarget(), '/v1/agent/checks');
    const check1 = checks['service:web-1'];
    const check2 = checks['service:web-2'];
    assert.ok(check1 && check2, `both service checks are listed (got ${Object.keys(checks).join(', ')})`);
    assert.deepEqual(withoutVolatile(check1, ['Node', ...INDEX_FIELDS]), expectedServiceCheck('web-1', primaryTags, 'passing'));
    assert.deepEqual(withoutVolatile(check2, ['Node', ...INDEX_FIELDS]), expectedServiceCheck('web-2', canaryTags, 'critical'));
  });

  it('returns Node, Service and Checks from /v1/health/service/:name shaped as Consul’s', async () => {
    const entries = await waitForHealthIds(getTarget(), '', ['web-1', 'web-2']);
    for (const entry of entries) {
      assert.deepEqual(Object.keys(entry).sort(), ['Checks', 'Node', 'Service']);
      const id = String(entry.Service.ID);
      const tags = id === 'web-1' ? primaryTags : canaryTags;
      assert.deepEqual(withoutVolatile(entry.Service, INDEX_FIELDS), expectedHealthService(id, tags));
      assert.deepEqual(fieldTypes(entry.Node, ['TaggedAddresses', 'Meta']), NODE_SHAPE);
      assert.equal(entry.Node.Address, '127.0.0.1');
      assert.equal(entry.Node.Datacenter, 'dc1');

      const serviceChecks = entry.Checks.filter((check) => check.ServiceID === id);
      assert.deepEqual(
        serviceChecks.map((check) => withoutVolatile(check, ['Node', ...INDEX_FIELDS])),
        [expectedServiceCheck(id, tags, id === 'web-1' ? 'passing' : 'critical')],
      );
      for (const check of entry.Checks) assert.equal(check.Node, entry.Node.Node, 'every check names the entry’s node');
      // The node's own check, as Consul reports its Serf membership.
      const nodeChecks = entry.Checks.filter((check) => check.ServiceID === '');
      assert.deepEqual(
        nodeChecks.map((check) => [check.CheckID, check.Name, check.Status, check.Output, check.ServiceTags]),
        [['serfHealth', 'Serf Health Status', 'passing', 'Agent alive and reachable', []]],
      );
      assert.deepEqual(fieldTypes(nodeChecks[0] ?? {}), fieldTypes(serviceChecks[0] ?? {}));
    }
  });

  it('filters health by tag and by ?passing', async () => {
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?tag=primary')), ['web-1']);
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?tag=v1')), ['web-1', 'web-2']);
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?tag=v1&tag=canary')), ['web-2'], 'several tags must all match');
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?tag=nope')), []);
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?passing')), ['web-1']);
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?passing=true')), ['web-1']);
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?passing=false')), ['web-1', 'web-2']);
    assert.deepEqual(serviceIds(await healthEntries(getTarget(), '?passing&tag=canary')), []);
  });

  it('lists the service and the union of its tags in /v1/catalog/services', async () => {
    const response = await send(getTarget(), '/v1/catalog/services');
    const services = okJson<Record<string, string[]>>(response, 'catalog/services');
    consulIndex(response);
    // Consul builds the union from a Go map, so its order varies from call to call.
    assert.deepEqual([...(services[SERVICE_NAME] ?? [])].sort(), ['canary', 'primary', 'v1'], 'the union of the instances’ tags, each once');
    assert.deepEqual(services.consul, [], 'the registry lists itself as the "consul" service, as a Consul server does');
    for (const tags of Object.values(services)) assert.ok(Array.isArray(tags), 'every value is an array of tags');
  });

  it('returns /v1/catalog/service/:name entries shaped as Consul’s, with tag filtering', async () => {
    const entries = await getJson<Record<string, unknown>[]>(getTarget(), `/v1/catalog/service/${SERVICE_NAME}`);
    const byId = new Map(entries.map((entry) => [String(entry.ServiceID), entry]));
    assert.deepEqual([...byId.keys()].sort(), ['web-1', 'web-2']);
    for (const [id, entry] of byId) {
      const masked = withStringMapsMasked(withoutVolatile(entry, ['ID', 'Node', ...INDEX_FIELDS]), ['TaggedAddresses', 'NodeMeta']);
      assert.deepEqual(masked, expectedCatalogService(id, id === 'web-1' ? primaryTags : canaryTags));
    }
    const canary = await getJson<Record<string, unknown>[]>(getTarget(), `/v1/catalog/service/${SERVICE_NAME}?tag=canary`);
    assert.deepEqual(canary.map((entry) => entry.ServiceID), ['web-2']);
  });

  it('answers 200 and [] for a service nobody registered, from health and catalog alike', async () => {
    for (const path of ['/v1/health/service/nobody-here', '/v1/health/service/nobody-here?passing', '/v1/catalog/service/nobody-here']) {
      const response = await send(getTarget(), path);
      assert.deepEqual(okJson(response, path), []);
      consulIndex(response);
    }
  });

  it('reports a leader as a non-empty JSON string and the peers as an array that holds it', async () => {
    const leader = await getJson<unknown>(getTarget(), '/v1/status/leader');
    assert.equal(typeof leader, 'string');
    assert.match(leader as string, /^[^:]+:\d+$/, 'the leader is host:port');
    const peers = await getJson<unknown>(getTarget(), '/v1/status/peers');
    assert.ok(Array.isArray(peers), 'peers is an array');
    assert.ok(peers.includes(leader), 'the leader is one of the peers');
  });

  it('re-registering the same ID replaces the service in place', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-1', ['primary', 'v2']));
    const services = await getJson<Record<string, Record<string, unknown>>>(getTarget(), '/v1/agent/services');
    assert.deepEqual(services['web-1'], expectedAgentService('web-1', ['primary', 'v2']));
    assert.equal(Object.keys(services).filter((id) => id.startsWith('web-')).length, 2);
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-1', primaryTags));
  });

  it('deregisters: the service and its check leave the agent, health and catalog', async () => {
    await putOk(getTarget(), '/v1/agent/service/deregister/web-2');
    const services = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/services');
    assert.equal(services['web-2'], undefined);
    const checks = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/checks');
    assert.equal(checks['service:web-2'], undefined);
    await waitForHealthIds(getTarget(), '', ['web-1']);
    const catalog = await getJson<Record<string, unknown>[]>(getTarget(), `/v1/catalog/service/${SERVICE_NAME}`);
    assert.deepEqual(catalog.map((entry) => entry.ServiceID), ['web-1']);
    const catalogServices = await getJson<Record<string, string[]>>(getTarget(), '/v1/catalog/services');
    // Consul builds the union from a Go map, so its order varies from call to call.
    assert.deepEqual([...(catalogServices[SERVICE_NAME] ?? [])].sort(), primaryTags, 'the removed instance’s tags leave the union');
  });

  it('refuses to deregister an unknown ID with 404 and Consul’s text', async () => {
    const response = await send(getTarget(), '/v1/agent/service/deregister/web-2', { method: 'PUT' });
    assert.equal(response.status, 404);
    assert.equal(response.text, TEXTS.unknownServiceId('web-2'));
  });

  it('drops a service name from /v1/catalog/services when its last instance leaves', async () => {
    await putOk(getTarget(), '/v1/agent/service/deregister/web-1');
    const ok = await eventually(async () => {
      const services = await getJson<Record<string, string[]>>(getTarget(), '/v1/catalog/services');
      return !(SERVICE_NAME in services);
    }, 5000);
    assert.ok(ok, `${SERVICE_NAME} should leave /v1/catalog/services`);
    assert.deepEqual(await healthEntries(getTarget()), []);
    const response = await send(getTarget(), '/v1/catalog/services');
    assert.equal(header(response, 'x-consul-knownleader'), 'true');
    assert.equal(header(response, 'x-consul-default-acl-policy'), 'allow', 'without ACLs the default policy is allow');
  });
});
