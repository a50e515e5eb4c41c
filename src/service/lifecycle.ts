/**
 * An instance's life in Consul, for any HTTPS server: register once it listens (and keep it
 * registered), then the ordered drain: leave Consul's passing set (maintenance mode) -> wait for
 * watchers to see it -> the server stops accepting and lets in-flight requests finish ->
 * deregister. The fastify plugin drives it from its hooks; a node:https server or an express app
 * calls it directly (drain() takes the function that closes the server, e.g. closeHttpServer).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulClient, consulOptionsFromEnv } from '../consul/index.js';
import { FarolError } from '../errors.js';
import { channels, createEventOwner, type EventOwner } from '../events/channels.js';
import { planHealthCheck, type HealthCheckPlan } from './check-server-name.js';
import { healthAnswer, type HealthAnswer } from './health-listener.js';
import { advertisedAddressFor, resolveRegistrationOptions, type RegistrationOptions, type ResolvedRegistrationOptions } from './options.js';
import { buildRegistration, ConsulRegistration, hostPort, newInstanceId } from './registration.js';
import { farolVersion } from './version.js';

export type ServiceWarningKind = 'check_ttl_chosen' | 'maintenance_failed' | 'deregister_failed' | 'drain_forced' | 'register_failed';

/** Where the server listens, once it does. */
export interface ListeningAt {
  /** The port actually bound. */
  port: number;
  /** The address bound (a wildcard registers 127.0.0.1 unless service.address says otherwise). */
  address?: string;
  /** A second port Consul's HTTPS check must call instead (the health listener, for mTLS-only servers). */
  healthPort?: number;
}

export interface ServiceRegistration {
  /** Whose events this instance publishes (farol:service:*, farol:registration:*). */
  readonly owner: EventOwner;
  readonly name: string;
  readonly instanceId: string;
  /** From the start of the drain on: /health answers 503 and responses close their connections. */
  readonly draining: boolean;
  /** Consul holds the registration (accepted, and not removed since). */
  readonly registered: boolean;
  /** The check registered, decided by register(). */
  readonly healthCheck: HealthCheckPlan | undefined;
  /** The address registered, once register() ran. */
  readonly address: string | undefined;
  /** The port registered, once register() ran. */
  readonly port: number | undefined;
  /** https://<address>:<port>, once register() ran. */
  readonly url: string | undefined;
  /** The drain timings, as resolved (the plugin and closeHttpServer read timeoutMs). */
  readonly drainOptions: { readonly delayMs: number; readonly timeoutMs: number };
  /** Where the instance answers Consul's HTTPS check (check.path, default /health). */
  readonly healthPath: string;
  /** The answer to the health check: 200 passing, 503 draining. */
  health(): HealthAnswer;
  /**
   * Registers with a health check (and starts the TTL heartbeat and anti-entropy). Rejects if
   * Consul refuses or cannot be reached, leaving nothing registered; keepTrying: instead of
   * rejecting, leave it to anti-entropy to register once Consul answers (a warning is published).
   */
  register(at: ListeningAt, opts?: { keepTrying?: boolean }): Promise<void>;
  /**
   * Steps 1-2 of the drain: out of Consul's passing set (maintenance mode; deregistration if that
   * fails), nothing re-registers from here on, then waits drain.delayMs. Idempotent.
   */
  leave(reason?: string): Promise<void>;
  /**
   * Step 5, once the server is closed: deregister, close what this lifecycle opened. `forced`:
   * in-flight requests had to be cut. Idempotent.
   */
  finish(closed?: { forced: boolean }): Promise<void>;
  /** The whole drain: leave(), then closeServer() (steps 3-4), then finish(). Idempotent. */
  drain(closeServer: () => Promise<{ forced: boolean } | void>, reason?: string): Promise<void>;
  /** Publishes a service warning under this instance (a forced close, say). */
  warn(warning: ServiceWarningKind, message: string, error?: unknown, timeoutMs?: number): void;
}

/**
 * The registration lifecycle for a server of your own. Options are validated here
 * (CONFIG_INVALID naming the option); nothing is sent to Consul before register().
 *
 *     const life = createRegistration({ service: { name: 'orders' }, consul: { address: '127.0.0.1:8500' } });
 *     server.listen(0, '127.0.0.1', () => life.register({ port: server.address().port }));
 *     process.on('SIGTERM', () => life.drain(() => closeHttpServer(server, life)));
 */
export function createRegistration(options: RegistrationOptions, identity: { owner?: EventOwner } = {}): ServiceRegistration {
  return new Lifecycle(resolveRegistrationOptions(options), identity.owner);
}

class Lifecycle implements ServiceRegistration {
  readonly owner: EventOwner;
  readonly name: string;
  readonly instanceId: string;
  draining = false;
  healthCheck: HealthCheckPlan | undefined;
  address: string | undefined;
  port: number | undefined;
  private registration: ConsulRegistration | undefined;
  private ownedConsul: ConsulClient | undefined;
  private leaving: Promise<void> | undefined;
  private finishing: Promise<void> | undefined;
  private draining$: Promise<void> | undefined;
  private drainBegan = 0;
  private leaveReason = 'stop requested';

  constructor(
    private readonly opts: ResolvedRegistrationOptions,
    owner: EventOwner | undefined,
  ) {
    this.name = opts.service.name;
    this.instanceId = opts.service.instanceId ?? newInstanceId(opts.service.name);
    this.owner = owner ?? createEventOwner('service', this.instanceId);
  }

  get registered(): boolean {
    return this.registration?.registered ?? false;
  }

  get url(): string | undefined {
    return this.address === undefined || this.port === undefined ? undefined : `https://${hostPort(this.address, this.port)}`;
  }

  get drainOptions(): { delayMs: number; timeoutMs: number } {
    return this.opts.drain;
  }

  get healthPath(): string {
    return this.opts.check.path;
  }

  health(): HealthAnswer {
    return healthAnswer(this);
  }

  /** Decides the check from the certificate, before anything is sent (an explicit https Consul could not verify throws). */
  planCheck(address: string): HealthCheckPlan {
    const { kind } = this.opts.check;
    if (this.opts.consul === false) return { kind: kind ?? 'https' };
    const certificate = typeof this.opts.certificate === 'function' ? this.opts.certificate() : this.opts.certificate;
    if (certificate !== undefined) return planHealthCheck(kind, certificate, address);
    if (kind === 'ttl') return { kind: 'ttl' };
    // No certificate to read: Consul verifies the registered address (an IP literal checks IP SANs).
    return { kind: 'https', tlsServerName: address.replace(/^\[(.*)\]$/, '$1') };
  }

  async register(at: ListeningAt, opts: { keepTrying?: boolean } = {}): Promise<void> {
    if (this.leaving) {
      throw new FarolError('LISTEN_FAILED', `instance ${this.instanceId} has been drained`, { hint: 'create a new registration to serve again' });
    }
    this.address = this.opts.service.address ?? advertisedAddressFor(at.address ?? '127.0.0.1');
    this.port = at.port;
    const plan = this.planCheck(this.address);
    this.healthCheck = plan;
    const consul = this.consulClient();
    if (consul) {
      if (plan.kind === 'ttl' && plan.warning !== undefined) this.warn('check_ttl_chosen', plan.warning);
      const { check, service } = this.opts;
      const registration = new ConsulRegistration(
        consul,
        buildRegistration({
          instanceId: this.instanceId,
          name: this.name,
          address: this.address,
          port: at.port,
          tags: service.tags,
          meta: service.meta,
          farolVersion: farolVersion(),
          check: {
            ...check,
            kind: plan.kind,
            ...(plan.kind === 'https' && plan.tlsServerName !== undefined ? { tlsServerName: plan.tlsServerName } : {}),
            ...(at.healthPort !== undefined ? { port: at.healthPort } : {}),
          },
        }),
        this.owner,
      );
      try {
        await registration.register();
      } catch (error) {
        if (registration.registered) await registration.deregister().catch(() => undefined);
        else registration.stopHeartbeat();
        if (opts.keepTrying !== true) throw error;
        this.warn('register_failed', 'could not register in Consul: trying again at each anti-entropy round', error);
      }
      this.registration = registration;
      registration.startKeepRegistered(this.opts.keepRegistered.intervalMs);
    }
    if (channels.serviceState.hasSubscribers) {
      channels.serviceState.publish({
        ...this.facts(),
        state: 'started',
        url: this.url!,
        registered: this.registered,
        check: plan.kind,
        healthPort: at.healthPort,
      });
    }
  }

  leave(reason = 'stop requested'): Promise<void> {
    this.leaving ??= this.leaveNow(reason);
    return this.leaving;
  }

  private async leaveNow(reason: string): Promise<void> {
    this.leaveReason = reason;
    this.drainBegan = performance.now();
    const { delayMs } = this.opts.drain;
    const registration = this.registration;
    this.draining = true;
    if (channels.serviceState.hasSubscribers) {
      channels.serviceState.publish({ ...this.facts(), state: 'draining', reason, delayMs, registered: registration !== undefined });
    }
    // (a) Out of the passing set at once. Nothing may re-register from here on.
    if (registration) {
      await registration.stopKeepRegistered();
      registration.stopHeartbeat();
      if (registration.registered) {
        try {
          await registration.enableMaintenance(`farol: draining (${reason})`);
        } catch (error) {
          this.warn('maintenance_failed', 'could not enter maintenance mode: deregistering instead', error);
          await this.deregister(registration);
        }
      }
    }
    // (b) Let watchers see it. /health answers 503 meanwhile, for pollers that do not read Consul.
    if (channels.serviceState.hasSubscribers) channels.serviceState.publish({ ...this.facts(), state: 'waiting', delayMs });
    if (delayMs > 0) await sleep(delayMs);
  }

  finish(closed: { forced: boolean } = { forced: false }): Promise<void> {
    this.finishing ??= this.finishNow(closed.forced);
    return this.finishing;
  }

  private async finishNow(forced: boolean): Promise<void> {
    // Closed without leave() (a start that failed part-way): nothing to announce, only to release.
    const drained = this.leaving !== undefined;
    if (!drained) {
      this.draining = true;
      await this.registration?.stopKeepRegistered();
      this.registration?.stopHeartbeat();
    }
    const since = (): number => Math.round(performance.now() - this.drainBegan);
    if (drained && channels.serviceState.hasSubscribers) channels.serviceState.publish({ ...this.facts(), state: 'closed', forced, ms: since() });
    // (e) Gone from Consul.
    if (this.registration?.registered) await this.deregister(this.registration);
    await this.ownedConsul?.close().catch(() => undefined);
    if (drained && channels.serviceState.hasSubscribers) {
      channels.serviceState.publish({ ...this.facts(), state: 'stopped', reason: this.leaveReason, ms: since() });
    }
  }

  drain(closeServer: () => Promise<{ forced: boolean } | void>, reason?: string): Promise<void> {
    this.draining$ ??= (async () => {
      await this.leave(reason);
      const closed = await closeServer();
      await this.finish(closed ?? { forced: false });
    })();
    return this.draining$;
  }

  warn(warning: ServiceWarningKind, message: string, error?: unknown, timeoutMs?: number): void {
    if (!channels.serviceWarning.hasSubscribers) return;
    channels.serviceWarning.publish({
      ...this.facts(),
      warning,
      message,
      error: error === undefined ? undefined : (error as Error).message,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
  }

  private facts(): { owner: EventOwner; service: string; instance: string } {
    return { owner: this.owner, service: this.name, instance: this.instanceId };
  }

  private async deregister(registration: ConsulRegistration): Promise<void> {
    try {
      await registration.deregister();
    } catch (error) {
      // The check turns critical once the port closes and Consul reaps it after DeregisterCriticalServiceAfter.
      this.warn('deregister_failed', 'could not deregister from Consul', error);
    }
  }

  private consulClient(): ConsulClient | undefined {
    const { consul } = this.opts;
    if (consul === false) return undefined;
    if (consul instanceof ConsulClient) return consul;
    this.ownedConsul ??= new ConsulClient({ ...(consul ?? consulOptionsFromEnv(process.env)), events: this.owner });
    return this.ownedConsul;
  }
}

/**
 * Steps 3-4 of the drain for a node:http / node:https server: stop accepting, let in-flight
 * requests finish, and cut the connections still busy after drain.timeoutMs (a drain_forced
 * warning). Idle keep-alive connections close at once, and busy ones as soon as their response
 * is done. Resolves once the server is closed.
 */
export async function closeHttpServer(server: Server, life: Pick<ServiceRegistration, 'drainOptions' | 'warn'>): Promise<{ forced: boolean }> {
  const closed = new Promise<void>((resolve) => {
    if (!server.listening) resolve();
    else server.close(() => resolve());
  });
  server.closeIdleConnections();
  return awaitClosed(closed, server, life);
}

/** Waits for a closing server, sweeping connections that turn idle and cutting the rest after drain.timeoutMs. */
export async function awaitClosed(closed: Promise<void>, server: Server, life: Pick<ServiceRegistration, 'drainOptions' | 'warn'>): Promise<{ forced: boolean }> {
  const { timeoutMs } = life.drainOptions;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), timeoutMs);
  });
  // Responses started before the drain carry no `Connection: close`; their sockets go once idle.
  // (An HTTP/2 server has no such calls: its sessions close with the server.)
  const closeIdle = (): void => (typeof server.closeIdleConnections === 'function' ? server.closeIdleConnections() : undefined);
  const sweep = setInterval(closeIdle, 100);
  const forced = await Promise.race([closed.then(() => false as const), timedOut]);
  clearTimeout(timer);
  clearInterval(sweep);
  if (forced) {
    life.warn('drain_forced', `in-flight requests still running after ${timeoutMs} ms: closing their connections`, undefined, timeoutMs);
    if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
    await closed;
  }
  return { forced };
}

/** The port and address a listening server is bound to. */
export function boundTo(server: Server): { port: number; address: string } {
  const bound = server.address() as AddressInfo;
  return { port: bound.port, address: bound.address };
}
