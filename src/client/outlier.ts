import type { Instance } from './instance.js';

/**
 * Outlier ejection in the manner of Envoy's consecutive-errors detector: an instance that
 * fails several requests in a row is taken out of rotation for a while, longer each time it
 * happens again, while Consul's health check (which may take seconds to notice, or never
 * notice a process that answers its check but fails real requests) catches up.
 *
 * Rules:
 * - `consecutiveFailures` failures in a row eject; any success resets the run.
 * - The n-th ejection lasts min(maxEjectionMs, baseEjectionMs × n).
 * - After an instance has been back (not ejected) for baseEjectionMs, its ejection count
 *   drops by one, and again for each further baseEjectionMs, so an instance that stays good
 *   earns short ejections back.
 * - Never more than maxEjectionPercent of the fleet is ejected at once, but in a fleet of two
 *   or more one instance may always be ejected. A failure that would exceed the cap does not
 *   eject (recordFailure returns undefined); the run stays counted, so the next failure tries
 *   again once room frees. A fleet of one is never ejected: there is nowhere else to go.
 * - Failures reported while an instance is ejected (requests that were in flight) are ignored.
 * - Ejections end lazily: every method reads `now()` and treats an expired ejection as over.
 *
 * The fleet is the instance set last given to `available` (before the first call, the ids
 * seen so far). Call `forget` when instances leave so their records go.
 */
export interface OutlierOptions {
  /** Failures in a row that eject. Default 3. */
  consecutiveFailures?: number;
  /** The first ejection's length, and the step each further one adds, ms. Default 5 000. */
  baseEjectionMs?: number;
  /** No ejection lasts longer, ms. Default 60 000. */
  maxEjectionMs?: number;
  /** At most this share of the fleet is ejected at once, percent. Default 50. */
  maxEjectionPercent?: number;
  /** Below this share of the fleet left, `available` ignores ejections (panic), percent. Default 50. */
  panicThresholdPercent?: number;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
}

export const DEFAULT_OUTLIER = {
  consecutiveFailures: 3,
  baseEjectionMs: 5_000,
  maxEjectionMs: 60_000,
  maxEjectionPercent: 50,
  panicThresholdPercent: 50,
} as const;

/** What recordFailure reports when that failure ejected the instance. */
export interface EjectionEvent {
  id: string;
  /** When the ejection ends, on the detector's clock. */
  untilMs: number;
  /** How many times the instance has now been ejected (after decay). */
  ejectionCount: number;
  durationMs: number;
}

export interface AvailableInstances {
  /** The instances to balance over: all but the ejected, or all of them in panic. */
  instances: readonly Instance[];
  /** True when ejections were ignored because too few (or no) instances would be left. */
  panic: boolean;
  /** Ids of the given instances that are ejected right now (also listed in panic). */
  ejected: string[];
}

interface OutlierState {
  consecutive: number;
  ejectionCount: number;
  /** Set while ejected. */
  untilMs: number | undefined;
  /** When the instance last came back; the decay clock runs from here. */
  returnedAtMs: number | undefined;
}

export class OutlierDetector {
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  readonly panicThresholdPercent: number;
  private readonly now: () => number;
  private readonly states = new Map<string, OutlierState>();
  private fleet: Set<string> | undefined;
  /** The array `fleet` was built from, and the answer for it when nothing is ejected. */
  private fleetOf: readonly Instance[] | undefined;
  private allAvailable: AvailableInstances | undefined;
  /** Ids whose ejection has not been seen to end yet (a superset of those ejected now). */
  private readonly ejectedIds = new Set<string>();

  constructor(options: OutlierOptions = {}) {
    const o = { ...DEFAULT_OUTLIER, ...definedOnly(options) };
    this.consecutiveFailures = check('consecutiveFailures', o.consecutiveFailures, Number.isInteger(o.consecutiveFailures) && o.consecutiveFailures >= 1);
    this.baseEjectionMs = check('baseEjectionMs', o.baseEjectionMs, Number.isFinite(o.baseEjectionMs) && o.baseEjectionMs > 0);
    this.maxEjectionMs = check('maxEjectionMs', o.maxEjectionMs, Number.isFinite(o.maxEjectionMs) && o.maxEjectionMs > 0);
    this.maxEjectionPercent = check('maxEjectionPercent', o.maxEjectionPercent, o.maxEjectionPercent >= 0 && o.maxEjectionPercent <= 100);
    this.panicThresholdPercent = check('panicThresholdPercent', o.panicThresholdPercent, o.panicThresholdPercent >= 0 && o.panicThresholdPercent <= 100);
    this.now = options.now ?? (() => performance.now());
  }

  /** A request to `id` succeeded: its run of failures is over. */
  recordSuccess(id: string): void {
    const state = this.stateOf(id);
    this.refresh(state, this.now());
    state.consecutive = 0;
  }

  /** A request to `id` failed. Returns the ejection if this failure ejected it. */
  recordFailure(id: string): EjectionEvent | undefined {
    const t = this.now();
    const state = this.stateOf(id);
    this.refresh(state, t);
    if (state.untilMs !== undefined) return undefined;
    state.consecutive += 1;
    if (state.consecutive < this.consecutiveFailures) return undefined;

    const members = new Set(this.fleet ?? this.states.keys());
    members.add(id);
    if (members.size < 2) return undefined;
    const cap = Math.max(1, Math.floor((members.size * this.maxEjectionPercent) / 100));
    let ejectedNow = 0;
    for (const member of members) if (this.ejectedAt(member, t)) ejectedNow += 1;
    if (ejectedNow + 1 > cap) return undefined;

    state.ejectionCount += 1;
    const durationMs = Math.min(this.maxEjectionMs, this.baseEjectionMs * state.ejectionCount);
    state.untilMs = t + durationMs;
    this.ejectedIds.add(id);
    state.returnedAtMs = undefined;
    state.consecutive = 0;
    return { id, untilMs: state.untilMs, ejectionCount: state.ejectionCount, durationMs };
  }

  isEjected(id: string): boolean {
    return this.ejectedAt(id, this.now());
  }

  /**
   * The instances to balance over. Also makes `instances` the fleet that the ejection cap is
   * computed on. In panic (no instance left, or fewer than panicThresholdPercent) it returns
   * them all: better to try a suspect instance than to fail without trying.
   */
  available(instances: readonly Instance[]): AvailableInstances {
    const t = this.now();
    if (instances !== this.fleetOf) {
      // discovery hands the same array until the set changes: build the fleet once per set
      this.fleetOf = instances;
      this.fleet = new Set(instances.map((instance) => instance.id));
      this.allAvailable = { instances, panic: false, ejected: [] };
    }
    // No ejection in force (the usual case): O(1), the same answer object as last time.
    for (const id of this.ejectedIds) if (!this.ejectedAt(id, t)) this.ejectedIds.delete(id);
    if (this.ejectedIds.size === 0) return this.allAvailable as AvailableInstances;
    const ejected = instances.filter((instance) => this.ejectedAt(instance.id, t)).map((instance) => instance.id);
    if (ejected.length === 0) return this.allAvailable as AvailableInstances;
    const out = new Set(ejected);
    const remaining = instances.filter((instance) => !out.has(instance.id));
    if (remaining.length === 0 || remaining.length * 100 < this.panicThresholdPercent * instances.length) {
      return { instances, panic: true, ejected };
    }
    return { instances: remaining, panic: false, ejected };
  }

  /** Drops the records of instances whose ids are not in `keepIds`. */
  forget(keepIds: ReadonlySet<string>): void {
    for (const id of this.states.keys()) if (!keepIds.has(id)) this.states.delete(id);
    for (const id of this.ejectedIds) if (!keepIds.has(id)) this.ejectedIds.delete(id);
    if (this.fleet) for (const id of this.fleet) if (!keepIds.has(id)) this.fleet.delete(id);
    this.fleetOf = undefined;
  }

  private ejectedAt(id: string, t: number): boolean {
    const state = this.states.get(id);
    if (!state) return false;
    this.refresh(state, t);
    return state.untilMs !== undefined;
  }

  private stateOf(id: string): OutlierState {
    let state = this.states.get(id);
    if (!state) {
      state = { consecutive: 0, ejectionCount: 0, untilMs: undefined, returnedAtMs: undefined };
      this.states.set(id, state);
    }
    return state;
  }

  /** Ends an expired ejection and applies the decay earned since the instance came back. */
  private refresh(state: OutlierState, t: number): void {
    if (state.untilMs !== undefined) {
      if (!(t >= state.untilMs)) return;
      state.returnedAtMs = state.untilMs;
      state.untilMs = undefined;
    }
    if (state.returnedAtMs === undefined || state.ejectionCount === 0) return;
    const periods = Math.floor((t - state.returnedAtMs) / this.baseEjectionMs);
    if (periods <= 0) return;
    state.ejectionCount = Math.max(0, state.ejectionCount - periods);
    state.returnedAtMs = state.ejectionCount > 0 ? state.returnedAtMs + periods * this.baseEjectionMs : undefined;
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function check(name: string, value: number, ok: boolean): number {
  if (typeof value !== 'number' || !ok) throw new RangeError(`OutlierDetector: ${name} is out of range: ${String(value)}`);
  return value;
}
