/**
 * What discovery saw during a cluster chaos scenario, from Farol's own diagnostics channels and
 * its own watch code:
 * - the gap: the longest time between two answers of a default-mode watch (Farol's watch code,
 *   the caller's agent list) whose blocking wait is 1 s: how long a reader in Farol's consistency
 *   mode could not refresh, whether its queries failed or hung;
 * - the caller's own watch: failed queries and the longest time from a failure to its next answer;
 * - staleness, from a ?stale read without an index polled at the caller's agent: the largest
 *   X-Consul-LastContact and the answers with X-Consul-KnownLeader false. Consul 1.15 answers a
 *   blocking health query (index > 0) from its streaming backend, whose answers always say
 *   KnownLeader false and LastContact 0; only a read without an index (the blocking-query backend)
 *   carries real values, so the watch's own headers tell nothing here;
 * - every passing set the caller's discovery published (farol:discovery:update), with its time.
 */
import { request } from 'undici';
import { ConsulClient, watchHealthService, type HealthServiceWatch } from '../../src/consul/index.js';
import { channels, type ConsulAddressSwitch, type ConsulRequestEnd, type ConsulWatchError, type DiscoveryUpdate } from '../../src/events/channels.js';

export interface DiscoveryFigures {
  /** Longest time between two answers of a default-mode watch with a 1 s wait, ms. */
  gapMs: number;
  /** Failed queries of the caller's watch. */
  callerWatchErrors: number;
  /** Longest time from a failed query of the caller's watch to its next answer, ms. */
  callerOutageMs: number;
  /** Times the caller's Consul client moved to another agent address (farol:consul:address:switch). */
  callerAgentSwitches: number;
  /** Largest X-Consul-LastContact of a ?stale read at the caller's agent, ms; -1 when none answered. */
  maxStaleLastContactMs: number;
  /** ?stale reads answered with X-Consul-KnownLeader false. */
  staleNoLeaderAnswers: number;
  /** ?stale reads that failed (the agent itself down, or no server reachable). */
  staleReadFailures: number;
}

export interface DiscoveryObserver {
  /** Starts a scenario's figures afresh. */
  reset(): void;
  figures(): DiscoveryFigures;
  /** Resolves once the caller's watch has had an answer since its last failed query (bounded by `timeoutMs`). */
  callerRefreshed(timeoutMs: number): Promise<void>;
  /** Resolves with performance.now() of the first passing set published from now on that satisfies `test`. */
  nextUpdate(test: (ids: string[]) => boolean, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

const OBSERVER_WAIT_MS = 1000;

/**
 * Observes discovery of `service` by the caller (whose watch publishes on the channels) and runs
 * its own default-mode watch and ?stale poll against `addresses` (the caller's agent list).
 */
export function observeDiscovery(service: string, addresses: string[], opts: { stalePollMs?: number } = {}): DiscoveryObserver {
  let figures: DiscoveryFigures = fresh();
  let callerFailingSince: number | undefined;
  let lastAnswerAt = performance.now();
  function fresh(): DiscoveryFigures {
    return { gapMs: 0, callerWatchErrors: 0, callerOutageMs: 0, callerAgentSwitches: 0, maxStaleLastContactMs: -1, staleNoLeaderAnswers: 0, staleReadFailures: 0 };
  }

  const observerClient = new ConsulClient({ address: addresses, timeoutMs: 2000 });
  // The caller's watch and the observer's both publish; the observer's are told apart by owner.
  const fromObserver = (owner: unknown): boolean => owner === observerClient.owner;
  const waiters = new Set<(ids: string[], at: number) => void>();

  const onWatchError = (message: unknown): void => {
    const event = message as ConsulWatchError;
    if (event.service !== service || fromObserver(event.owner)) return;
    figures.callerWatchErrors += 1;
    callerFailingSince ??= performance.now();
  };
  const onRequestEnd = (message: unknown): void => {
    const event = message as ConsulRequestEnd;
    if (fromObserver(event.owner) || event.status !== 200 || !event.path.startsWith(`/v1/health/service/${service}`)) return;
    if (callerFailingSince === undefined) return;
    figures.callerOutageMs = Math.max(figures.callerOutageMs, Math.round(performance.now() - callerFailingSince));
    callerFailingSince = undefined;
  };
  const onSwitch = (message: unknown): void => {
    if (!fromObserver((message as ConsulAddressSwitch).owner)) figures.callerAgentSwitches += 1;
  };
  const onUpdate = (message: unknown): void => {
    const event = message as DiscoveryUpdate;
    if (event.service !== service) return;
    const ids = event.instances.map((i) => i.id).sort();
    const at = performance.now();
    for (const waiter of waiters) waiter(ids, at);
  };
  channels.consulWatchError.subscribe(onWatchError);
  channels.consulRequestEnd.subscribe(onRequestEnd);
  channels.discoveryUpdate.subscribe(onUpdate);
  channels.consulAddressSwitch.subscribe(onSwitch);

  const watch: HealthServiceWatch = watchHealthService(observerClient, service, {
    passing: true,
    wait: `${OBSERVER_WAIT_MS}ms`,
    onUpdate: () => undefined,
    onResponse: () => {
      const now = performance.now();
      figures.gapMs = Math.max(figures.gapMs, Math.round(now - lastAnswerAt));
      lastAnswerAt = now;
    },
  });

  let polling = true;
  const poll = (async () => {
    let current = 0;
    while (polling) {
      const address = addresses[current % addresses.length]!;
      try {
        const response = await request(`${address}/v1/health/service/${service}?passing&stale`, { signal: AbortSignal.timeout(2000) });
        await response.body.text();
        const lastContact = Number(response.headers['x-consul-lastcontact']);
        if (response.statusCode === 200 && Number.isFinite(lastContact)) {
          figures.maxStaleLastContactMs = Math.max(figures.maxStaleLastContactMs, lastContact);
          if (response.headers['x-consul-knownleader'] === 'false') figures.staleNoLeaderAnswers += 1;
        } else {
          figures.staleReadFailures += 1;
        }
      } catch {
        figures.staleReadFailures += 1;
        current += 1; // like the caller: move on to the next agent
      }
      await new Promise((resolve) => setTimeout(resolve, opts.stalePollMs ?? 250));
    }
  })();

  return {
    reset() {
      figures = fresh();
      callerFailingSince = undefined;
      lastAnswerAt = performance.now();
    },
    figures() {
      const now = performance.now();
      const callerOpen = callerFailingSince === undefined ? 0 : now - callerFailingSince;
      return {
        ...figures,
        gapMs: Math.round(Math.max(figures.gapMs, now - lastAnswerAt)),
        callerOutageMs: Math.round(Math.max(figures.callerOutageMs, callerOpen)),
      };
    },
    async callerRefreshed(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (callerFailingSince !== undefined) {
        if (performance.now() > deadline) throw new Error(`the caller's watch of ${service} had no answer for ${timeoutMs} ms after its last failure`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    nextUpdate(test, timeoutMs) {
      return new Promise((resolve, reject) => {
        const waiter = (ids: string[], at: number): void => {
          if (!test(ids)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve(at);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`the caller's discovery published no matching passing set of ${service} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async close() {
      polling = false;
      await poll;
      watch.stop();
      channels.consulWatchError.unsubscribe(onWatchError);
      channels.consulRequestEnd.unsubscribe(onRequestEnd);
      channels.discoveryUpdate.unsubscribe(onUpdate);
      channels.consulAddressSwitch.unsubscribe(onSwitch);
      await observerClient.close();
    },
  };
}
