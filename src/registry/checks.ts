/**
 * Runs the checks of registered services as Consul's agent does (agent/checks/check.go):
 * HTTP/HTTPS and TCP probes every Interval (first run after a random stagger within the
 * interval), TTL checks turn critical when no update arrives within the TTL, and a reaper
 * deregisters a service whose check has been critical for longer than its
 * DeregisterCriticalServiceAfter (checked every check_reap_interval, 30 s by default).
 * Clock, timers and the probe are injected, so the scheduling is tested without sockets.
 */
import type { HealthStatus } from '../consul-wire/types.js';
import type { Logger } from '../log/logger.js';
import type { Catalog, CheckDefinition, CheckState } from './catalog.js';
import { realTimers, type Timers } from './blocking.js';

export interface ProbeResult {
  status: HealthStatus;
  output: string;
}

/** Runs one HTTP or TCP check once. Never rejects: failures are a critical result. */
export type Probe = (check: CheckDefinition) => Promise<ProbeResult>;

export interface CheckRunnerOptions {
  catalog: Catalog;
  probe: Probe;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
  /** Consul's check_reap_interval. */
  reapIntervalMs?: number;
  logger?: Logger;
}

export const DEFAULT_REAP_INTERVAL_MS = 30_000;

/** The output Consul writes when a TTL expires. */
export function ttlExpiredOutput(lastOutput: string): string {
  return lastOutput === '' ? 'TTL expired' : `TTL expired (last output before timeout follows): ${lastOutput}`;
}

/**
 * Consul's StatusHandler: SuccessBeforePassing / FailuresBeforeWarning / FailuresBeforeCritical.
 * The counters start at their thresholds, so the first result counts at once; after a change of
 * direction the threshold must be met again. Returns the status to record, or undefined to hold.
 */
export class StatusThreshold {
  private successes: number;
  private failures: number;

  constructor(private readonly check: Pick<CheckDefinition, 'successBeforePassing' | 'failuresBeforeWarning' | 'failuresBeforeCritical'>) {
    this.successes = check.successBeforePassing ?? 0;
    this.failures = check.failuresBeforeCritical ?? 0;
  }

  next(status: HealthStatus): HealthStatus | undefined {
    if (status === 'passing' || status === 'warning') {
      this.successes += 1;
      this.failures = 0;
      return this.successes >= (this.check.successBeforePassing ?? 0) ? status : undefined;
    }
    this.failures += 1;
    this.successes = 0;
    if (this.failures >= (this.check.failuresBeforeCritical ?? 0)) return status;
    if (this.failures >= (this.check.failuresBeforeWarning ?? 0)) return 'warning';
    return undefined;
  }
}

interface Scheduled {
  definition: CheckState;
  timer?: unknown;
  stopped: boolean;
  threshold: StatusThreshold;
}

export class CheckRunner {
  private readonly catalog: Catalog;
  private readonly probe: Probe;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly reapIntervalMs: number;
  private readonly logger: Logger | undefined;
  private readonly scheduled = new Map<string, Scheduled>();
  private readonly scheduledByService = new Map<string, Set<string>>();
  private readonly criticalSince = new Map<string, number>();
  private reapTimer: unknown;
  private readonly unsubscribe: () => void;

  constructor(opts: CheckRunnerOptions) {
    this.catalog = opts.catalog;
    this.probe = opts.probe;
    this.timers = opts.timers ?? realTimers;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.reapIntervalMs = opts.reapIntervalMs ?? DEFAULT_REAP_INTERVAL_MS;
    this.logger = opts.logger;
    this.unsubscribe = this.catalog.onChange((change) => {
      if (change.kind === 'check-updated') this.trackCritical(change.checkId);
      else this.syncService(change.serviceId);
    });
    this.scheduleReap();
  }

  /** (Re)starts the checks of a service after its registration; stops the checks that are gone. */
  syncService(serviceId: string): void {
    for (const checkId of [...(this.scheduledByService.get(serviceId) ?? [])]) this.unschedule(checkId);
    for (const check of this.catalog.checksOfService(serviceId)) {
      this.unschedule(check.checkId); // a check ID that moved here from another service
      if (check.type === 'maintenance') continue; // nothing runs it; it goes when maintenance is disabled
      this.trackCritical(check.checkId);
      const entry: Scheduled = { definition: check, stopped: false, threshold: new StatusThreshold(check) };
      this.scheduled.set(check.checkId, entry);
      const siblings = this.scheduledByService.get(serviceId);
      if (siblings) siblings.add(check.checkId);
      else this.scheduledByService.set(serviceId, new Set([check.checkId]));
      if (check.type === 'ttl') this.armTtl(entry);
      else this.arm(entry, Math.floor(this.random() * check.intervalMs));
    }
  }

  /** A TTL check was updated through the API: its timer starts again. */
  ttlUpdated(checkId: string): void {
    const entry = this.scheduled.get(checkId);
    if (entry && entry.definition.type === 'ttl') this.armTtl(entry);
  }

  stop(): void {
    this.unsubscribe();
    this.timers.clearTimeout(this.reapTimer);
    for (const checkId of [...this.scheduled.keys()]) this.unschedule(checkId);
  }

  /** Deregisters every service with a check critical for longer than its limit. Returns their IDs. */
  reap(): string[] {
    const reaped: string[] = [];
    const now = this.now();
    for (const check of this.catalog.listChecks()) {
      if (check.deregisterCriticalAfterMs <= 0 || check.status !== 'critical') continue;
      const since = this.criticalSince.get(check.checkId);
      if (since === undefined || now - since <= check.deregisterCriticalAfterMs) continue;
      if (reaped.includes(check.serviceId)) continue;
      if (this.catalog.deregisterService(check.serviceId)) {
        reaped.push(check.serviceId);
        this.logger?.info({ service: check.serviceId, check: check.checkId }, 'deregistered service with critical health that exceeded DeregisterCriticalServiceAfter');
      }
    }
    return reaped;
  }

  private trackCritical(checkId: string): void {
    const check = this.catalog.getCheck(checkId);
    if (!check || check.status !== 'critical') {
      this.criticalSince.delete(checkId);
      return;
    }
    if (!this.criticalSince.has(checkId)) this.criticalSince.set(checkId, this.now());
  }

  private scheduleReap(): void {
    this.reapTimer = this.timers.setTimeout(() => {
      this.reap();
      this.scheduleReap();
    }, this.reapIntervalMs);
    (this.reapTimer as { unref?: () => void }).unref?.();
  }

  private unschedule(checkId: string): void {
    const entry = this.scheduled.get(checkId);
    if (!entry) return;
    entry.stopped = true;
    this.timers.clearTimeout(entry.timer);
    this.scheduled.delete(checkId);
    const siblings = this.scheduledByService.get(entry.definition.serviceId);
    siblings?.delete(checkId);
    if (siblings?.size === 0) this.scheduledByService.delete(entry.definition.serviceId);
    if (!this.catalog.getCheck(checkId)) this.criticalSince.delete(checkId);
  }

  private armTtl(entry: Scheduled): void {
    this.timers.clearTimeout(entry.timer);
    entry.timer = this.timers.setTimeout(() => {
      if (entry.stopped) return;
      const check = this.catalog.getCheck(entry.definition.checkId);
      if (!check) return;
      this.catalog.updateCheck(check.checkId, 'critical', ttlExpiredOutput(check.output));
    }, entry.definition.ttlMs);
  }

  private arm(entry: Scheduled, delayMs: number): void {
    entry.timer = this.timers.setTimeout(() => {
      if (entry.stopped) return;
      void this.probe(entry.definition)
        .catch((error: unknown): ProbeResult => ({ status: 'critical', output: error instanceof Error ? error.message : String(error) }))
        .then((result) => {
          if (entry.stopped) return;
          const status = entry.threshold.next(result.status);
          if (status !== undefined) this.catalog.updateCheck(entry.definition.checkId, status, result.output);
          this.arm(entry, entry.definition.intervalMs);
        });
    }, delayMs);
  }
}
