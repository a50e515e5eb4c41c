import type { Instance } from './instance.js';

export interface ServedSetOptions {
  /**
   * How long the last known instances keep serving while Consul cannot be asked. Past it,
   * calls fail with CONSUL_UNREACHABLE instead of trusting an ever older list.
   */
  maxStalenessMs: number;
  /**
   * How long an empty answer that comes right after Consul was unreachable is held back
   * (the last known set keeps serving) while the set is still non-empty before.
   */
  emptyAfterOutageGraceMs: number;
}

export const DEFAULT_SERVED_SET_OPTIONS: Readonly<ServedSetOptions> = {
  maxStalenessMs: 5 * 60_000,
  emptyAfterOutageGraceMs: 10_000,
};

export type Answer =
  | { kind: 'changed'; instances: readonly Instance[] }
  | { kind: 'unchanged' }
  | { kind: 'held'; known: number; graceMs: number };

export type Serving =
  | { kind: 'unknown' }
  | { kind: 'serving'; instances: readonly Instance[]; staleMs: number }
  | { kind: 'too-stale'; staleMs: number; known: number };

/**
 * What the client serves for one service, given the answers and failures of its watch. Pure:
 * every method takes the time, so the rules are tested without Consul or clocks.
 *
 * Two rules go beyond "serve the latest answer":
 * - While Consul cannot be asked, the last known set keeps serving up to maxStalenessMs.
 * - An agent that has just come back (a restarted dev agent, a client agent that lost its local
 *   state) answers "no instances" until the instances' anti-entropy registers them again. An
 *   empty answer within emptyAfterOutageGraceMs of an outage's end therefore does not empty a
 *   non-empty set; a non-empty answer, or the end of the grace, replaces the held set.
 */
export class ServedSet {
  private served: readonly Instance[] | undefined;
  private failingSince: number | undefined;
  private recoveredAt: number | undefined;
  private heldEmptySince: number | undefined;

  constructor(private readonly opts: ServedSetOptions = DEFAULT_SERVED_SET_OPTIONS) {}

  /** The watch delivered a (changed) list. */
  answer(instances: readonly Instance[], now: number): Answer {
    this.succeeded(now);
    const previous = this.served;
    const inGrace = this.recoveredAt !== undefined && now - this.recoveredAt < this.opts.emptyAfterOutageGraceMs;
    if (instances.length === 0 && previous !== undefined && previous.length > 0 && inGrace) {
      this.heldEmptySince ??= now;
      return { kind: 'held', known: previous.length, graceMs: this.opts.emptyAfterOutageGraceMs };
    }
    this.heldEmptySince = undefined;
    this.served = instances;
    if (previous !== undefined && signature(previous) === signature(instances)) return { kind: 'unchanged' };
    return { kind: 'changed', instances };
  }

  /** The watch got an answer (changed or not): Consul is reachable. */
  succeeded(now: number): void {
    if (this.failingSince !== undefined) this.recoveredAt = now;
    this.failingSince = undefined;
  }

  /** A query failed. Returns true for the first failure of an outage. */
  failed(now: number): boolean {
    if (this.failingSince !== undefined) return false;
    this.failingSince = now;
    return true;
  }

  /** What a call is served at `now`. */
  serve(now: number): Serving {
    if (this.heldEmptySince !== undefined && this.recoveredAt !== undefined && now - this.recoveredAt >= this.opts.emptyAfterOutageGraceMs) {
      this.served = [];
      this.heldEmptySince = undefined;
    }
    if (this.served === undefined) return { kind: 'unknown' };
    const staleMs = this.failingSince === undefined ? 0 : now - this.failingSince;
    if (staleMs > this.opts.maxStalenessMs) return { kind: 'too-stale', staleMs, known: this.served.length };
    return { kind: 'serving', instances: this.served, staleMs };
  }

  /** Whether Consul has failed since its last answer. */
  get failing(): boolean {
    return this.failingSince !== undefined;
  }

  /** The set as last accepted, whatever its age (for pools and balancers to keep). */
  get known(): readonly Instance[] | undefined {
    return this.served;
  }
}

function signature(instances: readonly Instance[]): string {
  return instances.map((i) => `${i.id}@${i.address}:${i.port}/${i.meta.weight ?? ''}`).join(',');
}
