import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { agentServiceView } from '../../src/registry/views.js';
import { healthServiceEntries, catalogServiceEntries } from '../../src/registry/views.js';
import { newCatalog, service, ttlCheck } from './fixtures.js';

type Entry = { Service: { ID: string; Tags: string[] }; Checks: { CheckID: string; Status: string; Output: string }[] };

describe('registry catalog', () => {
  it('raises the index by one on every registration, check change and deregistration', () => {
    const catalog = newCatalog();
    const start = catalog.currentIndex();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    assert.equal(catalog.currentIndex(), start + 1);
    catalog.updateCheck('service:web-1', 'passing', 'ok');
    assert.equal(catalog.currentIndex(), start + 2);
    assert.equal(catalog.deregisterService('web-1'), true);
    assert.equal(catalog.currentIndex(), start + 3);
  });

  it('remembers each service and check create and modify index', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    const created = catalog.currentIndex();
    catalog.updateCheck('service:web-1', 'passing', '');
    const check = catalog.getCheck('service:web-1');
    assert.equal(check?.createIndex, created);
    assert.equal(check?.modifyIndex, created + 1);
    assert.equal(catalog.getService('web-1')?.modifyIndex, created);
  });

  it('does not raise the index when the same registration is sent again', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    const index = catalog.currentIndex();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    assert.equal(catalog.currentIndex(), index);
  });

  it('keeps a check status and output across re-registration, as Consul does', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    catalog.updateCheck('service:web-1', 'passing', 'fine');
    catalog.registerService(service('web-1', 'web', { tags: ['v2'] }), [ttlCheck('service:web-1')]);
    assert.equal(catalog.getCheck('service:web-1')?.status, 'passing');
    assert.equal(catalog.getCheck('service:web-1')?.output, 'fine');
  });

  it('removes checks not named again only with replaceExistingChecks', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('a'), ttlCheck('b')]);
    catalog.registerService(service('web-1', 'web'), [ttlCheck('a')]);
    assert.deepEqual(catalog.checksOfService('web-1').map((c) => c.checkId), ['a', 'b']);
    catalog.registerService(service('web-1', 'web'), [ttlCheck('a')], { replaceExistingChecks: true });
    assert.deepEqual(catalog.checksOfService('web-1').map((c) => c.checkId), ['a']);
  });

  it('an output-only change stays on the agent and does not raise the index', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1', { status: 'passing' })]);
    const index = catalog.currentIndex();
    catalog.updateCheck('service:web-1', 'passing', 'new output');
    assert.equal(catalog.currentIndex(), index);
    assert.equal(catalog.getCheck('service:web-1')?.output, 'new output');
    assert.equal(catalog.getCheck('service:web-1')?.syncedOutput, '');
  });

  it('indexes health per service name: a change to one service does not move another', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    catalog.registerService(service('db-1', 'db'), [ttlCheck('service:db-1')]);
    const webIndex = catalog.healthIndex('web');
    catalog.updateCheck('service:db-1', 'passing', '');
    assert.equal(catalog.healthIndex('web'), webIndex);
    assert.equal(catalog.healthIndex('db'), catalog.currentIndex());
  });

  it('check changes move the health index but not the catalog service index', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('service:web-1')]);
    const registered = catalog.serviceIndex('web');
    catalog.updateCheck('service:web-1', 'passing', '');
    assert.equal(catalog.serviceIndex('web'), registered);
    assert.equal(catalog.servicesIndex(), registered);
    assert.equal(catalog.healthIndex('web'), registered + 1);
  });

  it('a deregistered name keeps the index of its removal, so watchers see the change', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), []);
    catalog.deregisterService('web-1');
    assert.equal(catalog.healthIndex('web'), catalog.currentIndex());
    assert.equal(catalog.deregisterService('web-1'), false);
  });

  it('a name never seen answers with the index of the whole services table', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), []);
    assert.equal(catalog.healthIndex('nope'), catalog.servicesIndex());
  });

  it('emits one change event per change', () => {
    const catalog = newCatalog();
    const kinds: string[] = [];
    catalog.onChange((c) => kinds.push(c.kind));
    catalog.registerService(service('web-1', 'web'), [ttlCheck('c')]);
    catalog.updateCheck('c', 'passing', '');
    catalog.updateCheck('c', 'passing', 'same status');
    catalog.deregisterService('web-1');
    assert.deepEqual(kinds, ['service-registered', 'check-updated', 'service-deregistered']);
  });

  it('lists the built-in consul service and every name with its sorted, distinct tags', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web', { tags: ['b', 'a'] }), []);
    catalog.registerService(service('web-2', 'web', { tags: ['a', 'c'] }), []);
    assert.deepEqual(catalog.serviceNames(), { consul: [], web: ['a', 'b', 'c'] });
  });
});

describe('catalog index (property)', () => {
  it('rises by exactly one per change event, never falls, and no query index runs ahead of it', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('register' as const), n: fc.integer({ min: 0, max: 3 }), tag: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('deregister' as const), n: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('update' as const), n: fc.integer({ min: 0, max: 3 }), status: fc.constantFrom('passing', 'warning', 'critical') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const catalog = newCatalog();
        let events = 0;
        catalog.onChange(() => (events += 1));
        const start = catalog.currentIndex();
        let last = start;
        for (const o of ops) {
          const id = `s${o.n}`;
          const name = o.n % 2 === 0 ? 'even' : 'odd';
          if (o.kind === 'register') catalog.registerService(service(id, name, { tags: [o.tag] }), [ttlCheck(`c${o.n}`)]);
          else if (o.kind === 'deregister') catalog.deregisterService(id);
          else catalog.updateCheck(`c${o.n}`, o.status as 'passing', '');
          const now = catalog.currentIndex();
          if (now < last) return false;
          last = now;
          for (const q of ['even', 'odd', 'none']) {
            if (catalog.healthIndex(q) > now || catalog.serviceIndex(q) > now || catalog.healthIndex(q) < catalog.serviceIndex(q)) return false;
          }
        }
        return catalog.currentIndex() - start === events;
      }),
    );
  });
});

describe('health/service results', () => {
  it('writes Consul\'s shapes: null Meta and no Port when empty on health, {} and 0 on the agent, tagged addresses for an IP', () => {
    const catalog = newCatalog();
    catalog.registerService(service('bare', 'bare', { port: 0 }), []);
    catalog.registerService(service('ip', 'ip', { address: '10.0.0.7', port: 81 }), []);
    const [bare] = healthServiceEntries(catalog, 'bare') as { Service: Record<string, unknown> }[];
    assert.equal(bare?.Service.Meta, null);
    assert.equal('Port' in (bare?.Service ?? {}), false);
    assert.equal('TaggedAddresses' in (bare?.Service ?? {}), false);
    const agentView = JSON.parse(JSON.stringify(agentServiceView(catalog.getService('bare')!, 'dc1'))) as Record<string, unknown>;
    assert.deepEqual([agentView.Meta, agentView.Port, agentView.Datacenter], [{}, 0, 'dc1']);
    const [ip] = healthServiceEntries(catalog, 'ip') as { Service: Record<string, unknown> }[];
    assert.deepEqual(ip?.Service.TaggedAddresses, { lan_ipv4: { Address: '10.0.0.7', Port: 81 }, wan_ipv4: { Address: '10.0.0.7', Port: 81 } });
  });

  it('passing drops an instance with any non-passing check, warning included', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('c1', { status: 'passing' })]);
    catalog.registerService(service('web-2', 'web'), [ttlCheck('c2', { status: 'warning' })]);
    catalog.registerService(service('web-3', 'web'), [ttlCheck('c3')]);
    const all = healthServiceEntries(catalog, 'web') as Entry[];
    assert.deepEqual(all.map((e) => e.Service.ID), ['web-1', 'web-2', 'web-3']);
    const passing = healthServiceEntries(catalog, 'web', { passing: true }) as Entry[];
    assert.deepEqual(passing.map((e) => e.Service.ID), ['web-1']);
  });

  it('includes the node serf check before the service checks', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('c1')]);
    const [entry] = healthServiceEntries(catalog, 'web') as Entry[];
    assert.deepEqual(entry?.Checks.map((c) => c.CheckID), ['serfHealth', 'c1']);
  });

  it('matches tags case-insensitively and requires every tag given', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web', { tags: ['Primary', 'v1'] }), []);
    catalog.registerService(service('web-2', 'web', { tags: ['v1'] }), []);
    assert.deepEqual((healthServiceEntries(catalog, 'web', { tags: ['primary'] }) as Entry[]).map((e) => e.Service.ID), ['web-1']);
    assert.deepEqual((healthServiceEntries(catalog, 'web', { tags: ['v1', 'PRIMARY'] }) as Entry[]).map((e) => e.Service.ID), ['web-1']);
    assert.equal(catalogServiceEntries(catalog, 'web', ['v1']).length, 2);
  });

  it('shows the output of the last status change, not a later output-only update', () => {
    const catalog = newCatalog();
    catalog.registerService(service('web-1', 'web'), [ttlCheck('c1')]);
    catalog.updateCheck('c1', 'passing', 'first');
    catalog.updateCheck('c1', 'passing', 'second');
    const [entry] = healthServiceEntries(catalog, 'web') as Entry[];
    assert.equal(entry?.Checks[1]?.Output, 'first');
  });
});
