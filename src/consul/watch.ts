import { FarolError } from '../errors.js';
import { channels, eventError, type EventOwner } from '../events/channels.js';
import { componentEvents } from '../events/owner.js';
import type { Logger } from '../log/logger.js';
import { longSleep } from '../timers/long-timeout.js';
import { backoffDelay } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { nextBlockingIndex } from './blocking-index.js';
import { afterPendingIo } from './next-turn.js';
import type { ConsulClient } from './client.js';
import { TokenBucket } from './rate-limit.js';
import type { TokenBucketOptions } from './rate-limit.js';
import { validateConsistency } from './query.js';
import { DEFAULT_DISCOVERY_CONSISTENCY, stalenessOf, tooStaleError } from './staleness.js';
import type { ConsistencyMode, QueryMeta, ServiceEntry } from './types.js';

export interface WatchHealthServiceOptions {
  passing?: boolean;
  tag?: string;
  /** Longest time one blocking query waits, a Go duration. Default "5m" (Consul's default). */
  wait?: string;
  /**
   * Read consistency. Default 'stale' (DEFAULT_DISCOVERY_CONSISTENCY): any server answers, so
   * discovery keeps refreshing during leader elections and quorum loss; each update's meta says
   * how stale (lastContactMs, knownLeader).
   */
  consistency?: ConsistencyMode;
  /**
   * With stale reads: an answer from a server that has not heard from the leader for longer than
   * this is not used. Sent to Consul as ?max_stale (the agent then asks the leader instead) and
   * checked on every answer: one still staler is a failure (onError; the caller keeps what it had).
   * Default: no bound.
   */
  maxStaleMs?: number;
  signal?: AbortSignal;
  /** Lines of this watch go to this logger instead of the client's (its events get an owner of their own). */
  logger?: Logger;
  /** The owner to publish this watch's events under (the Farol client watching); default the Consul client's. */
  events?: EventOwner;
  /**
   * Called with the full list each time the index moves forward (and first with the initial list),
   * and Consul's QueryMeta of that answer: lastIndex, knownLeader, lastContactMs (how stale),
   * resultsFilteredByAcls (the token may not read this service).
   */
  onUpdate: (entries: ServiceEntry[], meta: QueryMeta) => void;
  /** Called after every successful answer, changed or not (a blocking query that timed out counts). */
  onResponse?: (meta: QueryMeta) => void;
  /** Called for each failed query; the watch keeps retrying with backoff until stopped. */
  onError?: (error: FarolError) => void;
  /** Retry delays after errors. Default base 250 ms, max 10 s, full jitter. */
  backoff?: BackoffOptions;
  /** Pace of queries when results churn. Default burst 3, then one per second. */
  rateLimit?: TokenBucketOptions;
}

export interface HealthServiceWatch {
  stop(): void;
  /** The first list, or the FarolError of the very first query. Never an unhandled rejection. */
  firstResult: Promise<ServiceEntry[]>;
}

/**
 * At most 4 queries a second per watch once a burst of 5 is spent: bounded load on Consul even when
 * its index churns, yet a change after a burst of changes (an instance registering, then passing)
 * still reaches the client within 250 ms. At one a second, a new instance waited up to a second.
 */
export const DEFAULT_WATCH_RATE_LIMIT: TokenBucketOptions = { burst: 5, intervalMs: 250 };

function asFarolError(error: unknown): FarolError {
  if (error instanceof FarolError) return error;
  return new FarolError('CONSUL_ERROR', `Consul watch failed: ${String(error)}`, { cause: error });
}

/** Waits `ms`, or less if the signal aborts; never throws. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  // Chained: a backoff or rate limit configured beyond 2^31-1 ms must not become a 1 ms loop.
  await longSleep(ms, { signal });
}

/**
 * Follows /v1/health/service/:service with blocking queries in one loop. The index moves by
 * Consul's documented rules (blocking-index.ts); after an error the index restarts from 0, so
 * the first answer after a reconnect (for example to a restarted dev agent whose index began
 * again) is delivered at once. Errors are logged at warn, passed to onError and retried with
 * exponential backoff and full jitter. Nothing it does can end in an unhandled rejection.
 */
export function watchHealthService(
  client: ConsulClient,
  service: string,
  opts: WatchHealthServiceOptions,
): HealthServiceWatch {
  validateConsistency(opts, 'consistency');
  const consistency = opts.consistency ?? DEFAULT_DISCOVERY_CONSISTENCY;
  const events = opts.events !== undefined || opts.logger === undefined
    ? { owner: opts.events ?? client.owner, close: () => undefined }
    : componentEvents('consul', client.address, { logger: opts.logger });
  const { owner } = events;
  const stopper = new AbortController();
  const signal = opts.signal ? AbortSignal.any([stopper.signal, opts.signal]) : stopper.signal;
  const bucket = new TokenBucket(opts.rateLimit ?? DEFAULT_WATCH_RATE_LIMIT);

  let settled = false;
  let resolveFirst: (entries: ServiceEntry[]) => void = () => undefined;
  let rejectFirst: (error: FarolError) => void = () => undefined;
  const firstResult = new Promise<ServiceEntry[]>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  firstResult.catch(() => undefined);
  const settleFirst = (outcome: { entries: ServiceEntry[] } | { error: FarolError }): void => {
    if (settled) return;
    settled = true;
    if ('entries' in outcome) resolveFirst(outcome.entries);
    else rejectFirst(outcome.error);
  };

  const safely = (what: 'onResponse' | 'onUpdate' | 'onError', callback: () => void): void => {
    try {
      callback();
    } catch (error) {
      if (channels.consulWatchFault.hasSubscribers) channels.consulWatchFault.publish({ owner, service, where: what, error });
    }
  };

  const loop = async (): Promise<void> => {
    let index = 0;
    let failures = 0;
    while (!signal.aborted) {
      await afterPendingIo();
      await pause(bucket.take(performance.now()), signal);
      if (signal.aborted) break;
      try {
        const { entries, meta } = await client.health.service(service, {
          passing: opts.passing,
          tag: opts.tag,
          index,
          wait: opts.wait,
          consistency,
          ...(opts.maxStaleMs === undefined ? {} : { maxStaleMs: opts.maxStaleMs }),
          signal,
        });
        const tooStale = tooStaleError(service, meta, opts.maxStaleMs);
        if (tooStale) throw tooStale;
        failures = 0;
        if (opts.onResponse) {
          const onResponse = opts.onResponse;
          safely('onResponse', () => onResponse(meta));
        }
        const step = nextBlockingIndex(index, meta.lastIndex);
        if (step.reset && channels.consulWatchReset.hasSubscribers) {
          channels.consulWatchReset.publish({ owner, service, previous: index, returned: meta.lastIndex });
        }
        index = step.index;
        if (channels.consulWatchAnswer.hasSubscribers) {
          channels.consulWatchAnswer.publish({ owner, service, consistency, changed: step.changed, instances: entries.length, consul: stalenessOf(meta) });
        }
        if (!step.changed) continue;
        settleFirst({ entries });
        safely('onUpdate', () => opts.onUpdate(entries, meta));
      } catch (caught) {
        if (signal.aborted) break;
        const error = asFarolError(caught);
        failures += 1;
        index = 0;
        const delay = backoffDelay(failures, opts.backoff);
        if (channels.consulWatchError.hasSubscribers) {
          channels.consulWatchError.publish({ owner, service, error: eventError(error), failures, retryInMs: delay });
        }
        settleFirst({ error });
        if (opts.onError) {
          const onError = opts.onError;
          safely('onError', () => onError(error));
        }
        await pause(delay, signal);
      }
    }
    settleFirst({ error: new FarolError('ABORTED', `The watch of ${service} was stopped before its first result`) });
  };

  loop().catch((error: unknown) => {
    if (channels.consulWatchFault.hasSubscribers) channels.consulWatchFault.publish({ owner, service, where: 'loop', error });
    settleFirst({ error: asFarolError(error) });
  }).finally(() => events.close());

  return { stop: () => stopper.abort(), firstResult };
}
