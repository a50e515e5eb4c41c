/**
 * The instance-selection stage: per service, a balancer over the passing instances less those
 * ejected for failing (outlier detection) and those resting after a 503 with Retry-After; and the
 * outcome of every try fed back to all three.
 */
import { performance } from 'node:perf_hooks';
import { channels, type EventOwner } from '../events/channels.js';
import type { Balancer, FinishRequest } from './balancer.js';
import type { Instance } from './instance.js';
import { OutlierDetector, type OutlierOptions } from './outlier.js';
import type { BalancerFactory } from './options.js';

interface ServiceState {
  balancer: Balancer;
  outliers: OutlierDetector;
  /** Instances that answered 503 with Retry-After, until when (performance.now ms). */
  resting: Map<string, number>;
  panic: boolean;
}

export interface Candidates {
  instances: readonly Instance[];
  /** > 0 when every candidate is resting: how long until the first wakes, ms. */
  wakeInMs: number;
}

export class InstanceSelection {
  private readonly services = new Map<string, ServiceState>();

  constructor(
    private readonly owner: EventOwner,
    private readonly balancer: BalancerFactory,
    private readonly outlier: Partial<Omit<OutlierOptions, 'now'>> | undefined,
  ) {}

  /**
   * The instances to balance over, less the ejected (unless too many are) and those resting.
   * When every one is resting, all of them, and how long until the first wakes.
   */
  candidates(service: string, passing: readonly Instance[]): Candidates {
    const state = this.stateFor(service);
    const available = state.outliers.available(passing);
    if (available.panic !== state.panic) {
      state.panic = available.panic;
      if (channels.clientPanic.hasSubscribers) {
        channels.clientPanic.publish({ owner: this.owner, service, panic: available.panic, ejected: available.ejected, passing: passing.length });
      }
    }
    if (state.resting.size === 0) return { instances: available.instances, wakeInMs: 0 };
    const now = performance.now();
    const awake = available.instances.filter((i) => (state.resting.get(i.id) ?? 0) <= now);
    if (awake.length > 0 || available.instances.length === 0) return { instances: awake, wakeInMs: 0 };
    const firstWake = Math.min(...available.instances.map((i) => state.resting.get(i.id) ?? now));
    return { instances: available.instances, wakeInMs: Math.max(0, firstWake - now) };
  }

  /** One of `candidates`, preferring those not in `tried`. */
  pick(service: string, candidates: readonly Instance[], tried: ReadonlySet<string>): Instance | undefined {
    return this.stateFor(service).balancer.pick(candidates, tried);
  }

  /** A try on `instance` begins; the returned function reports its end to the balancer. */
  start(service: string, instance: Instance): FinishRequest {
    return this.stateFor(service).balancer.start(instance);
  }

  recordSuccess(service: string, id: string): void {
    this.stateFor(service).outliers.recordSuccess(id);
  }

  recordFailure(service: string, id: string): void {
    const ejection = this.stateFor(service).outliers.recordFailure(id);
    if (ejection && channels.clientEjection.hasSubscribers) {
      channels.clientEjection.publish({ owner: this.owner, service, instance: id, durationMs: ejection.durationMs, ejections: ejection.ejectionCount });
    }
  }

  /** The instance asked (503 + Retry-After) not to be called for `ms`. */
  rest(service: string, id: string, ms: number): void {
    this.stateFor(service).resting.set(id, performance.now() + ms);
  }

  /** Forgets what is known of instances no longer passing. */
  retain(service: string, instances: readonly Instance[]): void {
    const state = this.services.get(service);
    if (!state) return;
    const ids = new Set(instances.map((i) => i.id));
    state.balancer.forget(ids);
    state.outliers.forget(ids);
    for (const id of state.resting.keys()) if (!ids.has(id)) state.resting.delete(id);
  }

  private stateFor(service: string): ServiceState {
    let state = this.services.get(service);
    if (!state) {
      state = { balancer: this.balancer({ service }), outliers: new OutlierDetector(this.outlier), resting: new Map(), panic: false };
      this.services.set(service, state);
    }
    return state;
  }
}
