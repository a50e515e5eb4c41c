import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aggregatedHealth, serviceSummaries } from '../../../src/registry/ui/summary.js';
import { newCatalog, service, ttlCheck } from '../fixtures.js';

describe('aggregatedHealth (an instance is as healthy as its worst check)', () => {
  it('is passing with no checks, and critical over warning over passing', () => {
    assert.equal(aggregatedHealth([]), 'passing');
    assert.equal(aggregatedHealth(['passing', 'warning']), 'warning');
    assert.equal(aggregatedHealth(['warning', 'critical', 'passing']), 'critical');
    assert.equal(aggregatedHealth(['maintenance']), 'critical');
  });

  it('never depends on the order of the checks, and an unknown status counts as critical', () => {
    const status = fc.constantFrom('passing', 'warning', 'critical', 'maintenance', 'bogus');
    fc.assert(
      fc.property(fc.array(status), (statuses) => {
        const health = aggregatedHealth(statuses);
        assert.equal(aggregatedHealth([...statuses].reverse()), health);
        const expected = statuses.some((s) => s !== 'passing' && s !== 'warning') ? 'critical' : statuses.includes('warning') ? 'warning' : 'passing';
        assert.equal(health, expected);
      }),
    );
  });
});

describe('serviceSummaries (the UI list: instances of each service counted by health)', () => {
  it('counts instances and checks of each service, with the node check, and lists the consul service', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web', { tags: ['b', 'a'] }), [ttlCheck('c1', { status: 'passing' })]);
    catalog.registerService(service('web-2', 'web', { tags: ['a'] }), [ttlCheck('c2', { status: 'passing' })]);
    catalog.registerService(service('web-3', 'web'), [ttlCheck('c3', { status: 'warning' }), ttlCheck('c4', { status: 'passing' })]);
    catalog.registerService(service('db-1', 'db'), [ttlCheck('c5', { status: 'critical' })]);

    const summaries = serviceSummaries(catalog);
    assert.deepEqual(summaries.map((s) => s.Name), ['consul', 'db', 'web']);
    const web = summaries.find((s) => s.Name === 'web')!;
    assert.deepEqual(
      { ...web },
      {
        Name: 'web',
        Datacenter: 'dc1',
        Tags: ['a', 'b'],
        Nodes: ['node1'],
        InstanceCount: 3,
        ChecksPassing: 3 + 3, // c1, c2, c4 and the node's serf check once per instance
        ChecksWarning: 1,
        ChecksCritical: 0,
        InstancesPassing: 2,
        InstancesWarning: 1,
        InstancesCritical: 0,
        InstancesInMaintenance: 0,
      },
    );
    const db = summaries.find((s) => s.Name === 'db')!;
    assert.equal(db.InstancesCritical, 1);
    assert.equal(summaries.find((s) => s.Name === 'consul')!.InstancesPassing, 1);
  });

  it('counts an instance in maintenance as critical and says so', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('c1', { status: 'passing' })]);
    catalog.enableServiceMaintenance('web-1', 'deploying');
    const web = serviceSummaries(catalog).find((s) => s.Name === 'web')!;
    assert.equal(web.InstancesCritical, 1);
    assert.equal(web.InstancesInMaintenance, 1);
    catalog.disableServiceMaintenance('web-1');
    const after = serviceSummaries(catalog).find((s) => s.Name === 'web')!;
    assert.equal(after.InstancesPassing, 1);
    assert.equal(after.InstancesInMaintenance, 0);
  });

  it('drops a service once its last instance is deregistered', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), []);
    assert.ok(serviceSummaries(catalog).some((s) => s.Name === 'web'));
    catalog.deregisterService('web-1');
    assert.ok(!serviceSummaries(catalog).some((s) => s.Name === 'web'));
  });
});
