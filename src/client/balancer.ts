import type { Instance } from './instance.js';

/** What a finished request tells its balancer. */
export interface RequestOutcome {
  /** How long the request took, start to end. */
  latencyMs: number;
  /** false when the request failed (connection error, timeout, 5xx the caller counts as a failure). */
  ok: boolean;
}

/** Call once when the request that `start` began has ended; later calls do nothing. */
export type FinishRequest = (outcome: RequestOutcome) => void;

/**
 * A pure choice of one instance from the current set, plus the load bookkeeping the
 * load-aware balancers need. The caller's loop is:
 *
 * ```ts
 * const instance = balancer.pick(instances, tried);   // undefined only for an empty set
 * const finish = balancer.start(instance);            // the request begins
 * ...                                                 // send it
 * finish({ latencyMs, ok });                          // exactly once, success or failure
 * balancer.forget(new Set(currentIds));               // whenever the set changes
 * ```
 */
export interface Balancer {
  /**
   * One instance of `instances`; undefined only for an empty set. Never an instance whose id
   * is in `avoid` (e.g. those a retry already tried) unless every instance is avoided: then it
   * chooses among all of them, so a retry still has somewhere to go.
   */
  pick(instances: readonly Instance[], avoid?: ReadonlySet<string>): Instance | undefined;
  /** A request to `instance` begins; returns the function to call once when it ends. */
  start(instance: Instance): FinishRequest;
  /** Drops what the balancer remembers about instances whose ids are not in `keepIds`. */
  forget(keepIds: ReadonlySet<string>): void;
}

export type BalancerKind = 'round-robin' | 'random' | 'least-request' | 'peak-ewma';

/** Every balancer kind, e.g. for a CLI flag's choices. */
export const BALANCER_KINDS: readonly BalancerKind[] = Object.freeze(['round-robin', 'random', 'least-request', 'peak-ewma'] as const);

/**
 * Peak-EWMA: it reacts to a slow or failing instance within one request and to load within
 * one pick, which round-robin and random cannot do (Finagle's and linkerd's default for the
 * same reason).
 */
export const DEFAULT_BALANCER: BalancerKind = 'peak-ewma';

export function isBalancerKind(value: unknown): value is BalancerKind {
  return typeof value === 'string' && (BALANCER_KINDS as readonly string[]).includes(value);
}

/** A source of numbers in [0, 1), like Math.random; injectable so tests are reproducible. */
export type RandomSource = () => number;

/** The largest weight an instance may have; larger values are clamped to it. */
export const MAX_WEIGHT = 10_000;

/**
 * An instance's weight from its service meta `weight`: a positive integer string such as "3".
 * Missing or invalid (empty, "0", "-2", "1.5", "abc") counts as 1; above MAX_WEIGHT is clamped.
 */
export function instanceWeight(instance: Pick<Instance, 'meta'>): number {
  const raw = instance.meta?.weight;
  if (typeof raw !== 'string' || !/^\s*\d+\s*$/.test(raw)) return 1;
  const value = Number(raw);
  // "0" is not a weight; a string of 400 digits is Infinity here and clamps like any big one.
  return value >= 1 ? Math.min(MAX_WEIGHT, value) : 1;
}

/**
 * The weights of a set of instances, and round-robin's key of the set (ids and weights), cached
 * by the array's identity: discovery hands the balancer the same array until the set changes, so
 * a pick does not parse every instance's meta again. Instances and their arrays are never
 * changed in place (a new set is a new array).
 */
interface SetFacts {
  weights: readonly number[];
  key: string | undefined;
}

const setFactsCache = new WeakMap<readonly Instance[], SetFacts>();

function setFacts(instances: readonly Instance[]): SetFacts {
  let facts = setFactsCache.get(instances);
  if (facts === undefined) {
    facts = { weights: instances.map(instanceWeight), key: undefined };
    setFactsCache.set(instances, facts);
  }
  return facts;
}

function setKeyOf(instances: readonly Instance[], facts: SetFacts): string {
  facts.key ??= instances.map((instance, i) => `${instance.id}\u0000${facts.weights[i] as number}`).join('\u0001');
  return facts.key;
}

export interface BalancerOptions {
  /** Default Math.random. */
  random?: RandomSource;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
  /** Peak-EWMA: time constant τ of the latency average, ms. Default 10 000. */
  decayMs?: number;
  /** Peak-EWMA: the latency an instance without samples is assumed to have, ms. Default 1. */
  initialLatencyMs?: number;
  /** Peak-EWMA: a failed request counts as at least this latency, ms. Default 1 000. */
  failurePenaltyMs?: number;
}

export const DEFAULT_PEAK_EWMA = { decayMs: 10_000, initialLatencyMs: 1, failurePenaltyMs: 0 } as const;

/** random() forced into [0, 1): NaN, infinities and strays still give a usable draw. */
function draw(random: RandomSource): number {
  const value = random();
  if (!Number.isFinite(value) || value <= 0) return 0;
  return value >= 1 ? 1 - Number.EPSILON : value;
}

/** The instances a pick may choose from: those not avoided, or all when every one is. */
function eligible(instances: readonly Instance[], avoid: ReadonlySet<string> | undefined): readonly Instance[] {
  if (!avoid || avoid.size === 0) return instances;
  const left = instances.filter((instance) => !avoid.has(instance.id));
  return left.length > 0 ? left : instances;
}

/** Index drawn with probability proportional to weights[i]; `skip` is never drawn. */
function weightedIndex(weights: readonly number[], fraction: number, skip = -1): number {
  let total = 0;
  for (let i = 0; i < weights.length; i += 1) if (i !== skip) total += weights[i] as number;
  const target = fraction * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i += 1) {
    if (i === skip) continue;
    cumulative += weights[i] as number;
    last = i;
    if (target < cumulative) return i;
  }
  return last;
}

function noopFinish(): void {}

/**
 * Smooth weighted round-robin (nginx's algorithm): each pick adds every instance's weight to
 * its running score, takes the highest score (first in order on a tie) and takes the total
 * weight off the winner. With weights 5, 1, 1 it goes a a b a c a a rather than a a a a a b c,
 * and with equal weights it is plain round-robin. Over any W consecutive picks of a fixed set
 * (W = total weight, no avoids) each instance is picked exactly as many times as its weight.
 *
 * The scores start over when the set (ids or weights) changes. Each start begins at a random
 * place in the cycle, so many short-lived clients (one `farol call` each) spread over the fleet
 * in proportion to weight instead of all starting on the same instance.
 *
 * Avoided instances sit a pick out (their score does not grow, and the winner pays only the
 * weight of those that took part), as nginx does for peers a request already tried.
 */
export function roundRobinBalancer(random: RandomSource = Math.random): Balancer {
  let key: string | undefined;
  let scores = new Map<string, number>();

  function step(instances: readonly Instance[], weights: readonly number[], avoid?: ReadonlySet<string>): Instance | undefined {
    let total = 0;
    let best: Instance | undefined;
    let bestScore = -Infinity;
    for (let i = 0; i < instances.length; i += 1) {
      const instance = instances[i] as Instance;
      if (avoid?.has(instance.id)) continue;
      const weight = weights[i] as number;
      const score = (scores.get(instance.id) ?? 0) + weight;
      scores.set(instance.id, score);
      total += weight;
      if (score > bestScore) {
        bestScore = score;
        best = instance;
      }
    }
    if (best) scores.set(best.id, bestScore - total);
    return best;
  }

  // Bounds the work of a random start in a huge weighted fleet (instances × steps).
  const maxWarmupWork = 2_000_000;

  return {
    pick(instances, avoid) {
      if (instances.length === 0) return undefined;
      const facts = setFacts(instances);
      const weights = facts.weights;
      const setKey = setKeyOf(instances, facts);
      if (setKey !== key) {
        key = setKey;
        scores = new Map();
        const total = weights.reduce((sum, w) => sum + w, 0);
        const steps = Math.min(Math.floor(draw(random) * total), Math.floor(maxWarmupWork / instances.length));
        for (let i = 0; i < steps; i += 1) step(instances, weights);
      }
      const pool = eligible(instances, avoid);
      return step(instances, weights, pool === instances ? undefined : avoid);
    },
    start: () => noopFinish,
    forget(keepIds) {
      // Scores only make sense as a set: losing one starts the cycle over at the next pick.
      for (const id of scores.keys()) if (!keepIds.has(id)) key = undefined;
      if (key === undefined) scores = new Map();
    },
  };
}

/** Chooses at random, with probability proportional to weight. */
export function randomBalancer(random: RandomSource = Math.random): Balancer {
  return {
    pick(instances, avoid) {
      const pool = eligible(instances, avoid);
      if (pool.length === 0) return undefined;
      return pool[weightedIndex(setFacts(pool).weights, draw(random))];
    },
    start: () => noopFinish,
    forget() {},
  };
}

interface LoadState {
  outstanding: number;
  /** Peak-EWMA latency estimate, ms; undefined until the first sample. */
  ewmaMs: number | undefined;
  /** When the last sample arrived (clock of `now`). */
  stampMs: number;
}

/**
 * Power of two choices: draw two distinct candidates (probability proportional to weight),
 * keep the one with the lower cost ÷ weight, a weighted coin flip on a tie. Nearly as good as
 * scanning for the least loaded, without every client herding onto the same least loaded
 * instance, and O(1) in the fleet size apart from the weighted draw.
 *
 * Weights here are capacity: under concurrency, load settles in proportion to weight. A client
 * with little concurrency (one request at a time) sees little load and follows the costs, which
 * for peak-EWMA means the heavier instance wins most picks. For a fixed percentage split (a
 * canary at weight 1 beside weight 9), use round-robin or random.
 */
function powerOfTwoChoices(
  random: RandomSource,
  cost: (instance: Instance, state: LoadState | undefined) => number,
  states: Map<string, LoadState>,
  onFinish: (state: LoadState, outcome: RequestOutcome) => void,
): Balancer {
  function stateOf(id: string): LoadState {
    let state = states.get(id);
    if (!state) {
      state = { outstanding: 0, ewmaMs: undefined, stampMs: 0 };
      states.set(id, state);
    }
    return state;
  }
  return {
    pick(instances, avoid) {
      const pool = eligible(instances, avoid);
      if (pool.length <= 1) return pool[0];
      const weights = setFacts(pool).weights;
      const first = weightedIndex(weights, draw(random));
      const second = weightedIndex(weights, draw(random), first);
      const a = pool[first] as Instance;
      const b = pool[second] as Instance;
      const costA = cost(a, states.get(a.id)) / (weights[first] as number);
      const costB = cost(b, states.get(b.id)) / (weights[second] as number);
      if (costA !== costB) return costA < costB ? a : b;
      // A tie (say, both idle) goes by weight: with weights 3 and 1, three times in four to
      // the first, so an idle least-request client still splits traffic by weight.
      const weightA = weights[first] as number;
      return draw(random) * (weightA + (weights[second] as number)) < weightA ? a : b;
    },
    start(instance) {
      const state = stateOf(instance.id);
      state.outstanding += 1;
      let done = false;
      return (outcome) => {
        if (done) return;
        done = true;
        // If the instance was forgotten meanwhile this updates a detached record: harmless.
        state.outstanding = Math.max(0, state.outstanding - 1);
        onFinish(state, outcome);
      };
    },
    forget(keepIds) {
      for (const id of states.keys()) if (!keepIds.has(id)) states.delete(id);
    },
  };
}

/** P2C over outstanding requests divided by weight. */
export function leastRequestBalancer(random: RandomSource = Math.random): Balancer {
  return powerOfTwoChoices(random, (_instance, state) => state?.outstanding ?? 0, new Map(), () => {});
}

/**
 * P2C over cost = peak-EWMA latency × (outstanding + 1) / weight (Finagle, linkerd/tower).
 *
 * - A sample above the current estimate replaces it at once (peak sensitive: one slow
 *   response is enough to shed traffic); a lower one pulls the estimate toward itself with
 *   weight 1 - exp(-Δt/τ), Δt the time since the previous sample.
 * - A failed request counts as max(its latency, failurePenaltyMs). The default penalty is 0:
 *   failures are the outlier detector's to judge (a fast-failing instance is ejected after a
 *   few tries), because a penalty far above the fleet's latency decays for about a minute and
 *   starves the instance of the very requests that would show whether it has recovered.
 * - An instance without samples costs initialLatencyMs × (outstanding + 1): a new instance is
 *   cheap, so it gets traffic at once and earns a real estimate.
 * - While an instance gets no samples its estimate is read as decaying toward zero
 *   (× exp(-idle/τ)), as Finagle and tower do, so an instance that was slow or failing is
 *   probed again after a while instead of being shunned forever.
 */
export function peakEwmaBalancer(opts: BalancerOptions = {}): Balancer {
  const random = opts.random ?? Math.random;
  const now = opts.now ?? (() => performance.now());
  const decayMs = positive(opts.decayMs, DEFAULT_PEAK_EWMA.decayMs);
  const initialLatencyMs = nonNegative(opts.initialLatencyMs, DEFAULT_PEAK_EWMA.initialLatencyMs);
  const failurePenaltyMs = nonNegative(opts.failurePenaltyMs, DEFAULT_PEAK_EWMA.failurePenaltyMs);

  function latencyEstimate(state: LoadState | undefined): number {
    if (state?.ewmaMs === undefined) return initialLatencyMs;
    const idle = Math.max(0, now() - state.stampMs);
    return state.ewmaMs * Math.exp(-idle / decayMs);
  }

  return powerOfTwoChoices(
    random,
    (_instance, state) => latencyEstimate(state) * ((state?.outstanding ?? 0) + 1),
    new Map(),
    (state, outcome) => {
      const observed = Number.isFinite(outcome.latencyMs) ? Math.max(0, outcome.latencyMs) : 0;
      const sample = outcome.ok ? observed : Math.max(observed, failurePenaltyMs);
      const at = now();
      state.ewmaMs = nextPeakEwma(state.ewmaMs, sample, at - state.stampMs, decayMs);
      state.stampMs = at;
    },
  );
}

/**
 * One peak-EWMA step: the estimate after `sampleMs` arrives `elapsedMs` after the previous
 * sample. A sample above the estimate (or the first one) replaces it; a lower one moves the
 * estimate toward it with weight 1 - exp(-elapsed/τ).
 */
export function nextPeakEwma(estimateMs: number | undefined, sampleMs: number, elapsedMs: number, decayMs: number): number {
  if (estimateMs === undefined || sampleMs > estimateMs) return sampleMs;
  const w = Number.isFinite(elapsedMs) ? Math.exp(-Math.max(0, elapsedMs) / decayMs) : 1;
  return estimateMs * w + sampleMs * (1 - w);
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function nonNegative(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}

export function createBalancer(kind: BalancerKind, opts: BalancerOptions = {}): Balancer {
  switch (kind) {
    case 'round-robin':
      return roundRobinBalancer(opts.random);
    case 'random':
      return randomBalancer(opts.random);
    case 'least-request':
      return leastRequestBalancer(opts.random);
    case 'peak-ewma':
      return peakEwmaBalancer(opts);
  }
}
