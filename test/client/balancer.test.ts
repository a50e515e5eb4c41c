import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createBalancer, randomBalancer, roundRobinBalancer } from '../../src/client/balancer.js';
import type { Instance } from '../../src/client/instance.js';

function instances(count: number): Instance[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `api-${i}`,
    service: 'api',
    address: '127.0.0.1',
    port: 4000 + i,
    tags: [],
    meta: {},
  }));
}

describe('round-robin balancer', () => {
  it('takes each instance in turn', () => {
    const set = instances(3);
    const balancer = roundRobinBalancer(() => 0);
    const picked = Array.from({ length: 6 }, () => balancer.pick(set)?.id);
    assert.deepEqual(picked, ['api-0', 'api-1', 'api-2', 'api-0', 'api-1', 'api-2']);
  });

  it('starts at a random place, so one-shot clients spread over the fleet', () => {
    const set = instances(4);
    assert.equal(roundRobinBalancer(() => 0.5).pick(set)?.id, 'api-2');
    assert.equal(roundRobinBalancer(() => 0.99).pick(set)?.id, 'api-3');
    const firstPicks = new Set(Array.from({ length: 200 }, () => roundRobinBalancer().pick(set)?.id));
    assert.equal(firstPicks.size, 4);
  });

  it('picks nothing from an empty set', () => {
    assert.equal(roundRobinBalancer().pick([]), undefined);
  });

  it('keeps going when the set shrinks under its cursor', () => {
    const balancer = roundRobinBalancer();
    balancer.pick(instances(5));
    balancer.pick(instances(5));
    balancer.pick(instances(5));
    const smaller = instances(2);
    assert.ok(smaller.includes(balancer.pick(smaller) as Instance));
  });

  it('is fair: over k*n picks of a fixed set each instance is picked exactly k times', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 50 }), (n, k, warmup) => {
        const set = instances(n);
        const balancer = roundRobinBalancer();
        // Earlier picks from other sets must not spoil fairness for this one.
        for (let i = 0; i < warmup; i += 1) balancer.pick(instances((i % 7) + 1));
        const counts = new Map<string, number>();
        for (let i = 0; i < k * n; i += 1) {
          const id = balancer.pick(set)?.id ?? 'none';
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        assert.equal(counts.size, n);
        for (const count of counts.values()) assert.equal(count, k);
      }),
    );
  });
});

describe('random balancer', () => {
  it('uses the injected random source to choose', () => {
    const set = instances(4);
    assert.equal(randomBalancer(() => 0).pick(set)?.id, 'api-0');
    assert.equal(randomBalancer(() => 0.5).pick(set)?.id, 'api-2');
    assert.equal(randomBalancer(() => 0.999).pick(set)?.id, 'api-3');
  });

  it('picks nothing from an empty set', () => {
    assert.equal(randomBalancer(() => 0.3).pick([]), undefined);
  });

  it('reaches every instance given enough draws of Math.random', () => {
    const set = instances(3);
    const balancer = createBalancer('random');
    const seen = new Set<string>();
    for (let i = 0; i < 500 && seen.size < 3; i += 1) seen.add(balancer.pick(set)?.id ?? 'none');
    assert.deepEqual([...seen].sort(), ['api-0', 'api-1', 'api-2']);
  });
});

describe('every balancer', () => {
  it('never picks an instance outside the set it is given, whatever its random source returns', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('round-robin' as const, 'random' as const),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.double(), { minLength: 1, maxLength: 50 }),
        (kind, setSizes, draws) => {
          let draw = 0;
          const balancer = createBalancer(kind, { random: () => draws[draw++ % draws.length] as number });
          for (const size of setSizes) {
            const set = instances(size);
            const picked = balancer.pick(set);
            if (size === 0) assert.equal(picked, undefined);
            else assert.ok(picked !== undefined && set.includes(picked), `picked ${String(picked?.id)} from ${size}`);
          }
        },
      ),
    );
  });
});
