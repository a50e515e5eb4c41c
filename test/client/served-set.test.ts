import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Instance } from '../../src/client/instance.js';
import { ServedSet } from '../../src/client/served-set.js';

function instances(count: number): Instance[] {
  return Array.from({ length: count }, (_, i) => ({ id: `api-${i}`, service: 'api', address: '127.0.0.1', port: 4000 + i, tags: [], meta: {} }));
}

const options = { maxStalenessMs: 60_000, emptyAfterOutageGraceMs: 10_000 };

function servedIds(set: ServedSet, now: number): string[] | string {
  const serving = set.serve(now);
  return serving.kind === 'serving' ? serving.instances.map((i) => i.id) : serving.kind;
}

describe('the set of instances a client serves', () => {
  it('knows nothing before the first answer', () => {
    assert.equal(new ServedSet(options).serve(0).kind, 'unknown');
  });

  it('serves the latest answer and says whether it changed', () => {
    const set = new ServedSet(options);
    assert.equal(set.answer(instances(2), 0).kind, 'changed');
    assert.equal(set.answer(instances(2), 1).kind, 'unchanged');
    assert.equal(set.answer(instances(3), 2).kind, 'changed');
    assert.deepEqual(servedIds(set, 3), ['api-0', 'api-1', 'api-2']);
  });

  it('keeps serving the last known set while Consul cannot be asked, and says how stale it is', () => {
    const set = new ServedSet(options);
    set.answer(instances(3), 0);
    assert.equal(set.failed(1_000), true, 'the first failure of an outage');
    assert.equal(set.failed(2_000), false, 'later failures of the same outage');
    const serving = set.serve(31_000);
    assert.equal(serving.kind, 'serving');
    assert.equal(serving.kind === 'serving' && serving.staleMs, 30_000);
  });

  it('refuses to serve a set older than the staleness limit', () => {
    const set = new ServedSet(options);
    set.answer(instances(3), 0);
    set.failed(1_000);
    const serving = set.serve(61_001);
    assert.deepEqual(serving, { kind: 'too-stale', staleMs: 60_001, known: 3 });
  });

  it('is fresh again as soon as Consul answers, even with an unchanged list', () => {
    const set = new ServedSet(options);
    set.answer(instances(3), 0);
    set.failed(1_000);
    set.succeeded(90_000);
    assert.deepEqual(servedIds(set, 90_001), ['api-0', 'api-1', 'api-2']);
    assert.equal(set.failing, false);
  });

  it('holds back an empty answer right after an outage, while the instances register again', () => {
    const set = new ServedSet(options);
    set.answer(instances(3), 0);
    set.failed(1_000);
    assert.deepEqual(set.answer([], 11_000), { kind: 'held', known: 3, graceMs: 10_000 });
    assert.deepEqual(servedIds(set, 15_000), ['api-0', 'api-1', 'api-2']);
    assert.equal(set.answer(instances(1), 16_000).kind, 'changed', 'a non-empty answer replaces the held set');
    assert.deepEqual(servedIds(set, 16_001), ['api-0']);
  });

  it('empties the set once the grace after an outage has passed', () => {
    const set = new ServedSet(options);
    set.answer(instances(3), 0);
    set.failed(1_000);
    set.answer([], 11_000);
    assert.deepEqual(servedIds(set, 20_999), ['api-0', 'api-1', 'api-2']);
    assert.deepEqual(servedIds(set, 21_000), []);
  });

  it('empties the set at once when no outage came before (the instances really left)', () => {
    const set = new ServedSet(options);
    set.answer(instances(3), 0);
    assert.equal(set.answer([], 5_000).kind, 'changed');
    assert.deepEqual(servedIds(set, 5_001), []);
  });

  it('never serves an empty set during the grace after an outage when one was known (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.record({ after: fc.integer({ min: 0, max: 2_000 }), size: fc.integer({ min: 0, max: 4 }) }), { maxLength: 20 }),
        (known, answers) => {
          const set = new ServedSet(options);
          set.answer(instances(known), 0);
          set.failed(1);
          set.succeeded(2);
          let now = 2;
          for (const { after, size } of answers) {
            now += after;
            if (now - 2 >= options.emptyAfterOutageGraceMs) break;
            set.answer(instances(size), now);
            const serving = set.serve(now);
            assert.equal(serving.kind, 'serving');
            assert.ok(serving.kind === 'serving' && serving.instances.length > 0);
          }
        },
      ),
    );
  });
});
