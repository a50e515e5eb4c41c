import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { parseGoDuration, type AgentServiceCheck, type AgentServiceRegistration, type ConsulClient } from '../consul/index.js';
import { isFarolError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { HealthCheckKind } from './options.js';

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
          HTTP: `https://${hostPort(input.address, input.port)}/health`,
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

/** Heartbeat period for a TTL check: a third of the TTL, so two heartbeats can be lost before it expires. */
export function heartbeatIntervalMs(ttl: string): number {
  const ttlMs = parseGoDuration(ttl);
  if (ttlMs === undefined) throw new RangeError(`not a duration: ${ttl}`);
  return Math.max(100, Math.floor(ttlMs / 3));
}

/**
 * The Consul side of an instance's life: register (and, for a TTL check, keep it passing) and
 * deregister. Kept apart from the HTTP server so drain and anti-entropy can grow here.
 */
export class ConsulRegistration {
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatStopped = true;
  private isRegistered = false;

  constructor(
    private readonly consul: ConsulClient,
    readonly registration: AgentServiceRegistration,
    private readonly logger: Logger,
  ) {}

  get serviceId(): string {
    return this.registration.ID!;
  }

  /** Whether Consul accepted the registration (and it has not been removed since). */
  get registered(): boolean {
    return this.isRegistered;
  }

  async register(): Promise<void> {
    await this.consul.agent.registerService(this.registration, { replaceExistingChecks: true });
    this.isRegistered = true;
    this.logger.info(
      { event: 'registered', instance: this.serviceId, service: this.registration.Name, consul: this.consul.address },
      'registered in Consul',
    );
    const ttl = this.registration.Check?.TTL;
    if (ttl !== undefined) {
      await this.passTtl();
      this.startHeartbeat(heartbeatIntervalMs(ttl));
    }
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
    this.logger.info({ event: 'deregistered', instance: this.serviceId, consul: this.consul.address }, 'deregistered from Consul');
  }

  stopHeartbeat(): void {
    this.heartbeatStopped = true;
    if (this.heartbeat !== undefined) clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }

  private passTtl(): Promise<void> {
    return this.consul.agent.updateTTL(checkIdFor(this.serviceId), 'passing', 'farol heartbeat');
  }

  // A chain of timeouts rather than an interval: a slow Consul never gets overlapping updates.
  private startHeartbeat(periodMs: number): void {
    this.heartbeatStopped = false;
    const beat = (): void => {
      this.heartbeat = setTimeout(() => {
        this.passTtl()
          .catch((error: unknown) => {
            this.logger.warn(
              { event: 'heartbeat_failed', instance: this.serviceId, error: (error as Error).message },
              'TTL heartbeat failed',
            );
          })
          .finally(() => {
            if (!this.heartbeatStopped) beat();
          });
      }, periodMs);
      this.heartbeat.unref();
    };
    beat();
  }
}

function isUnknownService(error: unknown): boolean {
  if (!isFarolError(error, 'CONSUL_ERROR')) return false;
  return error.details?.status === 404 || /unknown service/i.test(error.message);
}
