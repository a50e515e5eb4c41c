import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { changedServices, checksSnapshot } from '../../src/consul/watch-changes.js';
import type { HealthCheck } from '../../src/consul/index.js';

function check(node: string, id: string, service: string, modifyIndex: number): HealthCheck {
  return {
    Node: node, CheckID: id, Name: id, Status: 'passing', Notes: '', Output: '', ServiceID: service === '' ? '' : `${service}-1`,
    ServiceName: service, ServiceTags: [], Type: 'ttl', ExposedPort: 0, Definition: {} as HealthCheck['Definition'], CreateIndex: 1, ModifyIndex: modifyIndex,
  };
}

const sorted = (set: Set<string>): string[] => [...set].sort();

describe('which services changed between two snapshots of every check (/v1/health/state/any)', () => {
  const base = [check('n1', 'serfHealth', '', 5), check('n1', 'orders', 'orders', 10), check('n2', 'billing', 'billing', 11), check('n2', 'serfHealth', '', 6)];

  it('names nothing when no check moved', () => {
    assert.deepEqual(sorted(changedServices(checksSnapshot(base), checksSnapshot([...base].reverse()))), []);
  });

  it('names the service whose check ModifyIndex moved (a status change)', () => {
    const after = base.map((c) => (c.CheckID === 'orders' ? check('n1', 'orders', 'orders', 20) : c));
    assert.deepEqual(sorted(changedServices(checksSnapshot(base), checksSnapshot(after))), ['orders']);
  });

  it('names a service whose check appeared (an instance registered) or disappeared (deregistered)', () => {
    const added = [...base, check('n2', 'search', 'search', 30)];
    assert.deepEqual(sorted(changedServices(checksSnapshot(base), checksSnapshot(added))), ['search']);
    const removed = base.filter((c) => c.CheckID !== 'billing');
    assert.deepEqual(sorted(changedServices(checksSnapshot(base), checksSnapshot(removed))), ['billing']);
  });

  it('names every service on a node whose node check moved (serfHealth failing fails them all)', () => {
    const after = base.map((c) => (c.Node === 'n2' && c.CheckID === 'serfHealth' ? check('n2', 'serfHealth', '', 40) : c));
    assert.deepEqual(sorted(changedServices(checksSnapshot(base), checksSnapshot(after))), ['billing']);
  });

  it('reads a null body (no checks at all) as an empty snapshot', () => {
    assert.equal(checksSnapshot(null).checks.size, 0);
    assert.deepEqual(sorted(changedServices(checksSnapshot(null), checksSnapshot([check('n1', 'a', 'a', 1)]))), ['a']);
  });

  it('never misses a service whose checks differ, and never names one whose checks are all the same', () => {
    const checkArb = fc.record({ node: fc.constantFrom('n1', 'n2'), id: fc.constantFrom('c1', 'c2', 'c3', 'c4'), service: fc.constantFrom('a', 'b', 'c'), index: fc.integer({ min: 1, max: 4 }) });
    fc.assert(fc.property(fc.array(checkArb, { maxLength: 8 }), fc.array(checkArb, { maxLength: 8 }), (xs, ys) => {
      const toChecks = (list: typeof xs): HealthCheck[] => {
        const byKey = new Map<string, HealthCheck>();
        for (const x of list) byKey.set(`${x.node}/${x.id}`, check(x.node, x.id, x.service, x.index));
        return [...byKey.values()];
      };
      const before = toChecks(xs);
      const after = toChecks(ys);
      const changed = changedServices(checksSnapshot(before), checksSnapshot(after));
      const signature = (list: HealthCheck[], service: string): string => list.filter((c) => c.ServiceName === service).map((c) => `${c.Node}/${c.CheckID}@${c.ModifyIndex}`).sort().join(',');
      for (const service of ['a', 'b', 'c']) {
        assert.equal(changed.has(service), signature(before, service) !== signature(after, service), service);
      }
    }));
  });
});
