/**
 * Prometheus metrics as a subscriber of the event channels: counters and histograms move on
 * events; gauges of state (instances by state, active ejections, staleness, connections) are
 * computed from what the events said when Prometheus scrapes. The names follow OpenTelemetry's
 * HTTP semantic conventions in Prometheus form; every label is bounded (see the README's table).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Registry } from 'prom-client';
import { channels, subscribe, type EventOwner, type InstanceRef } from './channels.js';
import { instrumentsFor, methodLabel, REGISTRATION_STATES, statusLabel, UNMATCHED_ROUTE, type FarolInstruments, type RegistrationStateLabel } from './metric-definitions.js';

export { resolveRegistry, instrumentsFor, HTTP_DURATION_BUCKETS, UNMATCHED_ROUTE } from './metric-definitions.js';

/** Owners whose events count: a client's and its Consul client's, or a service's and its components'. */
export type OwnerFilter = (owner: EventOwner) => boolean;

export function ownedBy(...owners: Array<EventOwner | undefined>): OwnerFilter {
  const set = new Set(owners.filter((owner): owner is EventOwner => owner !== undefined));
  return (owner) => set.has(owner);
}

export interface ServiceMetricsOptions {
  registry: Registry;
  owns: OwnerFilter;
  version: string;
}

/** Subscribes a service host's metrics; returns the function that unsubscribes them. */
export function subscribeServiceMetrics(options: ServiceMetricsOptions): () => void {
  const m = instrumentsFor(options.registry, options.version);
  const { owns } = options;
  const inFlight = new WeakSet<object>();
  const unsubscribe = [
    subscribe(channels.serviceRequestStart, (event) => {
      if (!owns(event.owner)) return;
      const method = methodLabel(event.method);
      inFlight.add(event.request);
      m.serverInFlight.set(method, (m.serverInFlight.get(method) ?? 0) + 1);
    }),
    subscribe(channels.serviceRequestEnd, (event) => {
      if (!owns(event.owner)) return;
      const method = methodLabel(event.method);
      if (inFlight.delete(event.request)) m.serverInFlight.set(method, (m.serverInFlight.get(method) ?? 1) - 1);
      m.serverDuration.observe(
        { http_request_method: method, http_route: event.route ?? UNMATCHED_ROUTE, http_response_status_code: statusLabel(event.status) },
        event.durationMs / 1000,
      );
    }),
    subscribe(channels.authOutcome, (event) => {
      if (!owns(event.owner)) return;
      const scheme = event.outcome === 'limited' ? 'basic' : schemeLabel(event.scheme);
      const reason = event.outcome === 'authenticated' ? (event.remembered ? 'remembered' : 'verified') : reasonLabel(event.reason);
      m.authOutcomesDeferred.inc(scheme, event.outcome, reason);
      if (event.outcome === 'limited') m.loginLimited.inc({ reason });
    }),
    subscribe(channels.registrationState, (event) => {
      if (!owns(event.owner)) return;
      setRegistrationState(m, event.state === 're_registered' ? 'registered' : event.state);
    }),
    subscribe(channels.serviceState, (event) => {
      if (!owns(event.owner)) return;
      if (event.state === 'started') {
        m.draining.set(0);
        if (!event.registered) setRegistrationState(m, 'unregistered');
      } else if (event.state === 'draining') m.draining.set(1);
    }),
    subscribe(channels.certificateExpiry, (event) => {
      if (!owns(event.owner)) return;
      const notAfter = Date.parse(event.notAfter);
      if (Number.isFinite(notAfter)) m.certificateNotAfter.set({ certificate: 'server' }, notAfter / 1000);
    }),
  ];
  return () => {
    for (const off of unsubscribe) off();
  };
}

function setRegistrationState(m: FarolInstruments, state: RegistrationStateLabel): void {
  for (const each of REGISTRATION_STATES) m.registrationState.set({ state: each }, each === state ? 1 : 0);
}

const SCHEMES = new Set(['basic', 'bearer', 'certificate']);

function schemeLabel(scheme: string | undefined): string {
  if (scheme === undefined) return 'none';
  const lower = scheme.toLowerCase();
  return SCHEMES.has(lower) ? lower : 'other';
}

/** Reasons are short fixed phrases in the code; anything long or odd is folded, so the label stays bounded. */
function reasonLabel(reason: string): string {
  return /^[a-z0-9 _:-]{1,48}$/i.test(reason) ? reason.replaceAll(' ', '_').toLowerCase() : 'other';
}

export interface ClientMetricsOptions {
  registry: Registry;
  owns: OwnerFilter;
  version: string;
  /** Adds farol_instance_id to http_client_request_duration_seconds: one series per instance (opt-in). */
  instanceLabels?: boolean;
  /** ms clock for ejections, rests and staleness; default performance.now. */
  now?: () => number;
}

/** What the events said about one service, read when Prometheus scrapes. */
interface ServiceView {
  passing: ReadonlyMap<string, InstanceRef>;
  ejectedUntil: Map<string, number>;
  restingUntil: Map<string, number>;
  staleSince: number | undefined;
  panic: boolean;
  connections: number;
}

/** Per registry: the views of every client subscribed to it, summed at scrape time. */
const viewsByRegistry = new WeakMap<Registry, Set<() => Map<string, ServiceView>>>();

/** Subscribes a client's metrics; returns the function that unsubscribes them. */
export function subscribeClientMetrics(options: ClientMetricsOptions): () => void {
  const m = instrumentsFor(options.registry, options.version);
  const { owns } = options;
  const now = options.now ?? (() => performance.now());
  const views = new Map<string, ServiceView>();
  const byOrigin = new Map<string, string>();
  const view = (service: string): ServiceView => {
    let existing = views.get(service);
    if (!existing) {
      existing = { passing: new Map(), ejectedUntil: new Map(), restingUntil: new Map(), staleSince: undefined, panic: false, connections: 0 };
      views.set(service, existing);
      m.panic.set({ service }, 0);
    }
    return existing;
  };
  installScrapeGauges(m, now);
  const mine = () => views;
  viewsByRegistry.get(options.registry)!.add(mine);

  const unsubscribe = [
    subscribe(channels.clientTryStart, (event) => {
      if (owns(event.owner)) m.clientTriesDeferred.inc(event.service);
    }),
    subscribe(channels.clientTryEnd, (event) => {
      if (!owns(event.owner)) return;
      m.clientDuration.observe(
        {
          service: event.service,
          http_request_method: methodLabel(event.method),
          http_response_status_code: statusLabel(event.status),
          error_type: event.error?.code ?? (event.status !== undefined && event.status >= 500 ? String(event.status) : ''),
          ...(options.instanceLabels === true ? { farol_instance_id: event.instance.id } : {}),
        },
        event.durationMs / 1000,
      );
      if (event.retryAfterMs !== undefined) view(event.service).restingUntil.set(event.instance.id, now() + event.retryAfterMs);
    }),
    subscribe(channels.clientRetry, (event) => {
      if (owns(event.owner)) m.clientRetries.inc({ service: event.service, reason: typeof event.reason === 'number' ? statusLabel(event.reason) : event.reason });
    }),
    subscribe(channels.clientRetryRefused, (event) => {
      if (owns(event.owner) && event.reason === 'retry budget spent') m.retryBudgetRefusals.inc({ service: event.service });
    }),
    subscribe(channels.clientEjection, (event) => {
      if (!owns(event.owner)) return;
      m.ejections.inc({ service: event.service });
      view(event.service).ejectedUntil.set(event.instance, now() + event.durationMs);
    }),
    subscribe(channels.clientPanic, (event) => {
      if (!owns(event.owner)) return;
      view(event.service).panic = event.panic;
      m.panic.set({ service: event.service }, event.panic ? 1 : 0);
    }),
    subscribe(channels.discoveryUpdate, (event) => {
      if (!owns(event.owner)) return;
      const current = view(event.service);
      current.passing = new Map(event.instances.map((instance) => [instance.id, instance]));
      current.staleSince = undefined;
      for (const instance of event.instances) byOrigin.set(originKey(instance.address, instance.port), event.service);
    }),
    subscribe(channels.discoveryStale, (event) => {
      if (!owns(event.owner)) return;
      const current = view(event.service);
      current.staleSince ??= now();
    }),
    subscribe(channels.discoveryRecovered, (event) => {
      if (owns(event.owner)) view(event.service).staleSince = undefined;
    }),
    // Every failed blocking query (discovery's own 'watch' error repeats the first of them).
    subscribe(channels.consulWatchError, (event) => {
      if (owns(event.owner)) m.watchErrors.inc({ service: event.service });
    }),
    // Connections: undici's own channels, attributed to a service by the instances discovery served.
    undiciConnections(byOrigin, (service, delta) => {
      const current = view(service);
      current.connections = Math.max(0, current.connections + delta);
      m.openConnections.set({ service }, current.connections);
    }),
  ];
  return () => {
    for (const off of unsubscribe) off();
    viewsByRegistry.get(options.registry)?.delete(mine);
  };
}

function originKey(address: string, port: number | string): string {
  return `${address.replace(/^\[|\]$/g, '')}:${port}`;
}

interface UndiciConnectEvent {
  connectParams?: { hostname?: string; host?: string; port?: string | number };
  socket?: object;
}

function undiciConnections(byOrigin: ReadonlyMap<string, string>, change: (service: string, delta: number) => void): () => void {
  const open = new WeakMap<object, string>();
  const connected = (message: unknown): void => {
    const { connectParams, socket } = message as UndiciConnectEvent;
    if (!connectParams || !socket) return;
    const service = byOrigin.get(originKey(connectParams.hostname ?? connectParams.host ?? '', connectParams.port ?? ''));
    if (service === undefined) return;
    open.set(socket, service);
    change(service, 1);
  };
  const disconnected = (message: unknown): void => {
    const { socket } = message as UndiciConnectEvent;
    const service = socket ? open.get(socket) : undefined;
    if (service === undefined || !socket) return;
    open.delete(socket);
    change(service, -1);
  };
  diagnosticsChannel.subscribe('undici:client:connected', connected);
  diagnosticsChannel.subscribe('undici:client:disconnected', disconnected);
  return () => {
    diagnosticsChannel.unsubscribe('undici:client:connected', connected);
    diagnosticsChannel.unsubscribe('undici:client:disconnected', disconnected);
  };
}

/** The scrape-time gauges of a registry read every subscribed client's views; installed once per registry. */
function installScrapeGauges(m: FarolInstruments, now: () => number): void {
  if (viewsByRegistry.has(m.registry)) return;
  const all = new Set<() => Map<string, ServiceView>>();
  viewsByRegistry.set(m.registry, all);
  const perService = (read: (view: ServiceView, at: number) => number): Map<string, number> => {
    const at = now();
    const totals = new Map<string, number>();
    for (const views of all) for (const [service, view] of views()) totals.set(service, (totals.get(service) ?? 0) + read(view, at));
    return totals;
  };
  const countUntil = (until: Map<string, number>, passing: ReadonlyMap<string, InstanceRef>, at: number): number => {
    let count = 0;
    for (const [id, time] of until) {
      if (time <= at) until.delete(id);
      else if (passing.has(id)) count += 1;
    }
    return count;
  };
  setCollect(m.ejectionsActive, () => {
    m.ejectionsActive.reset();
    for (const [service, value] of perService((view, at) => countUntil(view.ejectedUntil, view.passing, at))) m.ejectionsActive.set({ service }, value);
  });
  setCollect(m.instances, () => {
    m.instances.reset();
    const passing = perService((view) => view.passing.size);
    const ejected = perService((view, at) => countUntil(view.ejectedUntil, view.passing, at));
    const resting = perService((view, at) => countUntil(view.restingUntil, view.passing, at));
    for (const [service, value] of passing) {
      m.instances.set({ service, state: 'passing' }, value);
      m.instances.set({ service, state: 'ejected' }, ejected.get(service) ?? 0);
      m.instances.set({ service, state: 'resting' }, resting.get(service) ?? 0);
    }
  });
  setCollect(m.discoveryStaleness, () => {
    m.discoveryStaleness.reset();
    const stale = perService((view, at) => (view.staleSince === undefined ? 0 : Math.max(0, at - view.staleSince) / 1000));
    for (const [service, seconds] of stale) m.discoveryStaleness.set({ service }, seconds);
  });
}

/** prom-client calls a metric's collect() before each scrape; set after construction so one function serves every client. */
function setCollect(gauge: object, collect: () => void): void {
  (gauge as { collect?: () => void }).collect = collect;
}
