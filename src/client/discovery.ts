import { FarolError, isFarolError } from '../errors.js';
import { afterPendingIo, DEFAULT_DISCOVERY_CONSISTENCY, hiddenByAclError, stalenessOf, tooStaleError, watchHealthService, watchServiceChanges } from '../consul/index.js';
import type { ConsistencyMode, ConsulClient, HealthServiceWatch, QueryMeta, ServiceChangesWatch, ServiceEntry } from '../consul/index.js';
import { channels, eventError, type EventOwner } from '../events/channels.js';
import { DEFAULT_IDLE_RELEASE_MS, idleServices, idleSweepIntervalMs } from './idle-watches.js';
import { instancesFromEntries, type Instance } from './instance.js';
import { DEFAULT_SERVED_SET_OPTIONS, ServedSet, type ServedSetOptions } from './served-set.js';

export interface DiscoveryOptions {
  consul: ConsulClient;
  /** Whose events discovery publishes: the client's. */
  owner: EventOwner;
  /** Blocking-query wait, e.g. '5m'; the watch's default when omitted. */
  wait?: string;
  /** Read consistency of the watches; default 'stale' (see DEFAULT_DISCOVERY_CONSISTENCY). */
  consistency?: ConsistencyMode;
  /** With 'stale': an answer whose server last heard from the leader longer ago than this counts as a failed read. */
  maxStaleMs?: number;
  /** Called whenever the passing set of a service changes. */
  onChange?: (service: string, instances: readonly Instance[]) => void;
  /** Staleness limit and the grace for empty answers after an outage (see ServedSet). */
  freshness?: Partial<ServedSetOptions>;
  /**
   * Most connections held to the agent for the watches (default DEFAULT_MAX_AGENT_CONNECTIONS, 64,
   * at least 3): the first services watched get a blocking query each while the budget lasts
   * (splitConnections), the others share one change detector.
   */
  maxConnections?: number;
  /** A service not called for this long (ms) stops being watched; the next call starts again. Default 5 min; Infinity or 0 never releases. */
  idleReleaseMs?: number;
  /** Milliseconds, for tests; default performance.now. */
  now?: () => number;
}

/**
 * The passing instances of each service, kept fresh by watches (a blocking query per service
 * within a budget of connections, then one shared change detector; idle services released), so
 * that calls are served from memory instead of asking Consul every time.
 */
export interface Discovery {
  /** The current passing set; the first request for a service waits for Consul's first answer. */
  passingInstances(service: string): Promise<readonly Instance[]>;
  /** The passing sets known right now, by service. */
  snapshot(): ReadonlyMap<string, readonly Instance[]>;
  /** The NO_HEALTHY_INSTANCE error for a service, with registered/passing counts when Consul gives them. */
  noHealthyInstanceError(service: string): Promise<FarolError>;
  /** Stops every watch; later requests are refused. */
  close(): void;
}

interface ServiceWatch {
  set: ServedSet;
  /** 'own': its own blocking query; 'shared': refreshed when the shared change detector names it. */
  mode: 'own' | 'shared';
  /** Set once the first answer came. */
  answered: boolean;
  /** When a call last asked for it (opts.now's clock). */
  lastUsed: number;
  first: Promise<readonly Instance[]>;
  signal: AbortSignal;
  stop(): void;
  failFirst(error: FarolError): void;
}

/**
 * Most connections discovery holds to one agent. Consul refuses an IP's connections beyond
 * http_max_conns_per_client (200 by default) with 429s, and each blocking query holds one.
 */
export const DEFAULT_MAX_AGENT_CONNECTIONS = 64;
/** The shared change detector's two blocking queries (checks and catalog). */
const DETECTOR_QUERIES = 2;
/** Most non-blocking reads of changed services at once, in shared mode. */
const MAX_REFRESHES = 4;

/**
 * How discovery spends `maxConnections` (at least 3): the shared change detector's two blocking
 * queries, up to 4 non-blocking reads of the services it names, and what is left for services
 * with a blocking query of their own.
 */
export function splitConnections(maxConnections: number): { own: number; detector: number; refreshes: number } {
  const refreshes = Math.max(1, Math.min(MAX_REFRESHES, maxConnections - DETECTOR_QUERIES));
  return { own: Math.max(0, maxConnections - DETECTOR_QUERIES - refreshes), detector: DETECTOR_QUERIES, refreshes };
}

export function createDiscovery(opts: DiscoveryOptions): Discovery {
  const { consul, owner } = opts;
  const watches = new Map<string, ServiceWatch>();
  const freshness: ServedSetOptions = { ...DEFAULT_SERVED_SET_OPTIONS, ...opts.freshness };
  const now = opts.now ?? (() => performance.now());
  const budget = splitConnections(opts.maxConnections ?? DEFAULT_MAX_AGENT_CONNECTIONS);
  const idleMs = opts.idleReleaseMs ?? DEFAULT_IDLE_RELEASE_MS;
  let ownCount = 0;
  let closed = false;
  // The read options every watch and refresh shares, made once.
  const staleness = {
    ...(opts.consistency === undefined ? {} : { consistency: opts.consistency }),
    ...(opts.maxStaleMs === undefined ? {} : { maxStaleMs: opts.maxStaleMs }),
  };
  const blocking = { ...staleness, ...(opts.wait === undefined ? {} : { wait: opts.wait }) };

  // Design (issue 15): Consul holds a blocking query's connection for up to `wait`, so one query
  // per service cannot scale past the agent's per-IP limit. Here the first services get a
  // blocking query each (the quickest updates) while the budget lasts (splitConnections); the
  // others share one change detector (watch-catalog.ts: two blocking queries, on every check and
  // on the catalog) and are re-read with non-blocking reads, a few at a time, when it names
  // them. So discovery holds at most maxConnections connections to the agent whatever the number
  // of services, and a change still arrives within one detector wake-up plus one read. HTTP/2
  // multiplexing (undici allowH2) needs HTTPS to the agent, so it cannot be the general answer.
  const shared = new Map<string, WatchState>();
  const refreshQueue = new Set<string>();
  let refreshing = 0;
  let detector: ServiceChangesWatch | undefined;

  const sweeper = idleMs > 0 && Number.isFinite(idleMs)
    ? setInterval(() => releaseIdle(), idleSweepIntervalMs(idleMs))
    : undefined;
  sweeper?.unref();

  function closedError(): FarolError {
    return new FarolError('CLIENT_CLOSED', 'this Farol client has been closed', { hint: 'create a new client with createClient()' });
  }

  function releaseIdle(): void {
    const lastUsed = [...watches].map(([service, state]) => [service, state.lastUsed] as const);
    for (const service of idleServices(lastUsed, now(), idleMs)) {
      const state = watches.get(service);
      if (!state) continue;
      drop(service, state);
      if (channels.discoveryReleased.hasSubscribers) channels.discoveryReleased.publish({ owner, service, idleMs });
    }
  }

  /** Stops and forgets one service's watch (idle, or its first answer failed). */
  function drop(service: string, state: ServiceWatch): void {
    if (watches.get(service) !== state) return;
    watches.delete(service);
    state.stop();
    if (state.mode === 'own') ownCount -= 1;
    else {
      shared.delete(service);
      refreshQueue.delete(service);
      if (shared.size === 0) {
        detector?.stop();
        detector = undefined;
      }
    }
  }

  function newState(service: string, mode: 'own' | 'shared', stopMore: () => void): ServiceWatch & {
    update(entries: ServiceEntry[], meta?: QueryMeta): void;
    responded(meta: QueryMeta): void;
    errored(error: FarolError): void;
    firstFailed(error: unknown): void;
  } {
    const controller = new AbortController();
    let resolveFirst!: (instances: readonly Instance[]) => void;
    let rejectFirst!: (error: FarolError) => void;
    const state = {
      set: new ServedSet(freshness),
      mode,
      answered: false,
      lastUsed: now(),
      first: new Promise<readonly Instance[]>((resolve, reject) => {
        resolveFirst = resolve;
        rejectFirst = reject;
      }),
      signal: controller.signal,
      stop: () => {
        controller.abort();
        stopMore();
      },
      failFirst: (error: FarolError) => rejectFirst(error),
      update: (entries: ServiceEntry[], meta?: QueryMeta): void => {
        const answer = state.set.answer(instancesFromEntries(entries), now());
        state.answered = true;
        resolveFirst(state.set.known ?? []);
        if (answer.kind === 'held') {
          if (channels.discoveryHeld.hasSubscribers) channels.discoveryHeld.publish({ owner, service, known: answer.known, graceMs: answer.graceMs });
          return;
        }
        if (answer.kind === 'unchanged') return;
        const { instances } = answer;
        if (channels.discoveryUpdate.hasSubscribers) {
          channels.discoveryUpdate.publish({
            owner,
            service,
            instances: instances.map(({ id, address, port }) => ({ id, address, port })),
            ...(meta === undefined ? {} : { consul: stalenessOf(meta) }),
          });
        }
        opts.onChange?.(service, instances);
      },
      responded: (meta: QueryMeta): void => {
        if (state.set.failing) {
          if (channels.discoveryRecovered.hasSubscribers) channels.discoveryRecovered.publish({ owner, service, consul: stalenessOf(meta) });
        }
        state.set.succeeded(now());
      },
      // The watch itself logs each failure; this records, once an outage, what the client serves meanwhile.
      errored: (error: FarolError): void => {
        if (!state.set.failed(now())) return;
        const known = state.set.known;
        if (known === undefined) return;
        if (channels.discoveryStale.hasSubscribers) {
          channels.discoveryStale.publish({ owner, service, error: eventError(error), serving: known.length, maxStalenessMs: freshness.maxStalenessMs });
        }
      },
      firstFailed: (error: unknown): void => {
        const farolError = asConsulError(error, consul);
        if (channels.discoveryError.hasSubscribers) channels.discoveryError.publish({ owner, service, error: eventError(farolError), stage: 'watch' });
        // With nothing cached, drop the watch so the next call asks Consul afresh instead of
        // waiting for the watch's backoff.
        if (!state.answered) drop(service, state);
        rejectFirst(farolError);
      },
    };
    // Callers attach their own handlers; this one only keeps a failed first answer from
    // being reported as unhandled when every caller has already given up.
    state.first.catch(() => undefined);
    return state;
  }

  type WatchState = ReturnType<typeof newState>;

  function startOwnWatch(service: string): ServiceWatch {
    // stop() runs only after this function returned, so `watch` is set by then.
    const state = newState(service, 'own', () => watch.stop());
    const watch: HealthServiceWatch = watchHealthService(consul, service, {
      passing: true,
      signal: state.signal,
      events: owner,
      ...blocking,
      onUpdate: (entries, meta) => state.update(entries, meta),
      onResponse: (meta) => state.responded(meta),
      onError: (error) => state.errored(error),
    });
    watch.firstResult.then((entries) => state.update(entries), (error: unknown) => state.firstFailed(error));
    ownCount += 1;
    return state;
  }

  function startSharedWatch(service: string): ServiceWatch {
    const state = newState(service, 'shared', () => undefined);
    shared.set(service, state);
    detector ??= watchServiceChanges(consul, {
      events: owner,
      ...blocking,
      onChange: (services) => {
        for (const name of services === 'all' ? shared.keys() : services) if (shared.has(name)) refreshQueue.add(name);
        pump();
      },
      onError: (error) => {
        for (const each of shared.values()) if (each.answered) each.errored(error);
      },
    });
    refreshQueue.add(service);
    pump();
    return state;
  }

  function pump(): void {
    while (refreshing < budget.refreshes && refreshQueue.size > 0) {
      const service = refreshQueue.values().next().value as string;
      refreshQueue.delete(service);
      const state = shared.get(service);
      if (!state) continue;
      refreshing += 1;
      void refresh(service, state).then(afterPendingIo).finally(() => {
        refreshing -= 1;
        pump();
      });
    }
  }

  /** One non-blocking read of a shared-mode service; never throws. */
  async function refresh(service: string, state: WatchState): Promise<void> {
    try {
      const { entries, meta } = await consul.health.service(service, {
        passing: true,
        consistency: DEFAULT_DISCOVERY_CONSISTENCY,
        ...staleness,
        signal: state.signal,
      });
      const tooStale = tooStaleError(service, meta, opts.maxStaleMs);
      if (tooStale) throw tooStale;
      if (watches.get(service) !== state) return;
      state.responded(meta);
      state.update(entries, meta);
    } catch (error) {
      if (state.signal.aborted || watches.get(service) !== state) return;
      if (!state.answered) state.firstFailed(error);
      else state.errored(asConsulError(error, consul));
    }
  }

  return {
    async passingInstances(service) {
      if (closed) throw closedError();
      let state = watches.get(service);
      if (!state) {
        state = ownCount < budget.own ? startOwnWatch(service) : startSharedWatch(service);
        watches.set(service, state);
      }
      state.lastUsed = now();
      if (!state.answered) return state.first;
      const serving = state.set.serve(now());
      if (serving.kind === 'serving') return serving.instances;
      if (serving.kind === 'unknown') return state.first;
      throw new FarolError(
        'CONSUL_UNREACHABLE',
        `Consul has not answered about '${service}' for ${Math.round(serving.staleMs / 1000)} s, longer than the staleness limit (${Math.round(freshness.maxStalenessMs / 1000)} s)`,
        { hint: 'check CONSUL_HTTP_ADDR and that the Consul agent is running, or raise the staleness limit (discovery.freshness.maxStalenessMs)', details: { service, consul: consul.address } },
      );
    },

    snapshot() {
      const known = new Map<string, readonly Instance[]>();
      for (const [service, state] of watches) if (state.set.known) known.set(service, state.set.known);
      return known;
    },

    async noHealthyInstanceError(service) {
      const hint = `start one (createService({ name: '${service}' }) or farol serve --service ${service}), or check its health in Consul`;
      let counts = '';
      let registered: number | undefined;
      try {
        const { entries, meta } = await consul.health.service(service);
        const hidden = hiddenByAclError(service, { entries, meta }, consul);
        if (hidden) return hidden;
        registered = entries.length;
        counts = entries.length === 0 ? ' (none registered)' : ` (${entries.length} registered, 0 passing)`;
      } catch (error) {
        if (channels.discoveryError.hasSubscribers) channels.discoveryError.publish({ owner, service, error: eventError(error), stage: 'count' });
      }
      if (channels.discoveryEmpty.hasSubscribers) channels.discoveryEmpty.publish({ owner, service, registered });
      return new FarolError('NO_HEALTHY_INSTANCE', `no healthy instance of service '${service}' in Consul${counts}`, {
        hint,
        details: { service, consul: consul.address },
      });
    },

    close() {
      if (closed) return;
      closed = true;
      if (sweeper) clearInterval(sweeper);
      detector?.stop();
      detector = undefined;
      refreshQueue.clear();
      shared.clear();
      for (const state of watches.values()) {
        state.stop();
        state.failFirst(closedError());
      }
      watches.clear();
    },
  };
}

function asConsulError(error: unknown, consul: ConsulClient): FarolError {
  if (isFarolError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FarolError('CONSUL_ERROR', `asking Consul at ${consul.address} failed: ${message}`, {
    hint: 'check CONSUL_HTTP_ADDR and that the Consul agent is running',
    cause: error,
  });
}
