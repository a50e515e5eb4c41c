import type { Instance } from './instance.js';

/** A pure choice of one instance from the current set; undefined only for an empty set. */
export interface Balancer {
  pick(instances: readonly Instance[]): Instance | undefined;
}

export type BalancerKind = 'round-robin' | 'random';

/** A source of numbers in [0, 1), like Math.random; injectable so tests are reproducible. */
export type RandomSource = () => number;

/**
 * Takes each instance in turn. The set may change between picks; the cursor just wraps.
 * The first pick starts at a random place, so many short-lived clients (one `farol call`
 * each) spread over the fleet instead of all starting on the first instance.
 */
export function roundRobinBalancer(random: RandomSource = Math.random): Balancer {
  let next: number | undefined;
  return {
    pick(instances) {
      if (instances.length === 0) return undefined;
      next ??= Math.floor(Math.max(0, Math.min(0.999_999, random() || 0)) * instances.length);
      const index = next % instances.length;
      next = (index + 1) % instances.length;
      return instances[index];
    },
  };
}

export function randomBalancer(random: RandomSource = Math.random): Balancer {
  return {
    pick(instances) {
      if (instances.length === 0) return undefined;
      const value = random();
      // Guard against sources that stray outside [0, 1) (or return NaN): still pick a member.
      const index = Number.isFinite(value) ? Math.min(instances.length - 1, Math.max(0, Math.floor(value * instances.length))) : 0;
      return instances[index];
    },
  };
}

export function createBalancer(kind: BalancerKind, opts: { random?: RandomSource } = {}): Balancer {
  switch (kind) {
    case 'round-robin':
      return roundRobinBalancer(opts.random);
    case 'random':
      return randomBalancer(opts.random);
  }
}
