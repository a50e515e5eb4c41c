import { FarolError } from '../errors.js';
import { channels, eventError, type EventOwner } from '../events/channels.js';
import { longSleep } from '../timers/long-timeout.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { nextBlockingIndex } from './blocking-index.js';
import { afterPendingIo } from './next-turn.js';
import type { ConsulClient } from './client.js';
import { TokenBucket } from './rate-limit.js';
import { DEFAULT_DISCOVERY_CONSISTENCY, tooStaleError } from './staleness.js';
import type { ConsistencyMode, QueryMeta } from './types.js';
import { DEFAULT_WATCH_RATE_LIMIT } from './watch.js';
import { changedServices, checksSnapshot, type ChecksSnapshot } from './watch-changes.js';

export interface WatchServiceChangesOptions {
  /** Longest time one blocking query waits, a Go duration. Default "5m". */
  wait?: string;
  consistency?: ConsistencyMode;
  maxStaleMs?: number;
  signal?: AbortSignal;
  /** The owner to publish events under; default the Consul client's. */
  events?: EventOwner;
  /**
   * Which services may have changed: a set named by the checks that moved, or 'all' when the
   * detector cannot tell (its first answer, the first after an error, or any move of the catalog's
   * index, which registrations and changed addresses move without touching a check).
   */
  onChange: (services: ReadonlySet<string> | 'all') => void;
  /** Called for each failed query; the detector keeps retrying with backoff until stopped. */
  onError?: (error: FarolError) => void;
  /** Called after every successful answer of the checks query. */
  onResponse?: (meta: QueryMeta) => void;
  backoff?: BackoffOptions;
}

export interface ServiceChangesWatch {
  stop(): void;
}

/**
 * One change detector for many services, so that watching N services holds two connections to
 * the agent instead of N. Consul's blocking queries wake on a table's index, not on a service:
 *
 * - /v1/health/state/any blocks on the checks table (every check's add, change or removal moves
 *   it) and returns every check with its ServiceName and ModifyIndex, so two snapshots name the
 *   services whose health moved (watch-changes.ts).
 * - /v1/catalog/services blocks on the services table: a registration, a deregistration or a
 *   changed address moves it even when no check changes (e.g. a service without checks, or a
 *   re-registration with the same checks), and its body cannot say which instance changed, so
 *   the detector reports 'all' and the caller re-reads what it watches (non-blocking reads).
 *
 * The index rules are those of every Farol watch (blocking-index.ts): reset to 0 when it goes
 * backwards or after an error, then 'all' again since changes may have been missed.
 */
export function watchServiceChanges(client: ConsulClient, opts: WatchServiceChangesOptions): ServiceChangesWatch {
  const stopper = new AbortController();
  const signal = opts.signal ? AbortSignal.any([stopper.signal, opts.signal]) : stopper.signal;
  const consistency = opts.consistency ?? DEFAULT_DISCOVERY_CONSISTENCY;
  const owner = opts.events ?? client.owner;
  const query = {
    consistency,
    ...(opts.wait === undefined ? {} : { wait: opts.wait }),
    ...(opts.maxStaleMs === undefined ? {} : { maxStaleMs: opts.maxStaleMs }),
    signal,
  };

  const safely = (where: 'onResponse' | 'onUpdate' | 'onError', callback: () => void): void => {
    try {
      callback();
    } catch (error) {
      if (channels.consulWatchFault.hasSubscribers) channels.consulWatchFault.publish({ owner, service: '*', where, error });
    }
  };

  const failed = (error: FarolError, failures: number, retryInMs: number): void => {
    if (channels.consulWatchError.hasSubscribers) channels.consulWatchError.publish({ owner, service: '*', error: eventError(error), failures, retryInMs });
    if (opts.onError) safely('onError', () => opts.onError!(error));
  };

  let snapshot: ChecksSnapshot | undefined;
  const checksLoop = blockingLoop(signal, opts.backoff, async (index) => {
    const { checks, meta } = await client.health.state('any', { ...query, index });
    return { meta, deliver: (reset: boolean) => {
      const next = checksSnapshot(checks);
      const before = snapshot;
      snapshot = next;
      if (opts.onResponse) safely('onResponse', () => opts.onResponse!(meta));
      if (before === undefined || reset) safely('onUpdate', () => opts.onChange('all'));
      else {
        const changed = changedServices(before, next);
        if (changed.size > 0) safely('onUpdate', () => opts.onChange(changed));
      }
    } };
  }, (error, failures, retryInMs) => {
    snapshot = undefined;
    failed(error, failures, retryInMs);
  });
  let seenCatalog = false;
  const catalogLoop = blockingLoop(signal, opts.backoff, async (index) => {
    const { meta } = await client.catalog.services({ ...query, index });
    return { meta, deliver: () => {
      // The first answer only sets the index: the checks loop's first answer already says 'all'.
      if (seenCatalog) safely('onUpdate', () => opts.onChange('all'));
      seenCatalog = true;
    } };
  }, failed);
  const fault = (error: unknown): void => {
    if (channels.consulWatchFault.hasSubscribers) channels.consulWatchFault.publish({ owner, service: '*', where: 'loop', error });
  };
  checksLoop.catch(fault);
  catalogLoop.catch(fault);
  return { stop: () => stopper.abort() };

  function asFarolError(error: unknown): FarolError {
    if (error instanceof FarolError) return error;
    return new FarolError('CONSUL_ERROR', `Consul change detector failed: ${String(error)}`, { cause: error });
  }

  /**
   * The blocking loop of watch.ts, with the answer's handling left to `read`: an answer whose
   * index moved is delivered (with reset=true when it is the first after an error or a reset).
   */
  async function blockingLoop(
    stop: AbortSignal,
    backoff: BackoffOptions | undefined,
    read: (index: number) => Promise<{ meta: QueryMeta; deliver: (reset: boolean) => void }>,
    failed: (error: FarolError, failures: number, retryInMs: number) => void,
  ): Promise<void> {
    const bucket = new TokenBucket(DEFAULT_WATCH_RATE_LIMIT);
    let index = 0;
    let failures = 0;
    let restarted = false;
    while (!stop.aborted) {
      await afterPendingIo();
      const wait = bucket.take(performance.now());
      if (wait > 0) await longSleep(wait, { signal: stop });
      if (stop.aborted) break;
      try {
        const { meta, deliver } = await read(index);
        const tooStale = tooStaleError('*', meta, opts.maxStaleMs);
        if (tooStale) throw tooStale;
        failures = 0;
        const step = nextBlockingIndex(index, meta.lastIndex);
        if (step.reset) restarted = true;
        index = step.index;
        if (!step.changed) continue;
        deliver(restarted);
        restarted = false;
      } catch (caught) {
        if (stop.aborted) break;
        failures += 1;
        index = 0;
        restarted = true;
        const delay = backoffDelay(failures, backoff);
        failed(asFarolError(caught), failures, delay);
        await longSleep(delay, { signal: stop });
      }
    }
  }
}
