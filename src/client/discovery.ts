import { FarolError, isFarolError } from '../errors.js';
import { hiddenByAclError, stalenessOf, watchHealthService } from '../consul/index.js';
import type { ConsistencyMode, ConsulClient, QueryMeta, ServiceEntry } from '../consul/index.js';
import { channels, eventError, type EventOwner } from '../events/channels.js';
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
  /** Milliseconds, for tests; default performance.now. */
  now?: () => number;
}

/**
 * The passing instances of each service, kept fresh by one shared blocking-query watch per
 * service, so that calls are served from memory instead of asking Consul every time.
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
  /** Set once the first answer came. */
  answered: boolean;
  first: Promise<readonly Instance[]>;
  stop(): void;
  failFirst(error: FarolError): void;
}

export function createDiscovery(opts: DiscoveryOptions): Discovery {
  const { consul, owner } = opts;
  const watches = new Map<string, ServiceWatch>();
  const freshness: ServedSetOptions = { ...DEFAULT_SERVED_SET_OPTIONS, ...opts.freshness };
  const now = opts.now ?? (() => performance.now());
  let closed = false;

  function closedError(): FarolError {
    return new FarolError('CLIENT_CLOSED', 'this Farol client has been closed', { hint: 'create a new client with createClient()' });
  }

  function startWatch(service: string): ServiceWatch {
    const controller = new AbortController();
    let resolveFirst!: (instances: readonly Instance[]) => void;
    let rejectFirst!: (error: FarolError) => void;
    const state: ServiceWatch = {
      set: new ServedSet(freshness),
      answered: false,
      first: new Promise((resolve, reject) => {
        resolveFirst = resolve;
        rejectFirst = reject;
      }),
      stop: () => {
        controller.abort();
        watch.stop();
      },
      failFirst: (error) => rejectFirst(error),
    };
    // Callers attach their own handlers; this one only keeps a failed first answer from
    // being reported as unhandled when every caller has already given up.
    state.first.catch(() => undefined);

    const update = (entries: ServiceEntry[], meta?: QueryMeta): void => {
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
    };

    const watch = watchHealthService(consul, service, {
      passing: true,
      signal: controller.signal,
      events: owner,
      ...(opts.wait === undefined ? {} : { wait: opts.wait }),
      ...(opts.consistency === undefined ? {} : { consistency: opts.consistency }),
      ...(opts.maxStaleMs === undefined ? {} : { maxStaleMs: opts.maxStaleMs }),
      onUpdate: (entries, meta) => update(entries, meta),
      onResponse: (meta) => {
        if (state.set.failing) {
          if (channels.discoveryRecovered.hasSubscribers) channels.discoveryRecovered.publish({ owner, service, consul: stalenessOf(meta) });
        }
        state.set.succeeded(now());
      },
      // The watch itself logs each failure; this records, once an outage, what the client serves meanwhile.
      onError: (error) => {
        if (!state.set.failed(now())) return;
        const known = state.set.known;
        if (known === undefined) return;
        if (channels.discoveryStale.hasSubscribers) {
          channels.discoveryStale.publish({ owner, service, error: eventError(error), serving: known.length, maxStalenessMs: freshness.maxStalenessMs });
        }
      },
    });
    watch.firstResult.then((entries) => update(entries), (error: unknown) => {
      const farolError = asConsulError(error, consul);
      if (channels.discoveryError.hasSubscribers) channels.discoveryError.publish({ owner, service, error: eventError(farolError), stage: 'watch' });
      // With nothing cached, drop the watch so the next call asks Consul afresh instead of
      // waiting for the watch's backoff.
      if (!state.answered && watches.get(service) === state) {
        watches.delete(service);
        state.stop();
      }
      rejectFirst(farolError);
    });
    return state;
  }

  return {
    async passingInstances(service) {
      if (closed) throw closedError();
      let state = watches.get(service);
      if (!state) {
        state = startWatch(service);
        watches.set(service, state);
      }
      if (!state.answered) return state.first;
      const serving = state.set.serve(now());
      if (serving.kind === 'serving') return serving.instances;
      if (serving.kind === 'unknown') return state.first;
      throw new FarolError(
        'CONSUL_UNREACHABLE',
        `Consul has not answered about '${service}' for ${Math.round(serving.staleMs / 1000)} s, longer than the staleness limit (${Math.round(freshness.maxStalenessMs / 1000)} s)`,
        { hint: 'check CONSUL_HTTP_ADDR and that the Consul agent is running, or raise the staleness limit', details: { service, consul: consul.address } },
      );
    },

    snapshot() {
      const known = new Map<string, readonly Instance[]>();
      for (const [service, state] of watches) if (state.set.known) known.set(service, state.set.known);
      return known;
    },

    async noHealthyInstanceError(service) {
      const hint = `start one with farol serve --service ${service}, or check its health in Consul`;
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
