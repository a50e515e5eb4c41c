/**
 * Blocking queries as Consul runs them (agent/http.go parseWait, agent/consul/rpc.go blockingQuery):
 * `index` > 0 makes a read block until the index relevant to that read rises above it, or until
 * `wait` (default 5m, capped at 10m) plus a random jitter of up to wait/16 has passed.
 * `wait` without `index` does not block. The clock is injectable for tests.
 * What wakes parked queries: the shared RaftIndex (raft-index.ts), followed by the router.
 */
import { longTimers, type Timers } from '../timers/long-timeout.js';

// The parameters are read with the other query parameters; re-exported for the blocking readers.
export { parseBlockingParams, type BlockingParams } from './decode-query.js';

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;
export const JITTER_FRACTION = 16;

export type { Timers };

/** Node's timers, chained beyond 2^31-1 ms: check intervals and TTLs of 720h are legal. */
export const realTimers: Timers = longTimers();

/** How long a blocking query may hold: the wait clamped to (0, 10m], 5m if unset, plus jitter. */
export function blockingTimeoutMs(waitMs: number | undefined, random: () => number = Math.random): number {
  let timeout = waitMs === undefined || waitMs <= 0 ? DEFAULT_WAIT_MS : Math.min(waitMs, MAX_WAIT_MS);
  timeout += Math.floor(random() * (timeout / JITTER_FRACTION));
  return timeout;
}

/** X-Consul-Index is never 0: Consul answers 1 for an empty history. */
export function headerIndex(index: number): number {
  return index < 1 ? 1 : index;
}

interface Waiter {
  currentIndex: () => number;
  minIndex: number;
  wake: () => void;
}

/**
 * Parked blocking queries. `notify()` after every change wakes exactly the waiters whose own
 * index rose above the index they hold, so a change to service A does not wake a watch on B.
 */
export class IndexWaiters {
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly timers: Timers = realTimers) {}

  get size(): number {
    return this.waiters.size;
  }

  /** Resolves when `currentIndex()` > `minIndex`, after `timeoutMs`, or when `signal` aborts; never rejects. */
  wait(currentIndex: () => number, minIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (minIndex === 0 || currentIndex() > minIndex || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        currentIndex,
        minIndex,
        wake: () => {
          this.waiters.delete(waiter);
          this.timers.clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          resolve();
        },
      };
      const timer = this.timers.setTimeout(waiter.wake, timeoutMs);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      this.waiters.add(waiter);
    });
  }

  notify(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.currentIndex() > waiter.minIndex) waiter.wake();
    }
  }

  /** Releases every waiter (shutdown). */
  wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter.wake();
  }
}
