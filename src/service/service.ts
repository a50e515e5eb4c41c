import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBasicAuthenticator, readUsersFile, type Authenticator } from '../auth/index.js';
import { ConsulClient, consulOptionsFromEnv } from '../consul/index.js';
import { FarolError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { loadServerTls, type TlsMaterial } from '../pki/index.js';
import { buildApp, type FarolApp, type InstanceView } from './app.js';
import { checkServerName } from './check-server-name.js';
import { listenError } from './listen-errors.js';
import { DEFAULT_LOG_FILE, isTlsMaterial, resolveServiceOptions, type ResolvedServiceOptions, type ServiceOptions } from './options.js';
import { buildRegistration, ConsulRegistration, hostPort, newInstanceId } from './registration.js';
import { farolVersion } from './version.js';

export interface FarolService {
  readonly name: string;
  readonly instanceId: string;
  /** The configured port until start(), then the port actually listened on. */
  readonly port: number;
  /** https://<advertise>:<port> */
  readonly url: string;
  readonly app: FarolApp;
  /** Listen, then register in Consul with a health check. A failure leaves nothing running. */
  start(): Promise<void>;
  /** Drain (health turns 503) -> deregister -> wait drain.delayMs -> close after in-flight requests. Idempotent. */
  stop(opts?: { reason?: string }): Promise<void>;
}

/**
 * Validates the options, loads the TLS material and the users file, and builds the app, so every
 * configuration error surfaces here, before anything listens.
 */
export async function createService(options: ServiceOptions): Promise<FarolService> {
  const opts = resolveServiceOptions(options);
  const tls = isTlsMaterial(opts.tls) ? opts.tls : await loadServerTls(opts.tls);
  const authenticators = opts.authenticators ?? [
    createBasicAuthenticator({ users: await readUsersFile(opts.usersFile!), realm: opts.name }),
  ];
  const logger = opts.logger ?? createLogger({ name: 'server', file: opts.logFile ?? DEFAULT_LOG_FILE });
  const service = new Service(opts, tls, authenticators, logger);
  if (opts.routes) await opts.routes(service.app);
  return service;
}

class Service implements FarolService, InstanceView {
  readonly name: string;
  readonly instanceId: string;
  readonly app: FarolApp;
  private listeningPort: number | undefined;
  /** Read by the health route: 503 once stopping has begun. */
  draining = false;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private registration: ConsulRegistration | undefined;
  private ownedConsul: ConsulClient | undefined;

  constructor(
    private readonly opts: ResolvedServiceOptions,
    private readonly tls: TlsMaterial,
    authenticators: Authenticator[],
    private readonly logger: Logger,
  ) {
    this.name = opts.name;
    this.instanceId = newInstanceId(opts.name);
    this.app = buildApp({ tls, authenticators, audit: logger, instance: this });
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

  private async listenAndRegister(): Promise<void> {
    const { bind, port } = this.opts;
    try {
      await this.app.listen({ host: bind, port });
    } catch (error) {
      await this.app.close().catch(() => undefined);
      throw listenError(error, bind, port);
    }
    this.listeningPort = (this.app.server.address() as AddressInfo).port;

    const consul = this.consulClient();
    if (consul) {
      const registration = new ConsulRegistration(consul, this.registrationFor(), this.logger);
      try {
        await registration.register();
      } catch (error) {
        if (registration.registered) await registration.deregister().catch(() => undefined);
        else registration.stopHeartbeat();
        await this.app.close().catch(() => undefined);
        await this.ownedConsul?.close().catch(() => undefined);
        throw error;
      }
      this.registration = registration;
    }
    this.logger.info(
      { event: 'started', service: this.name, instance: this.instanceId, url: this.url, registered: consul !== undefined },
      'service started',
    );
  }

  private registrationFor() {
    const { check } = this.opts;
    let tlsServerName: string | undefined;
    if (check.kind === 'https') {
      const decision = checkServerName(this.tls.cert, this.opts.advertiseAddress);
      tlsServerName = decision.tlsServerName;
      if (decision.warning) this.logger.warn({ event: 'check_unverifiable', instance: this.instanceId }, decision.warning);
    }
    return buildRegistration({
      instanceId: this.instanceId,
      name: this.name,
      address: this.opts.advertiseAddress,
      port: this.port,
      tags: this.opts.tags,
      meta: this.opts.meta,
      farolVersion: farolVersion(),
      check: { ...check, ...(tlsServerName !== undefined ? { tlsServerName } : {}) },
    });
  }

  private consulClient(): ConsulClient | undefined {
    const { consul } = this.opts;
    if (consul === false) return undefined;
    if (consul instanceof ConsulClient) return consul;
    this.ownedConsul ??= new ConsulClient({ logger: this.logger, ...(consul ?? consulOptionsFromEnv(process.env)) });
    return this.ownedConsul;
  }

  private async drainAndClose(reason: string): Promise<void> {
    await this.starting?.catch(() => undefined);
    this.draining = true;
    this.logger.info({ event: 'stopping', instance: this.instanceId, reason }, 'service stopping');
    if (this.registration) {
      try {
        await this.registration.deregister();
      } catch (error) {
        // The check turns critical once the port closes and Consul reaps it after DeregisterCriticalServiceAfter.
        this.logger.warn(
          { event: 'deregister_failed', instance: this.instanceId, error: (error as Error).message },
          'could not deregister from Consul',
        );
      }
    }
    if (this.opts.drain.delayMs > 0) await sleep(this.opts.drain.delayMs);
    await this.app.close();
    await this.ownedConsul?.close();
    this.logger.info({ event: 'stopped', instance: this.instanceId, reason }, 'service stopped');
  }
}
