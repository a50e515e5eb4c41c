import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { isUnknownCheckError, isUnknownServiceError, type AgentServiceCheck, type AgentServiceRegistration, type ConsulClient } from '../consul/index.js';
import { goDurationMs, parseGoDuration } from '../consul-wire/duration.js';
import { isFarolError } from '../errors.js';
import { channels, createEventOwner, type EventOwner, type RegistrationState } from '../events/channels.js';
import { setLongTimeout, type LongTimer } from '../timers/long-timeout.js';
import type { HealthCheckKind } from './options.js';
import { HEALTH_PATH } from './health-path.js';

/** `<name>-<8 random hex>`: unique per process, so replicas of one service never collide in Consul. */
export function newInstanceId(serviceName: string): string {
  return `${serviceName}-${randomBytes(4).toString('hex')}`;
}

export function checkIdFor(instanceId: string): string {
  return `service:${instanceId}`;
}

/** `host:port` for a URL, with IPv6 literals in brackets. */
export function hostPort(address: string, port: number): string {
  return `${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

export interface RegistrationInput {
  instanceId: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  farolVersion: string;
  check: {
    kind: HealthCheckKind;
    interval: string;
    timeout: string;
    deregisterCriticalAfter: string;
    ttl: string;
    /** The name Consul verifies the certificate against (see checkServerName). */
    tlsServerName?: string;
    /** The port Consul's HTTPS check calls: the health listener's, when there is one; default `port`. */
    port?: number;
    /** The path Consul's HTTPS check calls (default /health). */
    path?: string;
  };
}

/**
 * The registration Consul receives. An HTTPS check is verified by the agent against the CA it
 * trusts (its ca_file); Farol never asks it to skip verification.
 */
export function buildRegistration(input: RegistrationInput): AgentServiceRegistration {
  const { check } = input;
  const base = {
    CheckID: checkIdFor(input.instanceId),
    DeregisterCriticalServiceAfter: check.deregisterCriticalAfter,
  };
  const serviceCheck: AgentServiceCheck =
    check.kind === 'ttl'
      ? { ...base, Name: `${input.name} TTL heartbeat`, TTL: check.ttl }
      : {
          ...base,
          Name: `${input.name} HTTPS health`,
          HTTP: `https://${hostPort(input.address, check.port ?? input.port)}${check.path ?? HEALTH_PATH}`,
          Method: 'GET',
          Interval: check.interval,
          Timeout: check.timeout,
          ...(check.tlsServerName !== undefined ? { TLSServerName: check.tlsServerName } : {}),
        };
  return {
    ID: input.instanceId,
    Name: input.name,
    Address: input.address,
    Port: input.port,
    Tags: [...input.tags],
    Meta: { ...input.meta, farol_version: input.farolVersion, scheme: 'https' },
    Check: serviceCheck,
  };
}

/**
 * Heartbeat period for a TTL check: a third of the TTL, so two heartbeats can be lost before it
 * expires (a 2000h TTL beats every 666h40m, on a chained timer). Throws GoDurationError for a TTL
 * Go refuses; the options have refused it before.
 */
export function heartbeatIntervalMs(ttl: string): number {
  return Math.max(100, Math.floor(goDurationMs(parseGoDuration(ttl)) / 3));
}

/** Where a failed Consul call came from, for the log. */
type ConsulCallSource = 'keep_registered' | 'heartbeat';

/**
 * The Consul side of an instance's life: register (and, for a TTL check, keep it passing), keep
 * registered (anti-entropy), leave the passing set (maintenance mode) and deregister.
 *
 * Anti-entropy: every `intervalMs` the agent is asked for the instance (GET
 * /v1/agent/service/:id, answered from the agent's own state). If the agent no longer knows it
 * (a restarted dev agent comes back empty), the instance registers again, which also restarts
 * the TTL heartbeat. A heartbeat refused because the agent does not know the check triggers the
 * same check at once. While Consul cannot be reached, one warning is logged per outage, not one
 * per attempt, and one info line when it answers again.
 */
export class ConsulRegistration {
  private heartbeat: LongTimer | undefined;
  private heartbeatStopped = true;
  private heartbeatGeneration = 0;
  private isRegistered = false;
  private keepActive = false;
  private keepIntervalMs = 0;
  private keepTimer: LongTimer | undefined;
  private keepInFlight: Promise<void> | undefined;
  /** Set while Consul calls fail: the failure was logged once, and its end will be. */
  private outage: { since: number; source: ConsulCallSource } | undefined;

  constructor(
    private readonly consul: ConsulClient,
    readonly registration: AgentServiceRegistration,
    /** Whose events registration publishes: the service's (default: its own, named by the instance id). */
    private readonly owner: EventOwner = createEventOwner('service', registration.ID ?? registration.Name),
  ) {}

  private publishState(state: RegistrationState['state'], reason?: string): void {
    if (!channels.registrationState.hasSubscribers) return;
    channels.registrationState.publish({
      owner: this.owner,
      service: this.registration.Name,
      instance: this.serviceId,
      consul: this.consul.address,
      state,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  get serviceId(): string {
    return this.registration.ID!;
  }

  /** Whether Consul accepted the registration (and it has not been removed since). */
  get registered(): boolean {
    return this.isRegistered;
  }

  async register(): Promise<void> {
    // A heartbeat of the registration being replaced must not report Consul's answer meanwhile.
    this.stopHeartbeat();
    await this.consul.agent.registerService(this.registration, { replaceExistingChecks: true });
    this.isRegistered = true;
    this.publishState('registered');
    const ttl = this.registration.Check?.TTL;
    if (ttl !== undefined) {
      await this.passTtl();
      this.startHeartbeat(heartbeatIntervalMs(ttl));
    }
  }

  /**
   * Service maintenance mode: Consul adds a critical `_service_maintenance:<id>` check, so the
   * instance leaves every `?passing` answer (and wakes blocking watchers) at once.
   */
  async enableMaintenance(reason: string): Promise<void> {
    await this.consul.agent.enableServiceMaintenance(this.serviceId, reason);
    this.publishState('maintenance', reason);
  }

  /** Removes the instance from Consul; an instance Consul no longer knows counts as removed. */
  async deregister(): Promise<void> {
    this.stopHeartbeat();
    try {
      await this.consul.agent.deregisterService(this.serviceId);
    } catch (error) {
      if (!isUnknownService(error)) throw error;
    }
    this.isRegistered = false;
    this.publishState('deregistered');
  }

  stopHeartbeat(): void {
    this.heartbeatStopped = true;
    this.heartbeat?.cancel();
    this.heartbeat = undefined;
  }

  /** Starts anti-entropy. intervalMs 0: no periodic check, but a heartbeat refused for an unknown check still re-registers. */
  startKeepRegistered(intervalMs: number): void {
    this.keepActive = true;
    this.keepIntervalMs = intervalMs;
    if (intervalMs > 0) this.scheduleKeepCheck(intervalMs);
  }

  /** Stops anti-entropy and waits for a check in flight, so nothing re-registers after this resolves. */
  async stopKeepRegistered(): Promise<void> {
    this.keepActive = false;
    this.keepTimer?.cancel();
    this.keepTimer = undefined;
    await this.keepInFlight;
  }

  private scheduleKeepCheck(delayMs: number): void {
    if (!this.keepActive) return;
    this.keepTimer?.cancel();
    this.keepTimer = setLongTimeout(() => {
      this.keepTimer = undefined;
      if (this.keepInFlight || !this.keepActive) return;
      this.keepInFlight = this.keepCheck().finally(() => {
        this.keepInFlight = undefined;
        if (this.keepIntervalMs > 0) this.scheduleKeepCheck(this.keepIntervalMs);
      });
    }, delayMs, { unref: true });
  }

  /** One anti-entropy round. Never rejects. */
  private async keepCheck(): Promise<void> {
    try {
      const known = await this.consul.agent.service(this.serviceId);
      if (!this.keepActive) return;
      if (known !== undefined) {
        this.consulAnswered(false);
        return;
      }
      await this.register();
      this.publishState('re_registered');
      this.consulAnswered(true);
    } catch (error) {
      if (this.keepActive) this.consulFailed('keep_registered', error);
    }
  }

  private consulFailed(source: ConsulCallSource, error: unknown): void {
    if (this.outage) return;
    this.outage = { since: Date.now(), source };
    const unreachable = isFarolError(error, 'CONSUL_UNREACHABLE') || isFarolError(error, 'TIMEOUT');
    if (channels.registrationOutage.hasSubscribers) {
      channels.registrationOutage.publish({
        owner: this.owner,
        service: this.registration.Name,
        instance: this.serviceId,
        phase: 'start',
        consul: this.consul.address,
        unreachable,
        source,
        error: (error as Error).message,
      });
    }
  }

  private consulAnswered(reRegistered: boolean): void {
    if (!this.outage) return;
    const downMs = Date.now() - this.outage.since;
    this.outage = undefined;
    if (channels.registrationOutage.hasSubscribers) {
      channels.registrationOutage.publish({
        owner: this.owner,
        service: this.registration.Name,
        instance: this.serviceId,
        phase: 'end',
        consul: this.consul.address,
        downMs,
        reRegistered,
      });
    }
  }

  private passTtl(): Promise<void> {
    return this.consul.agent.updateTTL(checkIdFor(this.serviceId), 'passing', 'farol heartbeat');
  }

  // A chain of timeouts rather than an interval: a slow Consul never gets overlapping updates.
  // Each chain has its generation, so a chain left over from before a re-registration ends itself.
  private startHeartbeat(periodMs: number): void {
    this.stopHeartbeat();
    this.heartbeatStopped = false;
    const generation = ++this.heartbeatGeneration;
    const current = (): boolean => !this.heartbeatStopped && generation === this.heartbeatGeneration;
    const beat = (): void => {
      this.heartbeat = setLongTimeout(() => {
        this.passTtl()
          .then(() => {
            if (current()) this.consulAnswered(false);
          })
          .catch((error: unknown) => {
            if (!current()) return;
            // The agent lost the check (restarted empty): re-register now rather than at the next round.
            if (isUnknownCheck(error) && this.keepActive) this.scheduleKeepCheck(0);
            else this.consulFailed('heartbeat', error);
          })
          .finally(() => {
            if (current()) beat();
          });
      }, periodMs, { unref: true });
    };
    beat();
  }
}

const isUnknownService = isUnknownServiceError;

/** Consul's answer to a TTL update of a check it does not know: 404 "Unknown check ID ...". */
export const isUnknownCheck = isUnknownCheckError;
