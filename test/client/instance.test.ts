import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostPort, instanceOrigin, instancesFromEntries, type InstanceSource } from '../../src/client/instance.js';

function entry(service: Partial<InstanceSource['Service']>, nodeAddress = '10.0.0.9'): InstanceSource {
  return {
    Node: { Address: nodeAddress },
    Service: { ID: 'api-1', Service: 'api', Address: '', Port: 4443, Tags: [], Meta: {}, ...service },
  };
}

describe('instances from Consul health entries', () => {
  it('uses the service address when it is registered with one', () => {
    const [instance] = instancesFromEntries([entry({ Address: '127.0.0.1', Port: 5000, Tags: ['v1'], Meta: { zone: 'a' } })]);
    assert.deepEqual(instance, { id: 'api-1', service: 'api', address: '127.0.0.1', port: 5000, tags: ['v1'], meta: { zone: 'a' } });
  });

  it("falls back to the node's address when the service has none", () => {
    const [instance] = instancesFromEntries([entry({ Address: '' }, '192.168.1.7')]);
    assert.equal(instance?.address, '192.168.1.7');
  });

  it('treats missing tags and meta (null in Consul JSON) as empty', () => {
    const raw = entry({}) as unknown as { Service: Record<string, unknown> };
    raw.Service.Tags = null;
    raw.Service.Meta = null;
    const [instance] = instancesFromEntries([raw as unknown as InstanceSource]);
    assert.deepEqual(instance?.tags, []);
    assert.deepEqual(instance?.meta, {});
  });

  it('orders instances by id so balancers see a stable order', () => {
    const ids = instancesFromEntries([entry({ ID: 'c' }), entry({ ID: 'a' }), entry({ ID: 'b' })]).map((i) => i.id);
    assert.deepEqual(ids, ['a', 'b', 'c']);
  });

  it('returns no instances for no entries', () => {
    assert.deepEqual(instancesFromEntries([]), []);
  });

  it('writes origins with brackets around IPv6 addresses', () => {
    assert.equal(instanceOrigin({ address: '127.0.0.1', port: 4443 }), 'https://127.0.0.1:4443');
    assert.equal(instanceOrigin({ address: '::1', port: 4443 }), 'https://[::1]:4443');
    assert.equal(hostPort({ address: 'api.local', port: 80 }), 'api.local:80');
  });
});
