import { FarolError } from '../errors.js';
import { createEventOwner, type EventOwner } from '../events/channels.js';
import { addressKey } from '../auth/index.js';
import { subscribeLogger } from '../events/log-subscriber.js';
import { createLogger } from '../log/logger.js';
import { createServerTlsProvider, type ServerTlsState, type TlsProvider } from '../pki/index.js';
import { buildApp, type FarolApp, type InstanceView } from './app.js';
import { buildServiceAuth } from './authenticators.js';
import { planHealthCheck, type HealthCheckPlan } from './check-server-name.js';
import { createRegistration, type ServiceRegistration } from './lifecycle.js';
import { listenError } from './listen-errors.js';
import { resolveServiceOptions, type ResolvedServiceOptions, type ServiceOptions } from './options.js';
import { hostPort, newInstanceId } from './registration.js';
import { requestAuthOver, type RequestAuth } from './request-auth.js';

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
 * so every configuration error surfaces here, before anything listens. A thin wrapper: a fastify
 * app over Farol's TLS with farolPlugin registered, listened on and drained for you.
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
  let auth: RequestAuth;
  try {
    const chain = await buildServiceAuth({ ...opts, realm: opts.name }, owner);
    auth = requestAuthOver(chain, { realm: opts.name, instance: instanceId, owner, ...(opts.require ? { require: opts.require } : {}) });
  } catch (error) {
    tls.close();
    detachLog();
    throw error;
  }
  try {
    // Decided now, so an explicit https check Consul could never verify is an error before anything listens.
    const healthCheck: HealthCheckPlan =
      opts.consul === false ? { kind: opts.check.kind ?? 'https' } : planHealthCheck(opts.check.kind, tls.current().keyPair.certPem, opts.advertiseAddress);
    const registration = createRegistration(
      {
        service: { name: opts.name, address: opts.advertiseAddress, instanceId, tags: opts.tags, meta: opts.meta },
        consul: opts.consul ?? undefined,
        check: opts.check,
        drain: opts.drain,
        keepRegistered: opts.keepRegistered,
        certificate: () => tls.current().keyPair.certPem,
      },
      { owner },
    );
    const service = new Service(opts, tls, auth, registration, healthCheck, detachLog);
    await service.build();
    if (opts.routes) await opts.routes(service.app);
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
  readonly owner: EventOwner;
  private built: FarolApp | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private released: Promise<void> | undefined;

  constructor(
    private readonly opts: ResolvedServiceOptions,
    private readonly tls: TlsProvider<ServerTlsState>,
    private readonly auth: RequestAuth,
    private readonly registration: ServiceRegistration,
    readonly healthCheck: HealthCheckPlan,
    /** Ends the logger's subscription (after the last line of the service). */
    private readonly detachLog: () => void,
  ) {
    this.name = opts.name;
    this.instanceId = registration.instanceId;
    this.owner = registration.owner;
  }

  async build(): Promise<void> {
    const app = await buildApp({
      tls: this.tls,
      auth: this.auth,
      registration: this.registration,
      instance: this,
      timeouts: { handshakeTimeoutMs: this.opts.timeouts.handshakeMs, headersTimeoutMs: this.opts.timeouts.headersMs },
      health: this.opts.health,
      metrics: this.opts.metrics,
      tracing: this.opts.tracing,
      // Whether stop() or app.close() began the drain.
      onClosed: () => this.release(),
    });
    this.built = app;
  }

  get app(): FarolApp {
    return this.built!;
  }

  get draining(): boolean {
    return this.registration.draining;
  }

  get healthPort(): number | undefined {
    return this.built?.farol.healthPort;
  }

  get serviceName(): string {
    return this.name;
  }

  get address(): string {
    return this.opts.advertiseAddress;
  }

  get port(): number {
    return this.registration.port ?? this.opts.port;
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
    this.stopping ??= this.drain(opts.reason ?? 'stop requested');
    return this.stopping;
  }

  async reload(): Promise<void> {
    await Promise.all([this.auth.reload(), this.tls.reload()]);
  }

  private async drain(reason: string): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.registration.leave(reason);
    await this.app.close();
  }

  private async listenAndRegister(): Promise<void> {
    const { bind, port } = this.opts;
    try {
      await this.app.listen({ host: bind, port });
    } catch (error) {
      await this.abandonStart();
      throw listenError(error, bind, port);
    }
    try {
      await this.app.farol.started();
    } catch (error) {
      await this.abandonStart();
      throw error;
    }
  }

  /** Undoes a start that failed part-way: what listens is closed, the file watchers stop. */
  private async abandonStart(): Promise<void> {
    await this.app.close().catch(() => undefined);
    await this.release();
  }

  /** Releases what createService opened, once: the TLS provider, the authenticators, the log subscription. */
  private release(): Promise<void> {
    this.released ??= (async () => {
      this.tls.close();
      await this.auth.close();
      this.detachLog();
    })();
    return this.released;
  }
}
