/**
 * Every event Farol emits, each a named node:diagnostics_channel channel with a typed payload, all
 * in this one file (undici's lib/core/diagnostics.js is the model). Code that has something to say
 * publishes on a channel; the logger (log-subscriber.ts), Prometheus metrics and OpenTelemetry
 * tracing are subscribers, and so can an application be:
 *
 *   import { subscribe as subscribeChannel } from 'node:diagnostics_channel';
 *   subscribeChannel('farol:client:try:end', (event) => ...);   // or subscribe(channels.clientTryEnd, ...)
 *
 * Rules every publishing site follows:
 * - It checks `channel.hasSubscribers` before it builds a payload: nobody listening costs a
 *   property read.
 * - Payloads carry facts (service, instance, method, route, status, durations, reasons), never a
 *   secret: no Authorization header, password, token, key or cookie. Incoming headers are offered
 *   through `header(name)`, which refuses the credential headers.
 * - Every payload has an `owner`: the client, the service or the component (a Consul client, a
 *   TLS provider, a users file) that emitted it, compared by identity, so one process can run
 *   several clients and services and still give each its own log (see subscribeLogger).
 * - Subscribers are called synchronously, in the publisher's turn; a subscriber that throws is
 *   reported by Node as an uncaught exception, so subscribers must not throw.
 *
 * The table of channels, payload fields and the log line each becomes is docs/events.md.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** A channel as Node gives it, typed by its payload. */
export interface Channel<T> {
  readonly name: string | symbol;
  readonly hasSubscribers: boolean;
  publish(message: T): void;
  subscribe(onMessage: (message: T, name: string | symbol) => void): void;
  unsubscribe(onMessage: (message: T, name: string | symbol) => void): boolean;
}

function channel<T>(name: string): Channel<T> {
  return diagnosticsChannel.channel(name) as unknown as Channel<T>;
}

/** Subscribes `onMessage` to `target`; returns the function that unsubscribes it. */
export function subscribe<T>(target: Channel<T>, onMessage: (message: T) => void): () => void {
  const handler = (message: T): void => onMessage(message);
  target.subscribe(handler);
  return () => {
    target.unsubscribe(handler);
  };
}

// ---------------------------------------------------------------------------------------------
// Who emitted an event
// ---------------------------------------------------------------------------------------------

export type EventOwnerKind = 'client' | 'service' | 'consul' | 'tls' | 'users';

/**
 * The component an event comes from. Compared by identity: a subscriber keeps the owners it cares
 * about (a service's logger, its owner's events only). `id` is for readers: a client's id, a
 * service's instance id.
 */
export interface EventOwner {
  readonly kind: EventOwnerKind;
  readonly id: string;
}

export function createEventOwner(kind: EventOwnerKind, id: string): EventOwner {
  return Object.freeze({ kind, id });
}

interface Owned {
  readonly owner: EventOwner;
}

/** An error as events carry it: its stable code and message (never its cause or stack). */
export interface EventError {
  readonly code: string;
  readonly message: string;
  readonly hint?: string | undefined;
}

/** How fresh an answer from Consul was, from its X-Consul-* headers (the Consul client's QueryMeta). */
export interface ConsulAnswerMeta {
  /** X-Consul-Index. */
  readonly lastIndex: number;
  /** X-Consul-KnownLeader: the answering server knew a leader. */
  readonly knownLeader: boolean;
  /** X-Consul-LastContact: ms since the answering server last heard from the leader (0 from the leader). */
  readonly lastContactMs: number;
  /** X-Consul-Results-Filtered-By-ACLs: the token may not read some of the results. */
  readonly resultsFilteredByAcls?: boolean | undefined;
  /** X-Consul-Query-Backend: 'streaming' answers (a client agent's view) carry no staleness (lastContactMs 0, knownLeader false). */
  readonly queryBackend?: string | undefined;
}

/** An instance of a service as Consul lists it. */
export interface InstanceRef {
  readonly id: string;
  readonly address: string;
  readonly port: number;
}

// ---------------------------------------------------------------------------------------------
// Client: calls and their tries
// ---------------------------------------------------------------------------------------------

interface ClientCallFacts extends Owned {
  /** Identity of the call: the same object in every event of one call (key a WeakMap with it). */
  readonly call: object;
  readonly service: string;
  /** Upper case. */
  readonly method: string;
  /** The request path without its query string (which can carry secrets). */
  readonly path: string;
}

export type ClientCallStart = ClientCallFacts;

export interface ClientCallEnd extends ClientCallFacts {
  /** Of the whole call, retries and pauses included. */
  readonly durationMs: number;
  /** How many tries were made. */
  readonly attempts: number;
  /** The status of the response returned; undefined when the call failed. */
  readonly status: number | undefined;
  /** The instance that gave the last answer (or failed last); undefined when none was picked. */
  readonly instance: InstanceRef | undefined;
  /** Why the call failed (its FarolError); undefined when a response (any status) was returned. */
  readonly error: EventError | undefined;
}

interface ClientTryFacts extends ClientCallFacts {
  /** Identity of the try: the same object in its start and end events. */
  readonly try: object;
  /** 1 for the first try of the call, 2 for the first retry... (a credentials refresh repeats the number). */
  readonly attempt: number;
  readonly instance: InstanceRef;
}

export interface ClientTryStart extends ClientTryFacts {
  /**
   * Adds a header to this try's request (a tracer's `traceparent`). Credential headers
   * (authorization, cookie, x-consul-token) cannot be set this way. A plain function: it may be
   * called without its event as `this`.
   */
  readonly addHeader: (name: string, value: string) => void;
}

export interface ClientTryEnd extends ClientTryFacts {
  readonly durationMs: number;
  /** The instance's status; undefined when the try failed without a response. */
  readonly status: number | undefined;
  /** The failure (TIMEOUT, CONNECTION_REFUSED, TLS_UNTRUSTED...); undefined when a response came. */
  readonly error: EventError | undefined;
  /** A 503's Retry-After, in ms: the instance rests (is not picked) that long. */
  readonly retryAfterMs?: number | undefined;
}

export interface ClientRetry extends ClientCallFacts {
  /** The try that failed and is retried. */
  readonly attempt: number;
  /** The instance that failed. */
  readonly instance: string;
  /** The failure's code or the status that is retried. */
  readonly reason: string | number;
  readonly pauseMs: number;
}

export interface ClientRetryRefused extends ClientCallFacts {
  readonly attempts: number;
  readonly reason: 'deadline' | 'retry budget spent' | 'no instance left';
}

export interface ClientCredentialsRefreshed extends ClientCallFacts {
  readonly instance: string;
}

export interface ClientEjection extends Owned {
  readonly service: string;
  readonly instance: string;
  readonly durationMs: number;
  /** How many times this instance has been ejected (durations grow with it). */
  readonly ejections: number;
}

export interface ClientPanic extends Owned {
  readonly service: string;
  /** true: too many instances are ejected and the client balances over all of them; false: over. */
  readonly panic: boolean;
  /** Ids of the instances ejected right now. */
  readonly ejected: readonly string[];
  readonly passing: number;
}

// ---------------------------------------------------------------------------------------------
// Discovery (a client's view of Consul's passing set)
// ---------------------------------------------------------------------------------------------

export interface DiscoveryUpdate extends Owned {
  readonly service: string;
  readonly instances: readonly InstanceRef[];
  /** The freshness of the answer that changed the set. */
  readonly consul?: ConsulAnswerMeta | undefined;
}

export interface DiscoveryHeld extends Owned {
  readonly service: string;
  readonly known: number;
  readonly graceMs: number;
}

export interface DiscoveryReleased extends Owned {
  readonly service: string;
  /** The idle time after which watches are released. */
  readonly idleMs: number;
}

export interface DiscoveryStale extends Owned {
  readonly service: string;
  readonly error: EventError;
  /** How many last known instances are served meanwhile. */
  readonly serving: number;
  readonly maxStalenessMs: number;
}

export interface DiscoveryRecovered extends Owned {
  readonly service: string;
  /** The freshness of the first answer after the outage. */
  readonly consul?: ConsulAnswerMeta | undefined;
}

export interface DiscoveryError extends Owned {
  readonly service: string;
  readonly error: EventError;
  /** 'watch': the first answer about the service failed; 'count': counting its registered instances failed. */
  readonly stage: 'watch' | 'count';
}

export interface DiscoveryEmpty extends Owned {
  readonly service: string;
  /** Registered instances (none passing); undefined when Consul could not say. */
  readonly registered: number | undefined;
  /** The freshness of the counting answer; resultsFilteredByAcls: the token may not read the service. */
  readonly consul?: ConsulAnswerMeta | undefined;
}

// ---------------------------------------------------------------------------------------------
// Consul client
// ---------------------------------------------------------------------------------------------

export interface ConsulWatchError extends Owned {
  readonly service: string;
  readonly error: EventError;
  /** Consecutive failures so far. */
  readonly failures: number;
  readonly retryInMs: number;
}

export interface ConsulWatchAnswer extends Owned {
  readonly service: string;
  /** The consistency mode the watch reads with. */
  readonly consistency: 'default' | 'stale' | 'consistent';
  /** The index moved forward: the answer was delivered as an update. */
  readonly changed: boolean;
  /** Instances in the answer. */
  readonly instances: number;
  readonly consul: ConsulAnswerMeta;
}

export interface ConsulWatchReset extends Owned {
  readonly service: string;
  readonly previous: number;
  readonly returned: number;
}

export interface ConsulWatchFault extends Owned {
  readonly service: string;
  /** The callback that threw, or 'loop' when the watch loop itself ended. */
  readonly where: 'onResponse' | 'onUpdate' | 'onError' | 'loop';
  readonly error: unknown;
}

export interface ConsulAddressSwitch extends Owned {
  readonly address: string;
  readonly previous: string;
}

export interface ConsulAddressFailed extends Owned {
  readonly address: string;
  readonly code: string;
}

export interface ConsulRequestEnd extends Owned {
  readonly method: string;
  /** Path and query (never the ACL token: it travels in a header). */
  readonly path: string;
  readonly address: string;
  readonly status: number;
  readonly durationMs: number;
}

// ---------------------------------------------------------------------------------------------
// Service host: requests, authentication
// ---------------------------------------------------------------------------------------------

interface ServiceFacts extends Owned {
  readonly service: string;
  readonly instance: string;
}

interface ServiceRequestFacts extends ServiceFacts {
  /** Identity of the request: the same object in its start, auth and end events. */
  readonly request: object;
  readonly method: string;
  /** The path without its query string (which can carry secrets). */
  readonly path: string;
  readonly remoteAddress: string;
}

export interface ServiceRequestStart extends ServiceRequestFacts {
  /** An incoming header (lower case name), e.g. traceparent; undefined for credential headers. */
  header(name: string): string | undefined;
}

export interface ServiceRequestEnd extends ServiceRequestFacts {
  /** The route template ('/orders/:id'); undefined when no route matched (a 404). */
  readonly route: string | undefined;
  readonly status: number;
  readonly durationMs: number;
  readonly principal: { readonly id: string; readonly kind: string } | null;
  /** A health-check probe (GET or HEAD /health): logged at debug. */
  readonly healthProbe: boolean;
}

export interface ServiceRequestError extends ServiceRequestFacts {
  /** The error a handler threw (answered 500). */
  readonly error: { readonly type: string; readonly message: string; readonly code: string | undefined; readonly stack: string | undefined };
}

export type AuthOutcome =
  | (ServiceRequestFacts & { readonly outcome: 'authenticated'; readonly scheme: string; readonly principal: string; readonly remembered: boolean })
  | (ServiceRequestFacts & { readonly outcome: 'rejected'; readonly scheme: string | undefined; readonly status: 400 | 401; readonly reason: string; readonly username: string | null; readonly hadCredentials: boolean })
  | (ServiceRequestFacts & { readonly outcome: 'limited'; readonly status: 429; readonly reason: string; readonly retryAfterSec: number })
  | (ServiceRequestFacts & { readonly outcome: 'forbidden'; readonly status: 403; readonly scheme: string; readonly reason: string; readonly principal: string; readonly principalKind: string });

export interface OAuth2Token extends Owned {
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly expiresInSec: number | undefined;
  readonly scope: string | undefined;
}

export interface OAuth2TokenFailed extends Owned {
  readonly clientId: string;
  readonly error: EventError;
  readonly failures: number;
  readonly retryInMs: number;
}

export interface AuthKeysError extends Owned {
  readonly error: EventError;
}

// ---------------------------------------------------------------------------------------------
// Service lifecycle, registration
// ---------------------------------------------------------------------------------------------

export type ServiceState =
  | (ServiceFacts & { readonly state: 'started'; readonly url: string; readonly registered: boolean; readonly check: string; readonly healthPort: number | undefined })
  | (ServiceFacts & { readonly state: 'draining'; readonly reason: string; readonly delayMs: number; readonly registered: boolean })
  | (ServiceFacts & { readonly state: 'waiting'; readonly delayMs: number })
  | (ServiceFacts & { readonly state: 'closed'; readonly forced: boolean; readonly ms: number })
  | (ServiceFacts & { readonly state: 'stopped'; readonly reason: string; readonly ms: number });

export interface ServiceWarning extends ServiceFacts {
  readonly warning: 'check_ttl_chosen' | 'maintenance_failed' | 'deregister_failed' | 'drain_forced' | 'stop_failed' | 'reload_failed' | 'register_failed';
  readonly message: string;
  readonly error: string | undefined;
  readonly timeoutMs?: number;
}

export interface ServiceSignal extends ServiceFacts {
  readonly signal: string;
  readonly action: 'stop' | 'reload' | 'forced_exit';
}

export interface ServiceReloaded extends ServiceFacts {
  readonly ms: number;
}

export interface RegistrationState extends ServiceFacts {
  readonly state: 'registered' | 're_registered' | 'maintenance' | 'deregistered';
  readonly consul: string;
  /** Maintenance reason. */
  readonly reason?: string;
}

export type RegistrationOutage =
  | (ServiceFacts & { readonly phase: 'start'; readonly consul: string; readonly unreachable: boolean; readonly source: 'keep_registered' | 'heartbeat'; readonly error: string })
  | (ServiceFacts & { readonly phase: 'end'; readonly consul: string; readonly downMs: number; readonly reRegistered: boolean });

export interface CertificateExpiry extends Owned {
  readonly instance: string;
  readonly notAfter: string;
  readonly serial: string;
  /** Set when a threshold (30 days, 7 days, expired) is crossed for this certificate: once each. */
  readonly warning: { readonly threshold: string; readonly daysLeft: number; readonly level: 'warn' | 'error'; readonly message: string } | undefined;
}

// ---------------------------------------------------------------------------------------------
// TLS material, users file
// ---------------------------------------------------------------------------------------------

export interface TlsReloaded extends Owned {
  readonly trigger: string;
  /** What is now in use: { what, serial, notAfter, clientCas? } (no key material). */
  readonly material: Readonly<Record<string, unknown>>;
}

export interface TlsFailed extends Owned {
  /** 'reload': new material refused (the old stays); 'listener': a change listener threw. */
  readonly stage: 'reload' | 'listener';
  readonly error: EventError;
}

export interface UsersReloaded extends Owned {
  readonly file: string;
  readonly users: number;
  readonly generation: number;
  readonly revoked: number;
}

export interface UsersFailed extends Owned {
  readonly file: string | undefined;
  /** 'reload': the file was refused (usersKept stay); 'listener': a change listener threw; 'watch': the folder cannot be watched (polling carries on). */
  readonly stage: 'reload' | 'listener' | 'watch';
  readonly error: EventError;
  readonly usersKept?: number;
  readonly pollIntervalMs?: number;
}

// ---------------------------------------------------------------------------------------------
// The channels
// ---------------------------------------------------------------------------------------------

export const channels = {
  clientCallStart: channel<ClientCallStart>('farol:client:call:start'),
  clientCallEnd: channel<ClientCallEnd>('farol:client:call:end'),
  clientTryStart: channel<ClientTryStart>('farol:client:try:start'),
  clientTryEnd: channel<ClientTryEnd>('farol:client:try:end'),
  clientRetry: channel<ClientRetry>('farol:client:retry'),
  clientRetryRefused: channel<ClientRetryRefused>('farol:client:retry:refused'),
  clientCredentialsRefreshed: channel<ClientCredentialsRefreshed>('farol:client:credentials:refreshed'),
  clientEjection: channel<ClientEjection>('farol:client:ejection'),
  clientPanic: channel<ClientPanic>('farol:client:panic'),

  discoveryUpdate: channel<DiscoveryUpdate>('farol:discovery:update'),
  discoveryHeld: channel<DiscoveryHeld>('farol:discovery:held'),
  discoveryStale: channel<DiscoveryStale>('farol:discovery:stale'),
  discoveryReleased: channel<DiscoveryReleased>('farol:discovery:released'),
  discoveryRecovered: channel<DiscoveryRecovered>('farol:discovery:recovered'),
  discoveryError: channel<DiscoveryError>('farol:discovery:error'),
  discoveryEmpty: channel<DiscoveryEmpty>('farol:discovery:empty'),

  consulWatchError: channel<ConsulWatchError>('farol:consul:watch:error'),
  consulWatchAnswer: channel<ConsulWatchAnswer>('farol:consul:watch:answer'),
  consulWatchReset: channel<ConsulWatchReset>('farol:consul:watch:reset'),
  consulWatchFault: channel<ConsulWatchFault>('farol:consul:watch:fault'),
  consulAddressSwitch: channel<ConsulAddressSwitch>('farol:consul:address:switch'),
  consulAddressFailed: channel<ConsulAddressFailed>('farol:consul:address:failed'),
  consulRequestEnd: channel<ConsulRequestEnd>('farol:consul:request:end'),

  serviceRequestStart: channel<ServiceRequestStart>('farol:service:request:start'),
  serviceRequestEnd: channel<ServiceRequestEnd>('farol:service:request:end'),
  serviceRequestError: channel<ServiceRequestError>('farol:service:request:error'),
  serviceState: channel<ServiceState>('farol:service:state'),
  serviceWarning: channel<ServiceWarning>('farol:service:warning'),
  serviceSignal: channel<ServiceSignal>('farol:service:signal'),
  serviceReloaded: channel<ServiceReloaded>('farol:service:reloaded'),

  authOutcome: channel<AuthOutcome>('farol:auth:outcome'),
  authKeysError: channel<AuthKeysError>('farol:auth:keys:error'),
  oauth2Token: channel<OAuth2Token>('farol:oauth2:token'),
  oauth2TokenFailed: channel<OAuth2TokenFailed>('farol:oauth2:token:failed'),

  registrationState: channel<RegistrationState>('farol:registration:state'),
  registrationOutage: channel<RegistrationOutage>('farol:registration:outage'),

  certificateExpiry: channel<CertificateExpiry>('farol:certificate:expiry'),
  tlsReloaded: channel<TlsReloaded>('farol:tls:reloaded'),
  tlsFailed: channel<TlsFailed>('farol:tls:failed'),
  usersReloaded: channel<UsersReloaded>('farol:users:reloaded'),
  usersFailed: channel<UsersFailed>('farol:users:failed'),
} as const;

export type Channels = typeof channels;
export type ChannelKey = keyof Channels;
/** The payload type of a channel, by its key: EventOf<'clientTryEnd'>. */
export type EventOf<K extends ChannelKey> = Channels[K] extends Channel<infer T> ? T : never;

/** Credential headers never offered to subscribers nor settable by them. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-consul-token']);

/** An EventError from anything thrown (a FarolError keeps its code and hint). */
export function eventError(error: unknown): EventError {
  if (typeof error === 'object' && error !== null) {
    const { code, message, hint } = error as { code?: unknown; message?: unknown; hint?: unknown };
    return {
      code: typeof code === 'string' ? code : 'ERROR',
      message: typeof message === 'string' ? message : String(error),
      ...(typeof hint === 'string' ? { hint } : {}),
    };
  }
  return { code: 'ERROR', message: String(error) };
}
