import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulClient, consulOptionsFromEnv } from '../consul/index.js';
import { FarolError } from '../errors.js';
import { channels, createEventOwner, type EventOwner } from '../events/channels.js';
import { addressKey } from '../auth/index.js';
import { subscribeLogger } from '../events/log-subscriber.js';
import { createLogger } from '../log/logger.js';
import { createServerTlsProvider, type ServerTlsState, type TlsProvider } from '../pki/index.js';
import { observeService, type Observation } from '../events/observe.js';
import { buildApp, type FarolApp, type InstanceView } from './app.js';
import { buildServiceAuth, type ServiceAuth } from './authenticators.js';
import { watchCertificateExpiry, type CertificateExpiryWatch } from './certificate-expiry.js';
import { planHealthCheck, type HealthCheckPlan } from './check-server-name.js';
import { startHealthListener, type HealthListener } from './health-listener.js';
import { listenError } from './listen-errors.js';
import { resolveServiceOptions, type ResolvedServiceOptions, type ServiceOptions } from './options.js';
import { buildRegistration, ConsulRegistration, hostPort, newInstanceId } from './registration.js';
import { farolVersion } from './version.js';

export interface FarolService {
  /** Whose events this service publishes (see src/events): compare a payload's `owner` with it. */
  readonly owner: EventOwner;
  readonly name: string;
  readonly instanceId: string;
  /** The configured port until start(), then the port actually listened on. */
  readonly port: number;
  /** https://<advertise>:<port> */
  readonly url: string;
  readonly app: FarolApp;
  /** The health check registered in Consul, decided at creation (see planHealthCheck). */
  readonly healthCheck: HealthCheckPlan;
  /**
   * Once started: the port of the listener that serves GET /health without a client certificate,
   * when the main one requires certificates at the handshake (see ServiceOptions.health).
   */
  readonly healthPort: number | undefined;
  /** Listen, then register in Consul with a health check. A failure leaves nothing running. */
  start(): Promise<void>;
  /**
   * Graceful drain, in order: /health answers 503 and the instance leaves Consul's passing set
   * (maintenance mode; deregistration if that fails) -> wait drain.delayMs so watchers see it ->
   * stop accepting connections -> let in-flight requests finish (at most drain.timeoutMs) ->
   * deregister. Idempotent.
   */
  stop(opts?: { reason?: string }): Promise<void>;
  /**
   * Re-reads what may change while running: the users file, the certificate, key and client CA
   * files (all of which are also watched, so this is
   * for SIGHUP and for filesystems where watching fails). Never rejects for a bad file: the last
   * good one is kept and the problem is logged once.
   */
  reload(): Promise<void>;
}

/**
 * Validates the options, loads the TLS material, the users file and the CAs, and builds the app,
 * so every configuration error surfaces here, before anything listens.
 */
export async function createService(options: ServiceOptions): Promise<FarolService> {
  const opts = resolveServiceOptions(options);
  const instanceId = newInstanceId(opts.name);
  const owner = createEventOwner('service', instanceId);
  // No file unless asked: a library embedded in an app does not write into its working folder.
  const logger = opts.logger ?? (opts.logFile === undefined ? undefined : createLogger({ name: 'server', file: opts.logFile }));
  // The logger is one subscriber of the service's events (and those of the parts it makes).
  const detachLog = logger === undefined ? () => undefined : subscribeLogger(logger, { owner, addressKey: (address) => addressKey(address) });
  let tls: TlsProvider<ServerTlsState>;
  try {
    tls = await createServerTlsProvider(
      {
        keyPair: opts.tls.keyPair,
        ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
        ...(opts.clientCertificates ? { clientCa: opts.clientCertificates.ca } : {}),
      },
      { events: owner },
    );
  } catch (error) {
    detachLog();
    throw error;
  }
  let auth: ServiceAuth;
  try {
    auth = await buildServiceAuth(opts, owner);
  } catch (error) {
    tls.close();
    detachLog();
    throw error;
  }
  try {
    const service = new Service(opts, tls, auth, detachLog, instanceId, owner);
    if (opts.routes) await opts.routes(service.app);
    service.observation = observeService({ owner }, { metrics: opts.metrics, tracing: opts.tracing });
    return service;
  } catch (error) {
    tls.close();
    await auth.close();
    detachLog();
    throw error;
  }
}

class Service implements FarolService, InstanceView {
  readonly name: string;
  readonly instanceId: string;
  readonly app: FarolApp;
  readonly healthCheck: HealthCheckPlan;
  private listeningPort: number | undefined;
  private healthListener: HealthListener | undefined;
  private certificateExpiry: CertificateExpiryWatch | undefined;
  /** Read by the health route: 503 once stopping has begun. */
  draining = false;
  /** The metrics and tracing subscribers of this service (ServiceOptions.metrics, .tracing). */
  observation: Observation | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private registration: ConsulRegistration | undefined;
  private ownedConsul: ConsulClient | undefined;

  constructor(
    private readonly opts: ResolvedServiceOptions,
    private readonly tls: TlsProvider<ServerTlsState>,
    private readonly auth: ServiceAuth,
    /** Ends the logger's subscription (after the last line of the service). */
    private readonly detachLog: () => void,
    instanceId: string,
    readonly owner: EventOwner,
  ) {
    this.name = opts.name;
    this.instanceId = instanceId;
    this.healthCheck = opts.consul === false ? { kind: opts.check.kind ?? 'https' } : planHealthCheck(opts.check.kind, tls.current().keyPair.certPem, opts.advertiseAddress);
    this.app = buildApp({
      tls,
      authenticators: auth.authenticators,
      credentialsGeneration: auth.generation,
      ...(opts.require ? { require: opts.require } : {}),
      ...(auth.clientCertificates ? { clientCertificates: { required: auth.clientCertificates.required } } : {}),
      owner,
      instance: this,
      timeouts: { handshakeTimeoutMs: opts.timeouts.handshakeMs, headersTimeoutMs: opts.timeouts.headersMs },
    });
  }

  get healthPort(): number | undefined {
    return this.healthListener?.port;
  }

  get serviceName(): string {
    return this.name;
  }

  get address(): string {
    return this.opts.advertiseAddress;
  }

  get port(): number {
    return this.listeningPort ?? this.opts.port;
  }

  get url(): string {
    return `https://${hostPort(this.opts.advertiseAddress, this.port)}`;
  }

  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new FarolError('LISTEN_FAILED', `service ${this.name} has been stopped`, {
      hint: 'create a new service to serve again',
    }));
    this.starting ??= this.listenAndRegister();
    return this.starting;
  }

  stop(opts: { reason?: string } = {}): Promise<void> {
    this.stopping ??= this.drainAndClose(opts.reason ?? 'stop requested');
    return this.stopping;
  }

  async reload(): Promise<void> {
    await Promise.all([this.auth.reload(), this.tls.reload()]);
  }

  private async listenAndRegister(): Promise<void> {
    const { bind, port } = this.opts;
    try {
      await this.app.listen({ host: bind, port });
    } catch (error) {
      await this.abandonStart();
      throw listenError(error, bind, port);
    }
    this.listeningPort = (this.app.server.address() as AddressInfo).port;
    if (this.auth.clientCertificates?.required === true) {
      try {
        this.healthListener = await startHealthListener({
          tls: this.tls,
          bind,
          port: this.opts.health.port,
          timeouts: { handshakeTimeoutMs: this.opts.timeouts.handshakeMs, headersTimeoutMs: this.opts.timeouts.headersMs },
          view: this,
        });
      } catch (error) {
        await this.abandonStart();
        throw error;
      }
    }
    if (this.healthCheck.kind === 'ttl' && this.healthCheck.warning !== undefined) {
      this.warn('check_ttl_chosen', this.healthCheck.warning, undefined);
    }

    const consul = this.consulClient();
    if (consul) {
      const registration = new ConsulRegistration(consul, this.registrationFor(), this.owner);
      try {
        await registration.register();
      } catch (error) {
        if (registration.registered) await registration.deregister().catch(() => undefined);
        else registration.stopHeartbeat();
        await this.abandonStart();
        throw error;
      }
      this.registration = registration;
      registration.startKeepRegistered(this.opts.keepRegistered.intervalMs);
    }
    this.certificateExpiry = watchCertificateExpiry(this.tls, { owner: this.owner, instance: this.instanceId });
    if (channels.serviceState.hasSubscribers) {
      channels.serviceState.publish({
        ...this.facts(),
        state: 'started',
        url: this.url,
        registered: consul !== undefined,
        check: this.healthCheck.kind,
        healthPort: this.healthListener?.port,
      });
    }
  }

  /** Undoes a start that failed part-way: what listens is closed, the file watchers stop. */
  private async abandonStart(): Promise<void> {
    await this.app.close().catch(() => undefined);
    await this.healthListener?.close();
    await this.ownedConsul?.close().catch(() => undefined);
    this.tls.close();
    await this.auth.close();
    this.observation?.close();
    this.detachLog();
  }

  private facts(): { owner: EventOwner; service: string; instance: string } {
    return { owner: this.owner, service: this.name, instance: this.instanceId };
  }

  private warn(warning: 'check_ttl_chosen' | 'maintenance_failed' | 'deregister_failed' | 'drain_forced', message: string, error: unknown, timeoutMs?: number): void {
    if (!channels.serviceWarning.hasSubscribers) return;
    channels.serviceWarning.publish({
      ...this.facts(),
      warning,
      message,
      error: error === undefined ? undefined : (error as Error).message,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
  }

  private registrationFor() {
    const { check } = this.opts;
    const plan = this.healthCheck;
    return buildRegistration({
      instanceId: this.instanceId,
      name: this.name,
      address: this.opts.advertiseAddress,
      port: this.port,
      tags: this.opts.tags,
      meta: this.opts.meta,
      farolVersion: farolVersion(),
      check: {
        ...check,
        kind: plan.kind,
        ...(plan.kind === 'https' && plan.tlsServerName !== undefined ? { tlsServerName: plan.tlsServerName } : {}),
        ...(this.healthListener ? { port: this.healthListener.port } : {}),
      },
    });
  }

  private consulClient(): ConsulClient | undefined {
    const { consul } = this.opts;
    if (consul === false) return undefined;
    if (consul instanceof ConsulClient) return consul;
    this.ownedConsul ??= new ConsulClient({ ...(consul ?? consulOptionsFromEnv(process.env)), events: this.owner });
    return this.ownedConsul;
  }

  private async drainAndClose(reason: string): Promise<void> {
    await this.starting?.catch(() => undefined);
    const began = performance.now();
    const since = (): number => Math.round(performance.now() - began);
    const { delayMs, timeoutMs } = this.opts.drain;
    const registration = this.registration;
    this.draining = true;
    if (channels.serviceState.hasSubscribers) {
      channels.serviceState.publish({ ...this.facts(), state: 'draining', reason, delayMs, registered: registration !== undefined });
    }

    // (a) Out of the passing set at once. Nothing may re-register from here on.
    if (registration) {
      await registration.stopKeepRegistered();
      registration.stopHeartbeat();
      try {
        await registration.enableMaintenance(`farol: draining (${reason})`);
      } catch (error) {
        this.warn('maintenance_failed', 'could not enter maintenance mode: deregistering instead', error);
        await this.deregister(registration);
      }
    }

    // (b) Let watchers see it. /health answers 503 meanwhile, for pollers that do not read Consul.
    if (channels.serviceState.hasSubscribers) channels.serviceState.publish({ ...this.facts(), state: 'waiting', delayMs });
    if (delayMs > 0) await sleep(delayMs);

    // (c) + (d) Stop accepting, finish in-flight requests (idle keep-alive sockets close at once).
    const forced = await this.closeServer(timeoutMs);
    await this.healthListener?.close();
    if (channels.serviceState.hasSubscribers) channels.serviceState.publish({ ...this.facts(), state: 'closed', forced, ms: since() });

    // (e) Gone from Consul.
    if (registration?.registered) await this.deregister(registration);
    await this.ownedConsul?.close();
    this.certificateExpiry?.close();
    this.tls.close();
    await this.auth.close();
    if (channels.serviceState.hasSubscribers) channels.serviceState.publish({ ...this.facts(), state: 'stopped', reason, ms: since() });
    this.observation?.close();
    this.detachLog();
  }

  private async deregister(registration: ConsulRegistration): Promise<void> {
    try {
      await registration.deregister();
    } catch (error) {
      // The check turns critical once the port closes and Consul reaps it after DeregisterCriticalServiceAfter.
      this.warn('deregister_failed', 'could not deregister from Consul', error);
    }
  }

  /** Closes the server; connections still busy after timeoutMs are cut. Resolves to whether that happened. */
  private async closeServer(timeoutMs: number): Promise<boolean> {
    const closed = this.app.close();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    // Responses started before the drain carry no `Connection: close`; their sockets go once idle.
    const sweep = setInterval(() => this.app.server.closeIdleConnections(), 100);
    const forced = await Promise.race([closed.then(() => false as const), timedOut]);
    clearTimeout(timer);
    clearInterval(sweep);
    if (forced) {
      this.warn('drain_forced', `in-flight requests still running after ${timeoutMs} ms: closing their connections`, undefined, timeoutMs);
      this.app.server.closeAllConnections();
      await closed;
    }
    return forced;
  }
}
