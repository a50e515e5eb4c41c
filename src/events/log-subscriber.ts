import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import { createLineRateLimiter, LINE_RATE_LIMIT_DEFAULTS, OVERFLOW_KEY, type LineRateLimiter, type LineRateLimitOptions, type SuppressedSummary } from '../log/rate-limit.js';
import { channels, type AuthOutcome, type Channel, type ChannelKey, type EventOf, type EventOwner } from './channels.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

/** What a subscriber writes: one call per line (the logger's, in production). */
type Write = (level: Level, fields: Record<string, unknown>, message: string) => void;

export interface LogSubscriberOptions {
  /**
   * Whose events become lines: one owner (a client's or a service's `owner`), several, or every
   * owner when omitted (a process-wide log of every Farol component).
   */
  owner?: EventOwner | readonly EventOwner[];
  /**
   * Rate limit of the lines of refused anonymous requests (400, 401, 429: the failed-login line
   * and the access line), per client address: default the first 20 per minute, then one
   * `audit_suppressed` line per address and minute. false writes every line.
   */
  refusedLines?: LineRateLimitOptions | false;
  /** The key a client address is limited under (the service passes one that counts an IPv6 /64 as one address). Default: the address. */
  addressKey?: (address: string) => string;
  /** A monotonic clock in milliseconds, for tests. */
  now?: () => number;
}

/** Statuses of refused anonymous requests, whose lines are rate-limited per client address. */
const LIMITED_STATUSES = new Set([400, 401, 429]);

type Handlers = { [K in ChannelKey]?: (event: EventOf<K>) => void };

/**
 * Makes `logger` a subscriber of Farol's events: each event of the owners given becomes the JSON
 * line Farol has always written (same `event` names and fields). Returns the function that
 * unsubscribes, after writing the audit summaries still due.
 *
 * Per-component logs: a client or a service subscribes its own logger with its own owner, so a
 * process running several of them keeps one log per component; an application can also call this
 * with no owner for one log of everything. Channels whose lines are debug only are not subscribed
 * to unless the logger writes debug lines (so nothing is built for them otherwise).
 */
export function subscribeLogger(logger: Logger, opts: LogSubscriberOptions = {}): () => void {
  // Lenient with loggers that are not pino (any object with the level methods will do).
  const write: Write = (level, fields, message) => {
    const method = (logger as Partial<Logger>)[level];
    if (typeof method === 'function') method.call(logger, fields, message);
  };
  const enabled = (level: Level): boolean => (typeof logger.isLevelEnabled === 'function' ? logger.isLevelEnabled(level) : true);
  const detach = subscribeLines(write, opts, enabled);
  return () => {
    detach();
    // a log file writes its lines in batches: the owner's last lines are in it once detached
    try {
      if (typeof logger.flush === 'function') logger.flush();
    } catch {
      // a destination that cannot flush keeps its lines until it can
    }
  };
}

/** The subscriber behind subscribeLogger, over any line writer (exported for tests). */
export function subscribeLines(write: Write, opts: LogSubscriberOptions = {}, enabled: (level: Level) => boolean = () => true): () => void {
  const owners = opts.owner === undefined ? undefined : new Set<EventOwner>(Array.isArray(opts.owner) ? opts.owner : [opts.owner as EventOwner]);
  const mine = (event: { owner: EventOwner }): boolean => owners === undefined || owners.has(event.owner);
  const audit = createAuditLines(write, opts);

  const handlers: Handlers = {
    // --- client ---------------------------------------------------------------------------
    clientTryEnd(e) {
      if (e.status !== undefined) {
        // one info line per call (clientCallEnd); each try's answer only at debug
        if (enabled('debug')) {
          write(
            'debug',
            { event: 'try', service: e.service, instance: e.instance.id, address: e.instance.address, port: e.instance.port, method: e.method, path: e.path, attempt: e.attempt, status: e.status, latencyMs: e.durationMs },
            `${e.method} ${e.path} -> ${e.status} (try ${e.attempt})`,
          );
        }
      } else if (e.error !== undefined && e.error.code !== 'ABORTED') {
        const fields = { service: e.service, instance: e.instance.id, address: e.instance.address, port: e.instance.port, method: e.method, path: e.path };
        write('warn', { event: 'call_failed', ...fields, code: e.error.code, error: e.error.message, latencyMs: e.durationMs }, e.error.message);
      }
    },
    clientCallEnd(e) {
      if (e.status === undefined || !enabled('info')) return;
      write(
        'info',
        { event: 'call', service: e.service, instance: e.instance?.id, address: e.instance?.address, port: e.instance?.port, method: e.method, path: e.path, status: e.status, latencyMs: e.durationMs, tries: e.attempts },
        `${e.method} ${e.path} -> ${e.status}`,
      );
    },
    clientEjection(e) {
      write(
        'warn',
        { event: 'ejected', service: e.service, instance: e.instance, durationMs: e.durationMs, ejections: e.ejections },
        `instance ${e.instance} of '${e.service}' ejected for ${e.durationMs} ms after consecutive failures`,
      );
    },
    clientPanic(e) {
      if (e.panic) {
        write(
          'warn',
          { event: 'panic', service: e.service, ejected: e.ejected, passing: e.passing },
          `too many instances of '${e.service}' are ejected; balancing over all ${e.passing} passing instances`,
        );
      } else write('info', { event: 'panic_over', service: e.service }, `'${e.service}' has enough healthy instances again`);
    },
    clientCredentialsRefreshed(e) {
      write(
        'info',
        { event: 'credentials_refreshed', service: e.service, instance: e.instance },
        `${e.method} ${e.path}: token rejected as invalid; retrying once with a fresh one`,
      );
    },
    clientRetry(e) {
      write(
        'info',
        { event: 'retry', service: e.service, instance: e.instance, tries: e.attempt, reason: e.reason, pauseMs: e.pauseMs },
        `retrying ${e.method} ${e.path} on another instance of '${e.service}'`,
      );
    },
    clientRetryRefused(e) {
      write('warn', { event: 'retry_refused', service: e.service, tries: e.attempts, reason: e.reason }, `not retrying ${e.method} ${e.path}: ${e.reason}`);
    },

    // --- discovery ------------------------------------------------------------------------
    discoveryUpdate(e) {
      write(
        'info',
        { event: 'discovery', service: e.service, passing: e.instances.length, instances: e.instances },
        `service '${e.service}': ${e.instances.length} passing instance(s)`,
      );
    },
    discoveryHeld(e) {
      write(
        'warn',
        { event: 'discovery_held', service: e.service, known: e.known, graceMs: e.graceMs },
        `Consul answered no passing instance of '${e.service}' right after an outage; serving the ${e.known} last known for up to ${e.graceMs} ms while they register again`,
      );
    },
    discoveryStale(e) {
      write(
        'warn',
        { event: 'discovery_stale', service: e.service, code: e.error.code, error: e.error.message, serving: e.serving, maxStalenessMs: e.maxStalenessMs },
        `Consul cannot be asked about '${e.service}' (${e.error.message}); serving the ${e.serving} last known instance(s) for up to ${e.maxStalenessMs} ms`,
      );
    },
    discoveryReleased(e) {
      if (enabled('debug')) write('debug', { event: 'discovery_released', service: e.service, idleMs: e.idleMs }, `service '${e.service}' not called for ${e.idleMs} ms: no longer watched`);
    },
    discoveryRecovered(e) {
      write('info', { event: 'discovery_recovered', service: e.service }, `Consul answers again for service '${e.service}'`);
    },
    discoveryError(e) {
      if (e.stage === 'watch') write('warn', { event: 'discovery_error', service: e.service, code: e.error.code, error: e.error.message }, e.error.message);
      else if (enabled('debug')) write('debug', { event: 'discovery_error', service: e.service, error: e.error.message }, 'could not count registered instances');
    },
    discoveryEmpty(e) {
      const counts = e.registered === undefined ? '' : e.registered === 0 ? ' (none registered)' : ` (${e.registered} registered, 0 passing)`;
      write('warn', { event: 'no_healthy_instance', service: e.service }, `no healthy instance of service '${e.service}'${counts}`);
    },

    // --- Consul client --------------------------------------------------------------------
    consulWatchError(e) {
      write(
        'warn',
        { event: 'consul_watch_failed', service: e.service, code: e.error.code, err: e.error.message, failures: e.failures, retryInMs: e.retryInMs },
        'Consul watch query failed',
      );
    },
    consulWatchReset(e) {
      write('info', { event: 'consul_index_reset', service: e.service, previous: e.previous, returned: e.returned }, 'Consul index went backwards; restarting the watch');
    },
    consulWatchFault(e) {
      if (e.where === 'loop') write('error', { event: 'consul_watch_ended', service: e.service, err: e.error }, 'Consul watch loop ended unexpectedly');
      else write('warn', { event: 'consul_watch_callback_failed', service: e.service, err: e.error }, `${e.where} callback threw`);
    },
    consulAddressSwitch(e) {
      write('info', { event: 'consul_address_switched', address: e.address, previous: e.previous }, 'switched to another Consul address');
    },
    consulAddressFailed(e) {
      write('debug', { event: 'consul_address_failed', address: e.address, code: e.code }, 'Consul address failed');
    },
    consulRequestEnd(e) {
      write('debug', { event: 'consul_request', method: e.method, path: e.path, address: e.address, status: e.status, ms: e.durationMs }, 'consul request');
    },

    // --- service host ---------------------------------------------------------------------
    serviceRequestEnd(e) {
      audit.requestEnd(e, enabled);
    },
    authOutcome(e) {
      audit.authOutcome(e);
    },
    serviceRequestError(e) {
      write('error', { event: 'error', instance: e.instance, method: e.method, path: e.path, err: e.error }, 'request failed');
    },
    serviceState(e) {
      const instance = e.instance;
      switch (e.state) {
        case 'started':
          write(
            'info',
            {
              event: 'started',
              service: e.service,
              instance,
              url: e.url,
              registered: e.registered,
              check: e.check,
              ...(e.healthPort === undefined ? {} : { healthPort: e.healthPort }),
            },
            'service started',
          );
          break;
        case 'draining':
          write('info', { event: 'drain_started', instance, reason: e.reason, delayMs: e.delayMs, registered: e.registered }, 'draining');
          break;
        case 'waiting':
          write('info', { event: 'drain_wait', instance, delayMs: e.delayMs }, `waiting ${e.delayMs} ms for watchers to see the instance leave`);
          break;
        case 'closed':
          audit.flush(instance);
          write('info', { event: 'drain_closed', instance, forced: e.forced, ms: e.ms }, 'stopped accepting; in-flight requests done');
          break;
        case 'stopped':
          write('info', { event: 'stopped', instance, reason: e.reason, ms: e.ms }, 'service stopped');
          break;
      }
    },
    serviceWarning(e) {
      const level: Level = e.warning === 'stop_failed' || e.warning === 'reload_failed' ? 'error' : 'warn';
      write(
        level,
        {
          event: e.warning,
          instance: e.instance,
          ...(e.error === undefined ? {} : { error: e.error }),
          ...(e.timeoutMs === undefined ? {} : { timeoutMs: e.timeoutMs }),
        },
        e.message,
      );
    },
    serviceSignal(e) {
      if (e.action === 'forced_exit') write('warn', { event: 'forced_exit', instance: e.instance, signal: e.signal }, 'second signal: exiting without waiting');
      else write('info', { event: 'signal', instance: e.instance, signal: e.signal }, `received ${e.signal}: ${e.action === 'stop' ? 'stopping' : 'reloading'}`);
    },
    serviceReloaded(e) {
      write('info', { event: 'reload_done', instance: e.instance, ms: e.ms }, 'reload done');
    },
    oauth2Token(e) {
      write(
        'info',
        { event: 'oauth2_token', tokenEndpoint: e.tokenEndpoint, clientId: e.clientId, expiresInSec: e.expiresInSec, scope: e.scope },
        `got an access token for ${e.clientId}`,
      );
    },
    oauth2TokenFailed(e) {
      write('warn', { event: 'oauth2_token_failed', clientId: e.clientId, code: e.error.code, failures: e.failures, retryInMs: e.retryInMs }, e.error.message);
    },
    authKeysError(e) {
      write('warn', { event: 'jwks_unavailable', error: e.error.message }, 'could not fetch the token signing keys');
    },
    registrationState(e) {
      const base = { instance: e.instance, consul: e.consul };
      switch (e.state) {
        case 'registered':
          write('info', { event: 'registered', instance: e.instance, service: e.service, consul: e.consul }, 'registered in Consul');
          break;
        case 're_registered':
          write('info', { event: 're_registered', ...base }, 'the Consul agent had forgotten this instance: registered it again');
          break;
        case 'maintenance':
          write('info', { event: 'maintenance_enabled', ...base, reason: e.reason }, 'in maintenance mode: out of the passing set');
          break;
        case 'deregistered':
          write('info', { event: 'deregistered', ...base }, 'deregistered from Consul');
          break;
      }
    },
    registrationOutage(e) {
      if (e.phase === 'start') {
        write(
          'warn',
          { event: e.unreachable ? 'consul_unreachable' : 'consul_call_failed', instance: e.instance, consul: e.consul, source: e.source, error: e.error },
          e.unreachable ? 'cannot reach Consul; retrying quietly until it answers' : 'Consul refused a registration call; retrying quietly until it succeeds',
        );
      } else {
        write(
          'info',
          { event: 'consul_reachable', instance: e.instance, consul: e.consul, downMs: e.downMs, reRegistered: e.reRegistered },
          e.reRegistered ? 'Consul answers again; registered again' : 'Consul answers again; the registration was intact',
        );
      }
    },
    certificateExpiry(e) {
      const { warning } = e;
      if (warning === undefined) return;
      write(
        warning.level,
        { event: 'certificate_expiry', instance: e.instance, threshold: warning.threshold, daysLeft: warning.daysLeft, notAfter: e.notAfter, serial: e.serial },
        `${warning.message}: renew it with \`farol certs renew\` (the running service picks the new files up)`,
      );
    },

    // --- TLS material, users file ---------------------------------------------------------
    tlsReloaded(e) {
      write('info', { event: 'tls_reloaded', trigger: e.trigger, ...e.material }, 'new TLS material in use for new connections');
    },
    tlsFailed(e) {
      if (e.stage === 'reload') {
        write('error', { event: 'tls_reload_failed', code: e.error.code, error: e.error.message, hint: e.error.hint }, 'new TLS material refused: the previous one stays in use');
      } else write('error', { event: 'tls_listener_failed', error: e.error.message }, 'a TLS change listener failed');
    },
    usersReloaded(e) {
      write('info', { event: 'users_reloaded', file: e.file, users: e.users, generation: e.generation, revoked: e.revoked }, `users file reloaded: ${e.users} users`);
    },
    usersFailed(e) {
      switch (e.stage) {
        case 'reload':
          write(
            'error',
            { event: 'users_reload_failed', file: e.file, code: e.error.code, error: e.error.message, hint: e.error.hint, usersKept: e.usersKept },
            `users file not reloaded: ${e.error.message}; still using the ${e.usersKept ?? 0} users loaded before`,
          );
          break;
        case 'listener':
          write('error', { event: 'users_listener_failed', error: e.error.message }, 'a users change listener threw');
          break;
        case 'watch':
          write(
            'warn',
            { event: 'users_watch_unavailable', file: e.file, error: e.error.code, pollIntervalMs: e.pollIntervalMs },
            `cannot watch the folder of ${e.file ?? 'the users file'}: checking the file every ${e.pollIntervalMs ?? 0} ms instead`,
          );
          break;
      }
    },
  };

  const debugOnly = new Set<ChannelKey>(['consulAddressFailed', 'consulRequestEnd']);
  const unsubscribers: (() => void)[] = [];
  for (const [key, handle] of Object.entries(handlers) as [ChannelKey, (event: never) => void][]) {
    if (debugOnly.has(key) && !enabled('debug')) continue;
    const target = channels[key] as Channel<{ owner: EventOwner }>;
    const onMessage = (event: { owner: EventOwner }): void => {
      if (!mine(event)) return;
      // A subscriber that throws becomes an uncaught exception in Node: a log line is not worth that.
      try {
        handle(event as never);
      } catch {
        // the line is lost; the event's publisher carries on
      }
    };
    target.subscribe(onMessage);
    unsubscribers.push(() => target.unsubscribe(onMessage));
  }
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    for (const unsubscribe of unsubscribers) unsubscribe();
    audit.flush(undefined);
  };
}

/**
 * The access and refusal lines of a service. A refused anonymous request (400, 401 or 429 without
 * a principal) writes its lines (the auth_failed or auth_limited line, then the access line) only
 * while its address is within the rate limit (see log/rate-limit.ts), so a caller fuzzing
 * credentials cannot fill the disk; what is left out is counted in one `audit_suppressed` line per
 * address and window, written when the window is over (or the service closes). Only named fields
 * are logged, never the headers. A limit is a log concern: metrics and traces see every event.
 */
function createAuditLines(write: Write, opts: LogSubscriberOptions) {
  const now = opts.now ?? (() => performance.now());
  const keyOf = opts.addressKey ?? ((address: string) => address);
  const sweepMs = (opts.refusedLines === false ? undefined : opts.refusedLines?.windowMs) ?? LINE_RATE_LIMIT_DEFAULTS.windowMs;
  /** One limiter per service instance. */
  const limiters = new Map<string, LineRateLimiter>();
  /** The refusal line of a request, written with its access line once its response is sent. */
  const pending = new WeakMap<object, AuthOutcome>();
  let sweeper: NodeJS.Timeout | undefined;

  const writeSummaries = (instance: string, summaries: SuppressedSummary[]): void => {
    for (const { key, suppressed, windowMs } of summaries) {
      const from = key === OVERFLOW_KEY ? 'addresses beyond the tracked ones' : key;
      write(
        'warn',
        { event: 'audit_suppressed', instance, remoteAddress: key === OVERFLOW_KEY ? null : key, suppressed, windowMs },
        `suppressed the audit lines of ${suppressed} refused requests from ${from} (more than the limit in ${windowMs / 1000} s)`,
      );
    }
  };

  const sweep = (): void => {
    let due = 0;
    for (const [instance, limiter] of limiters) {
      writeSummaries(instance, limiter.flush(now()));
      due += limiter.pending;
    }
    if (due === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };

  const withinLimit = (instance: string, remoteAddress: string): boolean => {
    if (opts.refusedLines === false) return true;
    let limiter = limiters.get(instance);
    if (limiter === undefined) {
      limiter = createLineRateLimiter(opts.refusedLines);
      limiters.set(instance, limiter);
    }
    const decision = limiter.decide(keyOf(remoteAddress), now());
    writeSummaries(instance, decision.summaries);
    if (!decision.write && sweeper === undefined) {
      sweeper = setInterval(sweep, Math.min(Math.max(1000, sweepMs), 2 ** 31 - 1));
      sweeper.unref();
    }
    return decision.write;
  };

  const refusalLine = (e: AuthOutcome): void => {
    const base = { instance: e.instance, remoteAddress: e.remoteAddress };
    const request = { method: e.method, path: e.path };
    switch (e.outcome) {
      case 'rejected':
        write('warn', { event: 'auth_failed', ...base, username: e.username, reason: e.reason, ...request, status: e.status }, 'authentication failed');
        break;
      case 'limited':
        write('warn', { event: 'auth_limited', ...base, retryAfterSec: e.retryAfterSec, reason: e.reason, ...request, status: e.status }, 'login attempts limited');
        break;
      case 'forbidden':
        write('warn', { event: 'forbidden', ...base, principal: e.principal, principalKind: e.principalKind, reason: e.reason, ...request, status: e.status }, 'access denied');
        break;
      case 'authenticated':
        break;
    }
  };

  return {
    authOutcome(e: AuthOutcome): void {
      if (e.outcome === 'forbidden') refusalLine(e);
      // An anonymous request is not a failed login: its access line (status 401) is enough.
      else if (e.outcome === 'limited' || (e.outcome === 'rejected' && e.hadCredentials)) pending.set(e.request, e);
    },
    requestEnd(e: EventOf<'serviceRequestEnd'>, enabled: (level: Level) => boolean): void {
      const refusal = pending.get(e.request);
      if (refusal !== undefined || (e.principal === null && LIMITED_STATUSES.has(e.status))) {
        if (!withinLimit(e.instance, e.remoteAddress)) return;
        if (refusal !== undefined) refusalLine(refusal);
      }
      const level: Level = e.healthProbe ? 'debug' : 'info';
      if (!enabled(level)) return;
      write(
        level,
        {
          event: 'access',
          principal: e.principal?.id ?? null,
          principalKind: e.principal?.kind ?? null,
          method: e.method,
          path: e.path,
          status: e.status,
          latencyMs: e.durationMs,
          instance: e.instance,
          remoteAddress: e.remoteAddress,
        },
        'access',
      );
    },
    /** Writes every summary still due (of one instance, or all), e.g. when a service closes. */
    flush(instance: string | undefined): void {
      for (const [key, limiter] of limiters) {
        if (instance !== undefined && key !== instance) continue;
        writeSummaries(key, limiter.flush(Infinity));
        limiters.delete(key);
      }
      if (limiters.size === 0 && sweeper !== undefined) {
        clearInterval(sweeper);
        sweeper = undefined;
      }
    },
  };
}
