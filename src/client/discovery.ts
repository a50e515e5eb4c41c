import { FarolError, isFarolError } from '../errors.js';
import { watchHealthService } from '../consul/index.js';
import type { ConsulClient, ServiceEntry } from '../consul/index.js';
import type { Logger } from '../log/logger.js';
import { instancesFromEntries, type Instance } from './instance.js';

export interface DiscoveryOptions {
  consul: ConsulClient;
  logger: Logger;
  /** Blocking-query wait, e.g. '5m'; the watch's default when omitted. */
  wait?: string;
  /** Called whenever the passing set of a service changes. */
  onChange?: (service: string, instances: readonly Instance[]) => void;
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
  instances: readonly Instance[] | undefined;
  first: Promise<readonly Instance[]>;
  stop(): void;
  failFirst(error: FarolError): void;
}

export function createDiscovery(opts: DiscoveryOptions): Discovery {
  const { consul, logger } = opts;
  const watches = new Map<string, ServiceWatch>();
  let closed = false;

  function closedError(): FarolError {
    return new FarolError('ABORTED', 'this Farol client has been closed', { hint: 'create a new client with createClient()' });
  }

  function startWatch(service: string): ServiceWatch {
    const controller = new AbortController();
    let resolveFirst!: (instances: readonly Instance[]) => void;
    let rejectFirst!: (error: FarolError) => void;
    const state: ServiceWatch = {
      instances: undefined,
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

    const update = (entries: ServiceEntry[]): void => {
      const instances = instancesFromEntries(entries);
      const changed = state.instances === undefined || signature(state.instances) !== signature(instances);
      state.instances = instances;
      resolveFirst(instances);
      if (!changed) return;
      logger.info(
        {
          event: 'discovery',
          service,
          passing: instances.length,
          instances: instances.map(({ id, address, port }) => ({ id, address, port })),
        },
        `service '${service}': ${instances.length} passing instance(s)`,
      );
      opts.onChange?.(service, instances);
    };

    const watch = watchHealthService(consul, service, {
      passing: true,
      signal: controller.signal,
      logger,
      ...(opts.wait === undefined ? {} : { wait: opts.wait }),
      onUpdate: (entries) => update(entries),
      // The watch itself logs each failure at warn; this only records what the client serves meanwhile.
      onError: (error) => {
        logger.debug(
          { event: 'discovery_error', service, code: error.code, error: error.message, cached: state.instances?.length },
          `watching service '${service}' failed; ${state.instances ? 'serving the last known instances' : 'no instances known yet'}`,
        );
      },
    });
    watch.firstResult.then(update, (error: unknown) => {
      const farolError = asConsulError(error, consul);
      logger.warn({ event: 'discovery_error', service, code: farolError.code, error: farolError.message }, farolError.message);
      // With nothing cached, drop the watch so the next call asks Consul afresh instead of
      // waiting for the watch's backoff.
      if (state.instances === undefined && watches.get(service) === state) {
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
      return state.instances ?? state.first;
    },

    snapshot() {
      const known = new Map<string, readonly Instance[]>();
      for (const [service, state] of watches) if (state.instances) known.set(service, state.instances);
      return known;
    },

    async noHealthyInstanceError(service) {
      const hint = `start one with farol serve --service ${service}, or check its health in Consul`;
      let counts = '';
      try {
        const { entries } = await consul.health.service(service);
        counts = entries.length === 0 ? ' (none registered)' : ` (${entries.length} registered, 0 passing)`;
      } catch (error) {
        logger.debug({ event: 'discovery_error', service, error: String(error) }, 'could not count registered instances');
      }
      logger.warn({ event: 'no_healthy_instance', service }, `no healthy instance of service '${service}'${counts}`);
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

function signature(instances: readonly Instance[]): string {
  return instances.map((i) => `${i.id}@${i.address}:${i.port}`).join(',');
}

function asConsulError(error: unknown, consul: ConsulClient): FarolError {
  if (isFarolError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FarolError('CONSUL_ERROR', `asking Consul at ${consul.address} failed: ${message}`, {
    hint: 'check CONSUL_HTTP_ADDR and that the Consul agent is running',
    cause: error,
  });
}
