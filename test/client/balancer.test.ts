import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BALANCER_KINDS,
  DEFAULT_BALANCER,
  MAX_WEIGHT,
  createBalancer,
  instanceWeight,
  isBalancerKind,
  leastRequestBalancer,
  nextPeakEwma,
  peakEwmaBalancer,
  randomBalancer,
  roundRobinBalancer,
  type Balancer,
  type BalancerKind,
} from '../../src/client/balancer.js';
import type { Instance } from '../../src/client/instance.js';

function instances(count: number, weights: readonly (number | string | undefined)[] = []): Instance[] {
  return Array.from({ length: count }, (_, i) => {
    const weight = weights[i];
    const meta: Record<string, string> = weight === undefined ? {} : { weight: String(weight) };
    return {
      id: `api-${i}`,
      service: 'api',
      address: '127.0.0.1',
      port: 4000 + i,
      tags: [],
      meta,
    };
  });
}

/** A random source that returns the given values in turn, over and over. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

/** A small seeded PRNG (mulberry32), so statistical tests are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function countPicks(balancer: Balancer, set: readonly Instance[], picks: number, avoid?: ReadonlySet<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i += 1) {
    const id = balancer.pick(set, avoid)?.id ?? 'none';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Starts `n` requests to `instance` and leaves them outstanding. */
function load(balancer: Balancer, instance: Instance, n: number): void {
  for (let i = 0; i < n; i += 1) balancer.start(instance);
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

describe('instance weights', () => {
  it('reads a positive integer from the service meta "weight"', () => {
    assert.equal(instanceWeight(instances(1, ['3'])[0] as Instance), 3);
    assert.equal(instanceWeight(instances(1, ['1'])[0] as Instance), 1);
    assert.equal(instanceWeight(instances(1, ['12'])[0] as Instance), 12);
  });

  it('counts a missing or invalid weight as 1', () => {
    for (const bad of [undefined, '', '0', '-2', '1.5', 'abc', '3x', '1e3', 'Infinity', ' ']) {
      assert.equal(instanceWeight(instances(1, [bad])[0] as Instance), 1, `weight ${String(bad)}`);
    }
  });

  it('clamps an enormous weight to MAX_WEIGHT instead of overflowing', () => {
    assert.equal(instanceWeight(instances(1, ['99999999'])[0] as Instance), MAX_WEIGHT);
    assert.equal(instanceWeight(instances(1, ['9'.repeat(400)])[0] as Instance), MAX_WEIGHT);
  });
});

describe('balancer kinds', () => {
  it('defaults to peak-EWMA and lists all four kinds', () => {
    assert.equal(DEFAULT_BALANCER, 'peak-ewma');
    assert.deepEqual([...BALANCER_KINDS].sort(), ['least-request', 'peak-ewma', 'random', 'round-robin']);
    for (const kind of BALANCER_KINDS) assert.equal(isBalancerKind(kind), true);
    assert.equal(isBalancerKind('fastest'), false);
    assert.equal(isBalancerKind(undefined), false);
  });

  it('createBalancer builds each kind, and each picks from the set', () => {
    const set = instances(3);
    for (const kind of BALANCER_KINDS) {
      const picked = createBalancer(kind).pick(set);
      assert.ok(picked !== undefined && set.includes(picked), kind);
    }
  });
});

describe('smooth weighted round-robin', () => {
  it('interleaves heavy and light instances the way nginx does (5, 1, 1 → a a b a c a a)', () => {
    const set = instances(3, [5, 1, 1]);
    const balancer = roundRobinBalancer(() => 0);
    const picked = Array.from({ length: 14 }, () => balancer.pick(set)?.id);
    const a = 'api-0';
    const b = 'api-1';
    const c = 'api-2';
    assert.deepEqual(picked, [a, a, b, a, c, a, a, a, a, b, a, c, a, a]);
  });

  it('over k whole cycles picks each instance exactly weight × k times, from any start', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (weights, k, start) => {
          const set = instances(weights.length, weights);
          const total = weights.reduce((sum, w) => sum + w, 0);
          const counts = countPicks(roundRobinBalancer(() => start), set, k * total);
          weights.forEach((w, i) => assert.equal(counts.get(`api-${i}`), w * k));
        },
      ),
    );
  });

  it('spreads first picks in proportion to weight, so one-shot clients honour weights too', () => {
    const set = instances(2, [3, 1]);
    const firsts = [0.1, 0.35, 0.6, 0.85].map((r) => roundRobinBalancer(() => r).pick(set)?.id);
    assert.equal(firsts.filter((id) => id === 'api-0').length, 3);
    assert.equal(firsts.filter((id) => id === 'api-1').length, 1);
  });

  it('starts its cycle over when an instance joins or its weight changes', () => {
    const balancer = roundRobinBalancer(() => 0);
    balancer.pick(instances(2, [1, 1]));
    const grown = instances(3, [1, 1, 2]);
    assert.deepEqual(Array.from({ length: 4 }, () => balancer.pick(grown)?.id), ['api-2', 'api-0', 'api-1', 'api-2']);
  });

  it('lets avoided instances sit a pick out without disturbing the others', () => {
    const set = instances(3);
    const balancer = roundRobinBalancer(() => 0);
    assert.equal(balancer.pick(set, new Set(['api-0']))?.id, 'api-1');
    assert.equal(balancer.pick(set, new Set(['api-2']))?.id, 'api-0');
    assert.equal(balancer.pick(set)?.id, 'api-2');
  });

  it('has no load state: start returns a finisher that may be called, even twice, harmlessly', () => {
    const set = instances(2);
    const balancer = roundRobinBalancer(() => 0);
    const finish = balancer.start(set[0] as Instance);
    finish({ latencyMs: 5, ok: true });
    finish({ latencyMs: 5, ok: false });
    balancer.forget(new Set(['api-1']));
    assert.ok(set.includes(balancer.pick(set) as Instance));
  });
});

describe('weighted random balancer', () => {
  it('maps its draw onto instances in proportion to weight', () => {
    const set = instances(2, [3, 1]);
    assert.equal(randomBalancer(() => 0.74).pick(set)?.id, 'api-0');
    assert.equal(randomBalancer(() => 0.76).pick(set)?.id, 'api-1');
  });

  it('over many draws splits traffic by weight', () => {
    const counts = countPicks(randomBalancer(seeded(7)), instances(3, [1, 2, 7]), 20_000);
    assert.ok(Math.abs((counts.get('api-2') ?? 0) / 20_000 - 0.7) < 0.02);
    assert.ok(Math.abs((counts.get('api-0') ?? 0) / 20_000 - 0.1) < 0.02);
  });

  it('draws only among the instances not avoided', () => {
    const set = instances(3);
    assert.equal(randomBalancer(() => 0).pick(set, new Set(['api-0']))?.id, 'api-1');
    assert.equal(randomBalancer(() => 0.99).pick(set, new Set(['api-2']))?.id, 'api-1');
  });
});

describe('least-request balancer (power of two choices)', () => {
  it('of its two candidates takes the one with fewer outstanding requests', () => {
    const set = instances(2);
    const balancer = leastRequestBalancer(seeded(1));
    load(balancer, set[0] as Instance, 2);
    load(balancer, set[1] as Instance, 1);
    assert.deepEqual([...countPicks(balancer, set, 50).keys()], ['api-1']);
  });

  it('draws two distinct candidates, so the single most loaded instance is never picked', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 5 }), { minLength: 2, maxLength: 8 }), fc.integer(), (loads, seed) => {
        const set = instances(loads.length);
        const balancer = leastRequestBalancer(seeded(seed));
        loads.forEach((n, i) => load(balancer, set[i] as Instance, n));
        const busiest = Math.max(...loads);
        const busiestIds = loads.flatMap((n, i) => (n === busiest ? [`api-${i}`] : []));
        fc.pre(busiestIds.length === 1);
        for (let i = 0; i < 20; i += 1) assert.notEqual(balancer.pick(set)?.id, busiestIds[0]);
      }),
    );
  });

  it('frees the slot when the request ends, and counts an end only once however often it is reported', () => {
    const set = instances(2);
    const a = set[0] as Instance;
    // Candidates api-0 then api-1, then the tie-break draw.
    const tieToSecond = leastRequestBalancer(sequence(0, 0, 0.9));
    load(tieToSecond, a, 2);
    const finish = tieToSecond.start(a);
    load(tieToSecond, set[1] as Instance, 2);
    finish({ latencyMs: 3, ok: true });
    finish({ latencyMs: 3, ok: true });
    // 2 outstanding each: a tie (a double count would have left api-0 at 1 and picked it).
    assert.equal(tieToSecond.pick(set)?.id, 'api-1');
  });

  it('breaks ties at random, weighted: 3 to 1 weights win a tie three times in four', () => {
    const set = instances(2, [3, 1]);
    assert.equal(leastRequestBalancer(sequence(0, 0, 0.74)).pick(set)?.id, 'api-0');
    assert.equal(leastRequestBalancer(sequence(0, 0, 0.76)).pick(set)?.id, 'api-1');
    const equal = instances(2);
    assert.equal(leastRequestBalancer(sequence(0, 0, 0.49)).pick(equal)?.id, 'api-0');
    assert.equal(leastRequestBalancer(sequence(0, 0, 0.51)).pick(equal)?.id, 'api-1');
  });

  it('divides load by weight: 2 requests on a weight-3 instance are lighter than 1 on a weight-1', () => {
    const set = instances(2, [3, 1]);
    const balancer = leastRequestBalancer(seeded(3));
    load(balancer, set[0] as Instance, 2);
    load(balancer, set[1] as Instance, 1);
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-0']);
  });

  it('under sustained concurrency keeps outstanding requests in proportion to weight', () => {
    const set = instances(3, [1, 2, 5]);
    const balancer = leastRequestBalancer(seeded(11));
    const inFlight: { id: string; finish: () => void }[] = [];
    const random = seeded(12);
    let picks = 0;
    const picked = new Map<string, number>();
    for (let i = 0; i < 20_000; i += 1) {
      // Keep about 40 requests in flight; finish a random one when above.
      if (inFlight.length >= 40) inFlight.splice(Math.floor(random() * inFlight.length), 1)[0]?.finish();
      const instance = balancer.pick(set) as Instance;
      const done = balancer.start(instance);
      inFlight.push({ id: instance.id, finish: () => done({ latencyMs: 1, ok: true }) });
      picks += 1;
      picked.set(instance.id, (picked.get(instance.id) ?? 0) + 1);
    }
    const share = (id: string) => (picked.get(id) ?? 0) / picks;
    assert.ok(Math.abs(share('api-2') - 5 / 8) < 0.05, `api-2 share ${share('api-2')}`);
    assert.ok(Math.abs(share('api-0') - 1 / 8) < 0.05, `api-0 share ${share('api-0')}`);
  });

  it('forgets the load of instances that left', () => {
    const set = instances(2);
    const balancer = leastRequestBalancer(seeded(5));
    const late = balancer.start(set[0] as Instance);
    load(balancer, set[0] as Instance, 5);
    load(balancer, set[1] as Instance, 1);
    balancer.forget(new Set(['api-1']));
    late({ latencyMs: 1, ok: true }); // a request that ends after its instance left changes nothing
    // api-0 came back: it starts from no load, so it is lighter than api-1.
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-0']);
  });
});

describe('peak-EWMA balancer', () => {
  function clock() {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  }
  function sample(balancer: Balancer, instance: Instance, latencyMs: number, ok = true): void {
    balancer.start(instance)({ latencyMs, ok });
  }

  it('is peak sensitive: a sample above the estimate replaces it at once', () => {
    assert.equal(nextPeakEwma(undefined, 40, 0, 10_000), 40);
    assert.equal(nextPeakEwma(10, 500, 1, 10_000), 500);
  });

  it('moves toward a lower sample with weight 1 - exp(-Δt/τ)', () => {
    assert.ok(Math.abs(nextPeakEwma(100, 0, 10_000, 10_000) - 100 * Math.exp(-1)) < 1e-9);
    assert.ok(Math.abs(nextPeakEwma(100, 20, 5_000, 10_000) - (100 * Math.exp(-0.5) + 20 * (1 - Math.exp(-0.5)))) < 1e-9);
    assert.equal(nextPeakEwma(100, 20, 0, 10_000), 100);
  });

  it('sheds traffic from an instance after one slow response', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(1), now: c.now });
    sample(balancer, set[0] as Instance, 10);
    sample(balancer, set[1] as Instance, 10);
    c.advance(100);
    sample(balancer, set[0] as Instance, 500);
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-1']);
  });

  it('gives a new instance traffic at once: no samples cost initialLatencyMs (default 1 ms)', () => {
    const c = clock();
    const set = instances(2);
    const balancer = createBalancer('peak-ewma', { random: seeded(2), now: c.now });
    sample(balancer, set[0] as Instance, 20);
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-1']);

    const cautious = peakEwmaBalancer({ random: seeded(2), now: c.now, initialLatencyMs: 100 });
    sample(cautious, set[0] as Instance, 20);
    assert.deepEqual([...countPicks(cautious, set, 30).keys()], ['api-0']);
  });

  it('counts a failure as its observed latency by default: judging failures is outlier ejection\'s job', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(3), now: c.now });
    sample(balancer, set[0] as Instance, 2, false);
    sample(balancer, set[1] as Instance, 300);
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-0']);
  });

  it('counts a fast failure as failurePenaltyMs when one is set, so a failing instance loses traffic', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(3), now: c.now, failurePenaltyMs: 1_000 });
    sample(balancer, set[0] as Instance, 2, false); // connection refused in 2 ms
    sample(balancer, set[1] as Instance, 300);
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-1']);

    const lenient = peakEwmaBalancer({ random: seeded(3), now: c.now, failurePenaltyMs: 50 });
    sample(lenient, set[0] as Instance, 2, false);
    sample(lenient, set[1] as Instance, 300);
    assert.deepEqual([...countPicks(lenient, set, 30).keys()], ['api-0']);
  });

  it('multiplies latency by outstanding requests + 1', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(4), now: c.now });
    sample(balancer, set[0] as Instance, 10);
    sample(balancer, set[1] as Instance, 4);
    load(balancer, set[1] as Instance, 3); // 4 × 4 = 16 > 10 × 1
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-0']);
    load(balancer, set[0] as Instance, 1); // 10 × 2 = 20 > 16
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-1']);
  });

  it('divides cost by weight', () => {
    const c = clock();
    const set = instances(2, [4, 1]);
    const balancer = peakEwmaBalancer({ random: seeded(5), now: c.now });
    sample(balancer, set[0] as Instance, 30); // 30 / 4 = 7.5
    sample(balancer, set[1] as Instance, 10); // 10 / 1 = 10
    assert.deepEqual([...countPicks(balancer, set, 30).keys()], ['api-0']);
  });

  it('probes an idle instance again after a while: its estimate decays toward zero (τ = decayMs)', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(6), now: c.now, failurePenaltyMs: 1_000 });
    sample(balancer, set[0] as Instance, 5, false); // 1000 ms penalty
    sample(balancer, set[1] as Instance, 20);
    c.advance(1_000);
    sample(balancer, set[1] as Instance, 20);
    assert.equal(balancer.pick(set)?.id, 'api-1');
    c.advance(59_000); // 1000 × e^-6 ≈ 2.5 ms, below api-1's fresh 20 ms
    sample(balancer, set[1] as Instance, 20);
    assert.equal(balancer.pick(set)?.id, 'api-0');

    const slowDecay = peakEwmaBalancer({ random: seeded(6), now: c.now, decayMs: 600_000, failurePenaltyMs: 1_000 });
    sample(slowDecay, set[0] as Instance, 5, false);
    c.advance(60_000);
    sample(slowDecay, set[1] as Instance, 20);
    assert.equal(slowDecay.pick(set)?.id, 'api-1');
  });

  it('takes one sample per request however often its end is reported', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(7), now: c.now });
    sample(balancer, set[1] as Instance, 50);
    const finish = balancer.start(set[0] as Instance);
    finish({ latencyMs: 40, ok: true });
    finish({ latencyMs: 5_000, ok: false }); // ignored: the request already ended
    assert.equal(balancer.pick(set)?.id, 'api-0');
  });

  it('forgets the estimates of instances that left', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(8), now: c.now });
    sample(balancer, set[0] as Instance, 900);
    sample(balancer, set[1] as Instance, 30);
    balancer.forget(new Set(['api-1']));
    // api-0 returns as a new instance (1 ms): it is preferred again.
    assert.equal(balancer.pick(set)?.id, 'api-0');
  });

  it('sends most traffic to the faster of two instances under concurrency, but not all of it', () => {
    const c = clock();
    const set = instances(2);
    const balancer = peakEwmaBalancer({ random: seeded(9), now: c.now });
    const latency: Record<string, number> = { 'api-0': 10, 'api-1': 40 };
    const inFlight: { endsAt: number; finish: () => void }[] = [];
    const picked = new Map<string, number>();
    for (let i = 0; i < 10_000; i += 1) {
      c.advance(1); // one request per ms, each lasting its instance's latency
      for (let j = inFlight.length - 1; j >= 0; j -= 1) {
        if ((inFlight[j] as { endsAt: number }).endsAt <= c.now()) inFlight.splice(j, 1)[0]?.finish();
      }
      const instance = balancer.pick(set) as Instance;
      const ms = latency[instance.id] as number;
      const done = balancer.start(instance);
      inFlight.push({ endsAt: c.now() + ms, finish: () => done({ latencyMs: ms, ok: true }) });
      picked.set(instance.id, (picked.get(instance.id) ?? 0) + 1);
    }
    const fast = (picked.get('api-0') ?? 0) / 10_000;
    assert.ok(fast > 0.8 && fast < 1, `fast share ${fast}`);
  });
});

describe('every balancer', () => {
  const kinds = fc.constantFrom(...BALANCER_KINDS);

  it('never picks an instance outside the set it is given, whatever its random source returns', () => {
    fc.assert(
      fc.property(
        kinds,
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.double(), { minLength: 1, maxLength: 50 }),
        fc.array(fc.constantFrom(undefined, '0', '1', '2', '7', 'x'), { maxLength: 30 }),
        (kind, setSizes, draws, weights) => {
          let draw = 0;
          const balancer = createBalancer(kind, { random: () => draws[draw++ % draws.length] as number });
          for (const size of setSizes) {
            const set = instances(size, weights);
            const picked = balancer.pick(set);
            if (size === 0) assert.equal(picked, undefined);
            else assert.ok(picked !== undefined && set.includes(picked), `picked ${String(picked?.id)} from ${size}`);
            if (picked) balancer.start(picked)({ latencyMs: draws[0] as number, ok: draw % 2 === 0 });
          }
        },
      ),
    );
  });

  it('never picks an avoided instance unless every instance is avoided, and then still picks one', () => {
    fc.assert(
      fc.property(
        kinds,
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.nat({ max: 11 }), { maxLength: 12 }),
        fc.integer(),
        fc.nat({ max: 20 }),
        (kind: BalancerKind, size, avoided, seed, warmup) => {
          const set = instances(size, [2, 1, 3]);
          const avoid = new Set(avoided.map((i) => `api-${i}`));
          const allAvoided = set.every((instance) => avoid.has(instance.id));
          const balancer = createBalancer(kind, { random: seeded(seed) });
          for (let i = 0; i < warmup; i += 1) {
            const picked = balancer.pick(set);
            if (picked && i % 3 === 0) balancer.start(picked);
          }
          for (let i = 0; i < 10; i += 1) {
            const picked = balancer.pick(set, avoid);
            assert.ok(picked !== undefined && set.includes(picked));
            if (!allAvoided) assert.ok(!avoid.has(picked.id), `${kind} picked avoided ${picked.id}`);
          }
        },
      ),
    );
  });
});
