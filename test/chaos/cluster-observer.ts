/**
 * What discovery saw during a cluster chaos scenario, from Farol's own diagnostics channels and
 * its own watch code:
 * - the gap: the longest time from a failed query of the caller's watch to its next answer;
 * - what a watch in the same (default) consistency mode was told: X-Consul-KnownLeader false
 *   answers and the largest X-Consul-LastContact;
 * - what a stale read (?stale) at the caller's agent would have been: the largest LastContact,
 *   polled by the test (Farol's discovery has no stale mode yet, so this is the test's oracle).
 */
import { request } from 'undici';
import { ConsulClient, watchHealthService, type HealthServiceWatch } from '../../src/consul/index.js';
import { channels, type ConsulRequestEnd, type ConsulWatchError } from '../../src/events/channels.js';

export interface DiscoveryFigures {
  /** Longest time discovery could not refresh (first failed query to the next answer), ms. */
  gapMs: number;
  /** Failed queries of the caller's watch. */
  watchErrors: number;
  /** Answers of a default-mode watch that said no leader was known. */
  noLeaderAnswers: number;
  /** Largest X-Consul-LastContact of a default-mode answer, ms. */
  maxLastContactMs: number;
  /** Largest X-Consul-LastContact of a ?stale read at the caller's agent, ms; -1 when none answered. */
  maxStaleLastContactMs: number;
  /** ?stale reads that failed (the agent itself down, or no server reachable). */
  staleReadFailures: number;
}

export interface DiscoveryObserver {
  /** Starts a scenario's figures afresh. */
  reset(): void;
  figures(): DiscoveryFigures;
  close(): Promise<void>;
}

/**
 * Observes discovery of `service` by the caller (whose watch publishes on the channels) and runs
 * its own default-mode watch and ?stale poll against `addresses` (the caller's agent list).
 */
export function observeDiscovery(service: string, addresses: string[], opts: { stalePollMs?: number } = {}): DiscoveryObserver {
  let outageSince: number | undefined;
  let figures: DiscoveryFigures = fresh();
  function fresh(): DiscoveryFigures {
    return { gapMs: 0, watchErrors: 0, noLeaderAnswers: 0, maxLastContactMs: 0, maxStaleLastContactMs: -1, staleReadFailures: 0 };
  }

  // The caller's watch and the observer's own both publish; the observer's Consul client is told apart by owner.
  const observerClient = new ConsulClient({ address: addresses, timeoutMs: 2000 });
  const fromObserver = (owner: unknown): boolean => owner === observerClient.owner;

  const onWatchError = (message: unknown): void => {
    const event = message as ConsulWatchError;
    if (event.service !== service || fromObserver(event.owner)) return;
    figures.watchErrors += 1;
    outageSince ??= performance.now();
  };
  const onRequestEnd = (message: unknown): void => {
    const event = message as ConsulRequestEnd;
    if (fromObserver(event.owner) || event.status !== 200 || !event.path.startsWith(`/v1/health/service/${service}`)) return;
    if (outageSince === undefined) return;
    figures.gapMs = Math.max(figures.gapMs, performance.now() - outageSince);
    outageSince = undefined;
  };
  channels.consulWatchError.subscribe(onWatchError);
  channels.consulRequestEnd.subscribe(onRequestEnd);

  const watch: HealthServiceWatch = watchHealthService(observerClient, service, {
    passing: true,
    wait: '10s',
    onUpdate: () => undefined,
    onResponse: (meta) => {
      if (!meta.knownLeader) figures.noLeaderAnswers += 1;
      figures.maxLastContactMs = Math.max(figures.maxLastContactMs, meta.lastContactMs);
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
        if (response.statusCode === 200 && Number.isFinite(lastContact)) figures.maxStaleLastContactMs = Math.max(figures.maxStaleLastContactMs, lastContact);
        else figures.staleReadFailures += 1;
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
      outageSince = undefined;
    },
    figures() {
      const open = outageSince === undefined ? 0 : performance.now() - outageSince;
      return { ...figures, gapMs: Math.round(Math.max(figures.gapMs, open)) };
    },
    async close() {
      polling = false;
      await poll;
      watch.stop();
      channels.consulWatchError.unsubscribe(onWatchError);
      channels.consulRequestEnd.unsubscribe(onRequestEnd);
      await observerClient.close();
    },
  };
}
