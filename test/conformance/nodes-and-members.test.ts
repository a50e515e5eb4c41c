/**
 * The read endpoints common tools call — agent/self, agent/members, catalog/datacenters,
 * catalog/nodes, catalog/node/:node, health/checks/:service, health/state/:state,
 * health/node/:node — asserted identically against real Consul 1.15.4 and the embedded registry.
 * Node names, node IDs and ports differ between the two, so each scenario reads its target's
 * node name from agent/self first and masks IDs and indexes.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachTarget } from './targets.js';
import { INDEX_FIELDS, consulIndex, eventually, fieldTypes, getJson, header, okJson, putOk, send, withoutVolatile } from './wire.js';
import { NODE_SHAPE, SERVICE_NAME, expectedHealthService, expectedServiceCheck, webRegistration } from './expected.js';

type Json = Record<string, unknown>;

const MEMBER_SHAPE = {
  Addr: 'string',
  DelegateCur: 'number',
  DelegateMax: 'number',
  DelegateMin: 'number',
  Name: 'string',
  Port: 'number',
  ProtocolCur: 'number',
  ProtocolMax: 'number',
  ProtocolMin: 'number',
  Status: 'number',
  Tags: 'string map',
};

const MEMBER_TAGS = ['acls', 'build', 'dc', 'ft_fs', 'ft_si', 'id', 'port', 'raft_vsn', 'role', 'segment', 'vsn', 'vsn_max', 'vsn_min'];

const SERVICE_CHECK_MASK = ['Node', ...INDEX_FIELDS];

function checkIds(checks: Json[]): string[] {
  return checks.map((c) => String(c.CheckID));
}

forEachTarget('nodes, members and checks: the endpoints common tools read', (getTarget) => {
  const primaryTags = ['primary', 'v1'];
  const canaryTags = ['canary', 'v1'];
  let nodeName = '';

  it('registers two instances (one passing, one critical) and sees them in the catalog', async () => {
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-1', primaryTags));
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-2', canaryTags, 'critical'));
    // Consul syncs the agent's state to its catalog asynchronously.
    const synced = await eventually(async () => (await getJson<Json[]>(getTarget(), `/v1/health/checks/${SERVICE_NAME}`)).length === 2, 5000);
    assert.ok(synced, 'both checks reach the catalog');
  });

  it('answers agent/self with Config, Member, Stats and Meta as a dev server, without query metadata', async () => {
    const response = await send(getTarget(), '/v1/agent/self');
    const self = okJson<Json>(response, 'agent/self');
    assert.equal(header(response, 'x-consul-index'), undefined, 'agent/self is not a blocking read');
    for (const key of ['Config', 'Coord', 'DebugConfig', 'Member', 'Meta', 'Stats']) assert.ok(key in self, `agent/self has ${key}`);
    const config = self.Config as Json;
    assert.deepEqual(fieldTypes(config), {
      Datacenter: 'string',
      PrimaryDatacenter: 'string',
      NodeName: 'string',
      NodeID: 'string',
      Revision: 'string',
      Server: 'boolean',
      Version: 'string',
      BuildDate: 'string',
    });
    assert.deepEqual([config.Datacenter, config.PrimaryDatacenter, config.Server, config.Version], ['dc1', 'dc1', true, '1.15.4']);
    assert.match(String(config.NodeID), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    nodeName = String(config.NodeName);
    const member = self.Member as Json;
    assert.deepEqual(fieldTypes(member, ['Tags']), MEMBER_SHAPE);
    assert.equal(member.Name, nodeName);
    assert.deepEqual(self.Meta, { 'consul-network-segment': '' });
    const stats = self.Stats as Record<string, Record<string, string>>;
    for (const section of ['agent', 'build', 'consul', 'raft', 'runtime', 'serf_lan']) assert.ok(stats[section], `Stats has ${section}`);
    assert.deepEqual(stats.agent, { check_monitors: '0', check_ttls: '2', checks: '2', services: '2' });
    assert.equal(stats.build?.version, '1.15.4');
    assert.deepEqual(
      [stats.consul?.acl, stats.consul?.leader, stats.consul?.server, stats.consul?.known_datacenters],
      ['disabled', 'true', 'true', '1'],
    );
    assert.match(String(stats.consul?.leader_addr), /^127\.0\.0\.1:\d+$/);
    assert.equal(stats.raft?.state, 'Leader');
    assert.equal(stats.serf_lan?.members, '1');
  });

  it('lists this one alive server in agent/members; ?wan answers null; ?segment=_all is the LAN pool, another segment a 500', async () => {
    const response = await send(getTarget(), '/v1/agent/members');
    const members = okJson<Json[]>(response, 'agent/members');
    assert.equal(header(response, 'x-consul-index'), undefined, 'agent/members is not a blocking read');
    assert.equal(members.length, 1);
    const member = members[0] as Json;
    assert.deepEqual(fieldTypes(member, ['Tags']), MEMBER_SHAPE);
    assert.deepEqual([member.Name, member.Addr, member.Status], [nodeName, '127.0.0.1', 1]);
    const tags = member.Tags as Record<string, string>;
    assert.deepEqual(Object.keys(tags).sort(), MEMBER_TAGS);
    assert.deepEqual([tags.role, tags.dc, tags.acls, tags.segment, tags.vsn], ['consul', 'dc1', '0', '', '2']);
    assert.match(String(tags.build), /^1\.15\.4:/);
    assert.equal(tags.id, ((await getJson<Json>(getTarget(), '/v1/agent/self')).Config as Json).NodeID);
    assert.equal((await send(getTarget(), '/v1/agent/members?wan=1')).text, 'null\n');
    assert.equal((await send(getTarget(), '/v1/agent/members?wan=0')).text, 'null\n', 'Consul reads ?wan by its presence');
    for (const all of ['_all', '']) assert.deepEqual(await getJson(getTarget(), `/v1/agent/members?segment=${all}`), members);
    const segment = await send(getTarget(), '/v1/agent/members?segment=alpha');
    assert.deepEqual([segment.status, segment.text], [500, 'Network segments are not supported in this version of Consul']);
    const wanSegment = await send(getTarget(), '/v1/agent/members?wan=1&segment=alpha');
    assert.deepEqual([wanSegment.status, wanSegment.text], [400, 'Cannot provide a segment with wan=true']);
  });

  it('lists the one datacenter in catalog/datacenters, without query metadata', async () => {
    const response = await send(getTarget(), '/v1/catalog/datacenters');
    assert.deepEqual(okJson(response, 'catalog/datacenters'), ['dc1']);
    assert.equal(header(response, 'x-consul-index'), undefined);
  });

  it('lists the node in catalog/nodes, shaped as the node of a health entry', async () => {
    const response = await send(getTarget(), '/v1/catalog/nodes');
    const nodes = okJson<Json[]>(response, 'catalog/nodes');
    consulIndex(response);
    assert.equal(header(response, 'x-consul-knownleader'), 'true');
    assert.equal(nodes.length, 1);
    const node = nodes[0] as Json;
    assert.deepEqual(fieldTypes(node, ['TaggedAddresses', 'Meta']), NODE_SHAPE);
    assert.deepEqual([node.Node, node.Address, node.Datacenter], [nodeName, '127.0.0.1', 'dc1']);
    assert.deepEqual(node.TaggedAddresses, { lan: '127.0.0.1', lan_ipv4: '127.0.0.1', wan: '127.0.0.1', wan_ipv4: '127.0.0.1' });
    assert.deepEqual(node.Meta, { 'consul-network-segment': '' });
  });

  it('answers catalog/node/:node with the node and its services by ID; an unknown node is null at index 1; no name is a 400', async () => {
    const response = await send(getTarget(), `/v1/catalog/node/${nodeName}`);
    const body = okJson<{ Node: Json; Services: Record<string, Json> }>(response, 'catalog/node');
    consulIndex(response);
    assert.deepEqual(Object.keys(body).sort(), ['Node', 'Services']);
    assert.deepEqual(fieldTypes(body.Node, ['TaggedAddresses', 'Meta']), NODE_SHAPE);
    assert.deepEqual(Object.keys(body.Services).sort(), ['consul', 'web-1', 'web-2']);
    assert.deepEqual(withoutVolatile(body.Services['web-1'] as Json, INDEX_FIELDS), expectedHealthService('web-1', primaryTags));
    assert.deepEqual(withoutVolatile(body.Services['web-2'] as Json, INDEX_FIELDS), expectedHealthService('web-2', canaryTags));
    assert.deepEqual([body.Services.consul?.ID, body.Services.consul?.Service], ['consul', 'consul']);

    const unknown = await send(getTarget(), '/v1/catalog/node/no-such-node');
    assert.deepEqual([unknown.status, unknown.text, header(unknown, 'x-consul-index')], [200, 'null\n', '1']);
    const missing = await send(getTarget(), '/v1/catalog/node/');
    assert.deepEqual([missing.status, missing.text], [400, 'Missing node name']);
  });

  it('answers health/checks/:service with the service’s checks as the health endpoint shows them', async () => {
    const response = await send(getTarget(), `/v1/health/checks/${SERVICE_NAME}`);
    const checks = okJson<Json[]>(response, 'health/checks');
    consulIndex(response);
    assert.deepEqual(
      checks.map((c) => withoutVolatile(c, SERVICE_CHECK_MASK)),
      [expectedServiceCheck('web-1', primaryTags, 'passing'), expectedServiceCheck('web-2', canaryTags, 'critical')],
    );
    for (const check of checks) assert.equal(check.Node, nodeName);
    assert.deepEqual(await getJson(getTarget(), '/v1/health/checks/no-such-service'), []);
    const missing = await send(getTarget(), '/v1/health/checks/');
    assert.deepEqual([missing.status, missing.text], [400, 'Missing service name']);
  });

  it('answers health/state/:state for any, passing, warning and critical; another state is an empty list; none is a 400', async () => {
    const state = async (name: string): Promise<string[]> => {
      const response = await send(getTarget(), `/v1/health/state/${name}`);
      const checks = okJson<Json[]>(response, `health/state/${name}`);
      consulIndex(response);
      return checkIds(checks);
    };
    assert.deepEqual(await state('any'), ['serfHealth', 'service:web-1', 'service:web-2']);
    assert.deepEqual(await state('passing'), ['serfHealth', 'service:web-1']);
    assert.deepEqual(await state('warning'), []);
    assert.deepEqual(await state('critical'), ['service:web-2']);
    assert.deepEqual(await state('bogus'), [], 'Consul 1.15.4 answers an unknown state with 200 and []');
    assert.deepEqual(await state('ANY'), [], 'states are case-sensitive');
    const serf = (await getJson<Json[]>(getTarget(), '/v1/health/state/any'))[0] as Json;
    assert.deepEqual(withoutVolatile(serf, SERVICE_CHECK_MASK), {
      Node: '<string>',
      CheckID: 'serfHealth',
      Name: 'Serf Health Status',
      Status: 'passing',
      Notes: '',
      Output: 'Agent alive and reachable',
      ServiceID: '',
      ServiceName: '',
      ServiceTags: [],
      Type: '',
      Interval: '',
      Timeout: '',
      ExposedPort: 0,
      Definition: {},
      CreateIndex: '<number>',
      ModifyIndex: '<number>',
    });
    const missing = await send(getTarget(), '/v1/health/state/');
    assert.deepEqual([missing.status, missing.text], [400, 'Missing check state']);
  });

  it('answers health/node/:node with every check of the node; an unknown node has none; no name is a 400', async () => {
    const response = await send(getTarget(), `/v1/health/node/${nodeName}`);
    const checks = okJson<Json[]>(response, 'health/node');
    consulIndex(response);
    assert.deepEqual(checkIds(checks), ['serfHealth', 'service:web-1', 'service:web-2']);
    assert.deepEqual(withoutVolatile(checks[1] as Json, SERVICE_CHECK_MASK), expectedServiceCheck('web-1', primaryTags, 'passing'));
    assert.deepEqual(await getJson(getTarget(), '/v1/health/node/no-such-node'), []);
    const missing = await send(getTarget(), '/v1/health/node/');
    assert.deepEqual([missing.status, missing.text], [400, 'Missing node name']);
  });

  it('allows only GET on each of them: PUT is a 405 whose Allow names OPTIONS and GET', async () => {
    const paths = [
      '/v1/agent/self',
      '/v1/agent/members',
      '/v1/catalog/datacenters',
      '/v1/catalog/nodes',
      `/v1/catalog/node/${nodeName}`,
      `/v1/health/checks/${SERVICE_NAME}`,
      '/v1/health/state/any',
      `/v1/health/node/${nodeName}`,
    ];
    for (const path of paths) {
      const put = await send(getTarget(), path, { method: 'PUT', body: '' });
      assert.deepEqual([put.status, put.text, header(put, 'allow')], [405, 'method PUT not allowed', 'OPTIONS,GET'], path);
    }
  });

  it('wakes blocking health/state, health/node and health/checks reads when a check changes, with a higher index', async () => {
    const first = await send(getTarget(), '/v1/health/state/critical');
    const index = consulIndex(first);
    const reads = ['/v1/health/state/critical', `/v1/health/node/${nodeName}`, `/v1/health/checks/${SERVICE_NAME}`].map((path) =>
      send(getTarget(), `${path}?index=${index}&wait=10s`),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await putOk(getTarget(), '/v1/agent/check/fail/service:web-1?note=down');
    for (const response of await Promise.all(reads)) {
      assert.ok(response.elapsedMs < 5000, `woken by the change, not by the wait (${Math.round(response.elapsedMs)} ms)`);
      assert.ok(consulIndex(response) > index);
    }
    assert.deepEqual(checkIds(await getJson<Json[]>(getTarget(), '/v1/health/state/critical')), ['service:web-1', 'service:web-2']);
  });

  it('does not wake a blocking catalog/nodes read for a service registration (Consul watches the nodes alone), and a wait that runs out keeps the index', async () => {
    const index = consulIndex(await send(getTarget(), '/v1/catalog/nodes'));
    const read = send(getTarget(), `/v1/catalog/nodes?index=${index}&wait=2s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-3', ['v2']));
    const answered = await read;
    assert.ok(answered.elapsedMs >= 1900, `the wait ran out (${Math.round(answered.elapsedMs)} ms)`);
    assert.equal(consulIndex(answered), index, 'a wait that runs out answers the result it started with');
  });
});

const TOKEN = '6d3c1f0e-4b2a-4e8f-9a71-2c5b8d0e3f14';

forEachTarget(
  'nodes, members and checks under ACLs (default deny)',
  (getTarget) => {
    let nodeName = '';

    it('refuses agent/self to the anonymous token (agent:read) and to an unknown one', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', webRegistration('web-1', ['v1']), { 'X-Consul-Token': TOKEN });
      nodeName = String(((await getJson<Json>(getTarget(), '/v1/agent/self', { 'X-Consul-Token': TOKEN })).Config as Json).NodeName);
      const anonymous = await send(getTarget(), '/v1/agent/self');
      assert.deepEqual(
        [anonymous.status, anonymous.text],
        [
          403,
          `Permission denied: anonymous token lacks permission 'agent:read' on ${JSON.stringify(nodeName)}. The anonymous token is used implicitly when a request does not specify a token.`,
        ],
      );
      const unknown = await send(getTarget(), '/v1/agent/self', { headers: { 'X-Consul-Token': 'not-the-token' } });
      assert.deepEqual([unknown.status, unknown.text], [403, 'ACL not found']);
    });

    it('filters the anonymous reads to nothing (members, nodes, node, checks) and still names the datacenters', async () => {
      const synced = await eventually(
        async () => (await getJson<Json[]>(getTarget(), `/v1/health/checks/${SERVICE_NAME}`, { 'X-Consul-Token': TOKEN })).length === 1,
        5000,
      );
      assert.ok(synced, 'the check reaches the catalog');
      assert.deepEqual(await getJson(getTarget(), '/v1/agent/members'), []);
      assert.deepEqual(await getJson(getTarget(), '/v1/catalog/datacenters'), ['dc1']);
      assert.deepEqual(await getJson(getTarget(), '/v1/catalog/nodes'), []);
      assert.equal((await send(getTarget(), `/v1/catalog/node/${nodeName}`)).text, 'null\n');
      for (const path of [`/v1/health/checks/${SERVICE_NAME}`, '/v1/health/state/any', `/v1/health/node/${nodeName}`]) {
        const response = await send(getTarget(), path);
        assert.deepEqual(okJson(response, path), [], path);
        assert.equal(header(response, 'x-consul-results-filtered-by-acls'), undefined, path);
      }
    });

    it('refuses an unknown token with 403 "ACL not found" and query metadata on the catalog and health reads', async () => {
      const bad = { 'X-Consul-Token': 'not-the-token' };
      assert.deepEqual(await getJson(getTarget(), '/v1/catalog/datacenters', bad), ['dc1'], 'catalog/datacenters reads no token');
      assert.deepEqual((await send(getTarget(), '/v1/agent/members', { headers: bad })).status, 403);
      for (const path of ['/v1/catalog/nodes', `/v1/catalog/node/${nodeName}`, `/v1/health/checks/${SERVICE_NAME}`, '/v1/health/state/any', `/v1/health/node/${nodeName}`]) {
        const response = await send(getTarget(), path, { headers: bad });
        assert.deepEqual([response.status, response.text], [403, 'ACL not found'], path);
        assert.deepEqual([header(response, 'x-consul-index'), header(response, 'x-consul-knownleader')], ['1', 'false'], path);
      }
    });

    it('answers the token in full', async () => {
      const members = await getJson<Json[]>(getTarget(), '/v1/agent/members', { 'X-Consul-Token': TOKEN });
      assert.equal((members[0]?.Tags as Record<string, string>).acls, '1');
      assert.equal(((await getJson<Json>(getTarget(), '/v1/agent/self', { 'X-Consul-Token': TOKEN })).Stats as Record<string, Json>).consul?.acl, 'enabled');
      assert.deepEqual(checkIds(await getJson<Json[]>(getTarget(), `/v1/health/node/${nodeName}`, { 'X-Consul-Token': TOKEN })), ['serfHealth', 'service:web-1']);
    });
  },
  { token: TOKEN },
);
