import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { newCatalog, service, ttlCheck } from './fixtures.js';

describe('catalog table indexes (what nodes and checks reads answer and watch)', () => {
  it('raises the checks index on a check status change, a new check and a removed one, not on an output-only change or a service without checks', () => {
    const catalog = newCatalog();
    const start = catalog.checksIndex();
    catalog.registerService(service('plain', 'plain'), []);
    assert.equal(catalog.checksIndex(), start, 'a service without checks leaves the checks table alone');
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    const created = catalog.checksIndex();
    assert.ok(created > start);
    catalog.updateCheck('service:web-1', 'critical', 'still down');
    assert.equal(catalog.checksIndex(), created, 'an output-only change stays on the agent');
    catalog.updateCheck('service:web-1', 'passing', 'up');
    const passed = catalog.checksIndex();
    assert.ok(passed > created);
    catalog.enableServiceMaintenance('web-1', '');
    assert.ok(catalog.checksIndex() > passed);
    catalog.deregisterService('web-1');
    assert.equal(catalog.checksIndex(), catalog.currentIndex());
  });

  it('raises the nodes index (nodes and services tables) on registrations, not on check changes', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    const registered = catalog.nodesIndex();
    assert.equal(registered, catalog.currentIndex());
    catalog.updateCheck('service:web-1', 'passing', '');
    assert.equal(catalog.nodesIndex(), registered);
    catalog.deregisterService('web-1');
    assert.equal(catalog.nodesIndex(), catalog.currentIndex());
  });

  it('lists every check with the serf check, sorted by check ID as Consul\'s checks table', () => {
    fc.assert(
      // A registered check named serfHealth would clash with the node's own check.
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-zA-Z0-9:_-]{1,12}$/), { maxLength: 8 }).map((ids) => ids.filter((id) => id !== 'serfHealth')), (ids) => {
        const catalog = newCatalog();
        ids.forEach((id, i) => catalog.registerService(service(`s${i}`, 'web'), [ttlCheck(id)]));
        const listed = catalog.catalogChecks().map((c) => c.checkId);
        const expected = [...ids, 'serfHealth'].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        return JSON.stringify(listed) === JSON.stringify(expected);
      }),
    );
  });
});
