import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { HealthCheck, ServiceEntry } from '../../src/consul/index.js';
import {
  formatChange,
  formatVerdictTable,
  instanceVerdicts,
  NODE_MAINTENANCE_CHECK,
  SERVICE_MAINTENANCE_PREFIX,
  verdictChanges,
} from '../../src/cli/instance-verdicts.js';

function check(id: string, status: string, extra: Partial<HealthCheck> = {}): HealthCheck {
  return { Node: 'n1', CheckID: id, Name: id, Status: status, Notes: '', Output: '', ServiceID: '', ServiceName: 'shop', ...extra } as HealthCheck;
}

function entry(id: string, checks: HealthCheck[], address = '127.0.0.1', port = 4000): ServiceEntry {
  return {
    Node: { Node: 'n1', Address: '10.0.0.9' },
    Service: { ID: id, Service: 'shop', Address: address, Port: port, Tags: ['v1'], Meta: { weight: '2' } },
    Checks: checks,
  } as unknown as ServiceEntry;
}

/** Consul's rule for ?passing (agent/health_endpoint.go filterNonPassing), written out independently. */
const consulPassing = (entries: ServiceEntry[]) => entries.filter((e) => e.Checks.every((c) => c.Status === 'passing')).map((e) => e.Service.ID).sort();

describe('instanceVerdicts: what a client does with each instance Consul reports', () => {
  it('calls an instance whose every check passes, its node\'s included, and one with no check at all', () => {
    const [a, b] = instanceVerdicts([entry('a', [check('serfHealth', 'passing'), check('service:a', 'passing')]), entry('b', [])]);
    assert.deepEqual([a!.health, a!.client, a!.reason], ['passing', 'call', '']);
    assert.deepEqual([b!.health, b!.client], ['passing', 'call']);
  });

  it('skips one with a warning or a critical check, naming the check and what it said', () => {
    const [c, w] = instanceVerdicts([
      entry('w', [check('service:w', 'warning', { Name: 'disk', Output: 'slow\n  disk' })]),
      entry('c', [check('service:c', 'critical', { Name: 'https', Output: 'Get "https://127.0.0.1:4000/health": dial tcp: connection refused' })]),
    ]);
    assert.deepEqual([w!.health, w!.client, w!.reason], ['warning', 'skip', "check 'disk' is warning: slow disk"]);
    assert.equal(c!.reason, 'check \'https\' is critical: Get "https://127.0.0.1:4000/health": dial tcp: connection refused');
  });

  it('says maintenance, with its reason, rather than the critical check maintenance is made of', () => {
    const [n, s] = instanceVerdicts([
      entry('s', [check('service:s', 'critical'), check(`${SERVICE_MAINTENANCE_PREFIX}s`, 'critical', { Notes: 'upgrading' })]),
      entry('n', [check(NODE_MAINTENANCE_CHECK, 'critical', { Notes: 'kernel' }), check(`${SERVICE_MAINTENANCE_PREFIX}n`, 'critical')]),
    ]);
    assert.deepEqual([s!.health, s!.client, s!.reason], ['maintenance', 'skip', 'service in maintenance: upgrading']);
    assert.equal(n!.health, 'maintenance', 'service maintenance outranks node maintenance: it is the instance\'s own');
  });

  it('reports the address a client connects to: the node\'s when the service has none, IPv6 in brackets', () => {
    const [a, b] = instanceVerdicts([entry('a', [], ''), entry('b', [], '::1', 4443)]);
    assert.equal(a!.address, '10.0.0.9:4000');
    assert.equal(b!.address, '[::1]:4443');
  });

  it('calls exactly the instances Consul\'s ?passing would give the client, whatever the checks (property)', () => {
    const status = fc.constantFrom('passing', 'warning', 'critical');
    const checkId = fc.constantFrom('serfHealth', 'service:x', 'disk', NODE_MAINTENANCE_CHECK, `${SERVICE_MAINTENANCE_PREFIX}x`);
    const entries = fc.uniqueArray(
      fc.record({ id: fc.stringMatching(/^[a-z]{1,6}$/), checks: fc.array(fc.tuple(checkId, status), { maxLength: 4 }) }),
      { selector: (e) => e.id, maxLength: 8 },
    );
    fc.assert(
      fc.property(entries, (list) => {
        // Consul makes maintenance checks critical; keep the generated ones honest.
        const made = list.map((e) => entry(e.id, e.checks.map(([id, s]) => check(id, id.startsWith('_') ? 'critical' : s))));
        const verdicts = instanceVerdicts(made);
        assert.deepEqual(verdicts.filter((v) => v.client === 'call').map((v) => v.id), consulPassing(made));
        for (const v of verdicts) assert.equal(v.reason === '', v.client === 'call');
      }),
    );
  });
});

describe('verdictChanges: one change per instance that appeared, changed or left', () => {
  const healthy = instanceVerdicts([entry('a', [check('service:a', 'passing')])])[0]!;
  const sick = instanceVerdicts([entry('a', [check('service:a', 'critical', { Output: 'refused' })])])[0]!;

  it('writes each kind of change as one line', () => {
    assert.equal(formatChange({ kind: 'added', now: healthy }), '+ a at 127.0.0.1:4000: passing, a client calls it');
    assert.equal(formatChange({ kind: 'changed', before: healthy, now: sick }), "~ a at 127.0.0.1:4000: passing -> critical, a client skips it (check 'service:a' is critical: refused)");
    assert.equal(formatChange({ kind: 'removed', before: sick }), '- a at 127.0.0.1:4000: deregistered');
  });

  it('ignores what a user would not see change (the list order, a re-registration that changed nothing)', () => {
    const two = instanceVerdicts([entry('a', []), entry('b', [])]);
    assert.deepEqual(verdictChanges(two, [...two].reverse()), []);
  });

  it('leads from the old list to the new one (property)', () => {
    const list = fc.uniqueArray(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), status: fc.constantFrom('passing', 'warning', 'critical'), port: fc.constantFrom(1, 2) }), { selector: (e) => e.id });
    const verdictsOf = (l: { id: string; status: string; port: number }[]) => instanceVerdicts(l.map((e) => entry(e.id, [check(`service:${e.id}`, e.status)], '127.0.0.1', e.port)));
    fc.assert(
      fc.property(list, list, (before, after) => {
        const [old, now] = [verdictsOf(before), verdictsOf(after)];
        const state = new Map(old.map((v) => [v.id, v]));
        for (const change of verdictChanges(old, now)) {
          if (change.kind === 'removed') {
            assert.ok(state.delete(change.before.id));
          } else {
            assert.equal(state.has(change.now.id), change.kind === 'changed');
            state.set(change.now.id, change.now);
          }
        }
        assert.deepEqual([...state.values()].sort((x, y) => x.id.localeCompare(y.id)), now);
      }),
    );
  });
});

describe('formatVerdictTable', () => {
  it('says how many are called and skipped, then one aligned row per instance', () => {
    const text = formatVerdictTable('shop', instanceVerdicts([entry('shop-1', []), entry('shop-22', [check('service:shop-22', 'warning')])]));
    assert.equal(
      text,
      [
        'service shop: 2 instances, 1 called by a client, 1 skipped',
        'INSTANCE  ADDRESS         NODE  HEALTH   CLIENT  WHY',
        'shop-1    127.0.0.1:4000  n1    passing  call',
        "shop-22   127.0.0.1:4000  n1    warning  skip    check 'service:shop-22' is warning",
        '',
      ].join('\n'),
    );
  });
});
