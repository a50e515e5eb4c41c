import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryHttpError } from '../../src/registry/http-error.js';
import { checkDatacenter, checkEnterpriseParams, enterpriseScope, readFilter } from '../../src/registry/query-params.js';

function refusal(fn: () => unknown): { status: number; body: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RegistryHttpError, String(error));
    return { status: error.status, body: error.body };
  }
  assert.fail('expected a refusal');
}

const params = (text: string): URLSearchParams => new URLSearchParams(text);

describe('Enterprise parameters (Consul OSS 1.15.4)', () => {
  it('knows which endpoints read namespaces, only partitions, or neither', () => {
    assert.equal(enterpriseScope('/v1/health/service/web'), 'namespace');
    assert.equal(enterpriseScope('/v1/agent/service/register'), 'namespace');
    assert.equal(enterpriseScope('/v1/kv/a/b'), 'namespace');
    assert.equal(enterpriseScope('/v1/catalog/nodes'), 'partition');
    assert.equal(enterpriseScope('/v1/agent/members'), 'partition');
    assert.equal(enterpriseScope('/v1/agent/self'), 'none');
    assert.equal(enterpriseScope('/v1/catalog/datacenters'), 'none');
    assert.equal(enterpriseScope('/v1/status/leader'), 'none');
    assert.equal(enterpriseScope('/ui/'), 'none');
  });

  it('refuses a non-empty ns or partition, headers before the query and namespaces before partitions', () => {
    const ns = { status: 400, body: 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature' };
    assert.deepEqual(refusal(() => checkEnterpriseParams('/v1/health/service/web', params('ns=default&partition=x'), {})), ns);
    assert.deepEqual(refusal(() => checkEnterpriseParams('/v1/health/service/web', params('ns=x'), { 'x-consul-namespace': 'y' })), {
      status: 400,
      body: 'Invalid header: "X-Consul-Namespace" - Namespaces are a Consul Enterprise feature',
    });
    assert.deepEqual(refusal(() => checkEnterpriseParams('/v1/catalog/nodes', params('partition=p'), {})), {
      status: 400,
      body: 'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature',
    });
    assert.deepEqual(refusal(() => checkEnterpriseParams('/v1/agent/members', params(''), { 'x-consul-partition': 'p' })), {
      status: 400,
      body: 'Invalid header: "X-Consul-Partition" - Partitions are a Consul Enterprise feature',
    });
  });

  it('lets empty values through, and ns where only partitions are read', () => {
    assert.doesNotThrow(() => checkEnterpriseParams('/v1/health/service/web', params('ns=&partition='), { 'x-consul-namespace': '' }));
    assert.doesNotThrow(() => checkEnterpriseParams('/v1/catalog/nodes', params('ns=x'), {}));
    assert.doesNotThrow(() => checkEnterpriseParams('/v1/status/leader', params('ns=x&partition=y'), {}));
  });
});

describe('?dc=', () => {
  it('answers 500 "No path to datacenter" for another datacenter, case-sensitively; ours or empty passes', () => {
    assert.deepEqual(refusal(() => checkDatacenter(params('dc=nope'), 'dc1')), { status: 500, body: 'No path to datacenter' });
    assert.deepEqual(refusal(() => checkDatacenter(params('dc=DC1'), 'dc1')), { status: 500, body: 'No path to datacenter' });
    assert.doesNotThrow(() => checkDatacenter(params('dc=dc1'), 'dc1'));
    assert.doesNotThrow(() => checkDatacenter(params('dc='), 'dc1'));
  });
});

describe('readFilter', () => {
  it('keeps everything without a filter or with an empty one', () => {
    assert.deepEqual(readFilter(params(''), 'agent/services').apply([1, 2]), [1, 2]);
    assert.deepEqual(readFilter(params('filter='), 'agent/services').apply([1, 2]), [1, 2]);
  });

  it('runs the filter over the endpoint’s type', () => {
    const filter = readFilter(params(`filter=${encodeURIComponent('Port == 80 and "a" in Tags')}`), 'agent/services');
    assert.deepEqual(filter.apply([{ Port: 80, Tags: ['a'] }, { Port: 80, Tags: [] }, { Port: 81, Tags: ['a'] }]), [{ Port: 80, Tags: ['a'] }]);
  });

  it('prefixes errors as Consul does, except for streaming reads', () => {
    const bad = params('filter=((((');
    assert.match(refusal(() => readFilter(bad, 'health/service')).body, /^Failed to create boolean expression evaluator: 1:5 \(4\): no match found/);
    assert.match(refusal(() => readFilter(bad, 'health/service', { streaming: true })).body, /^1:5 \(4\): no match found/);
    assert.deepEqual(refusal(() => readFilter(params('filter=Nope==1'), 'catalog/nodes')), {
      status: 500,
      body: 'Failed to create boolean expression evaluator: Selector "Nope" is not valid',
    });
  });

  it('checks agent/checks selectors only when it meets a check, without the prefix', () => {
    const filter = readFilter(params('filter=Nope==1'), 'agent/checks');
    assert.deepEqual(filter.apply([]), []);
    assert.deepEqual(refusal(() => filter.apply([{ Status: 'passing' }])), { status: 500, body: 'Selector "Nope" is not valid' });
  });
});
