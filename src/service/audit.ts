import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import { addressKey, type AuthResult, type Principal } from '../auth/index.js';
import type { Logger } from '../log/logger.js';
import { createLineRateLimiter, LINE_RATE_LIMIT_DEFAULTS, OVERFLOW_KEY, type LineRateLimitOptions, type SuppressedSummary } from '../log/rate-limit.js';
import type { FarolApp } from './app.js';

/** The request path without its query string, which can carry secrets. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/** Statuses of refused anonymous requests, whose lines are rate-limited per client address. */
const LIMITED_STATUSES = new Set([400, 401, 429]);

/** A refusal line (auth_failed, auth_limited) waiting for its request's response, where the rate limit is decided. */
const pendingRefusals = new WeakMap<FastifyRequest, () => void>();

export interface AuditLogOptions {
  /**
   * Rate limit of the lines of refused anonymous requests (400, 401, 429: the failed-login line and
   * the access line), per client address (an IPv6 /64 counts as one): default the first 20 per
   * minute, then one summary line per address and minute. false writes every line.
   */
  refusedLines?: LineRateLimitOptions | false;
  /** A monotonic clock in milliseconds, for tests. */
  now?: () => number;
}

/**
 * One access line per request, written when the response has been sent. Only named fields are
 * logged, never the headers, so credentials cannot reach the log even without redaction.
 *
 * A refused anonymous request (400, 401 or 429 without a principal) writes its lines (the
 * auth_failed or auth_limited line, then the access line) only while its address is within the
 * rate limit (see rate-limit.ts), so a caller fuzzing credentials cannot fill the disk; what is
 * left out is counted in one `audit_suppressed` line per address and window, written when the
 * window is over (or the service closes).
 */
export function installAuditLog(
  app: FarolApp,
  audit: Logger,
  instance: { readonly instanceId: string },
  opts: AuditLogOptions = {},
): void {
  const limiter = opts.refusedLines === false ? undefined : createLineRateLimiter(opts.refusedLines);
  const now = opts.now ?? (() => performance.now());
  const sweepMs = (opts.refusedLines === false ? undefined : opts.refusedLines?.windowMs) ?? LINE_RATE_LIMIT_DEFAULTS.windowMs;
  const writeSummaries = (summaries: SuppressedSummary[]): void => {
    for (const { key, suppressed, windowMs } of summaries) {
      const from = key === OVERFLOW_KEY ? 'addresses beyond the tracked ones' : key;
      audit.warn(
        { event: 'audit_suppressed', instance: instance.instanceId, remoteAddress: key === OVERFLOW_KEY ? null : key, suppressed, windowMs },
        `suppressed the audit lines of ${suppressed} refused requests from ${from} (more than the limit in ${windowMs / 1000} s)`,
      );
    }
  };
  // Writes the summaries of windows that ended while their addresses stayed quiet; runs only while some are due.
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    if (limiter === undefined) return;
    writeSummaries(limiter.flush(now()));
    if (limiter.pending === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  app.addHook('onClose', (_instance, done) => {
    if (sweeper !== undefined) clearInterval(sweeper);
    sweeper = undefined;
    if (limiter !== undefined) writeSummaries(limiter.flush(Infinity));
    done();
  });

  /** Whether this refused request's lines are written. */
  const withinLimit = (request: FastifyRequest): boolean => {
    if (limiter === undefined) return true;
    const decision = limiter.decide(addressKey(request.ip), now());
    writeSummaries(decision.summaries);
    if (!decision.write && sweeper === undefined) {
      sweeper = setInterval(sweep, Math.min(Math.max(1000, sweepMs), 2 ** 31 - 1));
      sweeper.unref();
    }
    return decision.write;
  };

  // A callback hook, not an async one: no promise per request for a hook that never waits.
  app.addHook('onResponse', (request, reply, done) => {
    const refusal = pendingRefusals.get(request);
    if (refusal !== undefined || (request.principal === null && LIMITED_STATUSES.has(reply.statusCode))) {
      if (!withinLimit(request)) {
        done();
        return;
      }
      refusal?.();
    }
    audit.info(
      {
        event: 'access',
        principal: request.principal?.id ?? null,
        principalKind: request.principal?.kind ?? null,
        method: request.method,
        path: pathOf(request.url),
        status: reply.statusCode,
        latencyMs: Math.round(reply.elapsedTime * 100) / 100,
        instance: instance.instanceId,
        remoteAddress: request.ip,
      },
      'access',
    );
    done();
  });
}

/** One refused request: what happened, to whom, from where, and why. The fields never include credentials. */
function logRefusal(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  refusal: { event: string; status: number; reason: string; message: string; fields: Record<string, unknown> },
): void {
  audit.warn(
    {
      event: refusal.event,
      instance: instance.instanceId,
      remoteAddress: request.ip,
      ...refusal.fields,
      reason: refusal.reason,
      method: request.method,
      path: pathOf(request.url),
      status: refusal.status,
    },
    refusal.message,
  );
}

/**
 * A failed login: who tried (the attempted user name, never the password), from where, and why.
 * Written with the request's access line, when the rate limit of its address allows.
 */
export function logAuthFailure(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  result: Extract<AuthResult, { outcome: 'rejected' }>,
): void {
  pendingRefusals.set(request, () => logRefusal(audit, request, instance, {
    event: 'auth_failed',
    status: result.status,
    reason: result.reason,
    message: 'authentication failed',
    fields: { username: result.username ?? null },
  }));
}

/** An authenticated caller refused by a route's requirement (a 403). */
export function logForbidden(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  principal: Principal,
  reason: string,
): void {
  logRefusal(audit, request, instance, {
    event: 'forbidden',
    status: 403,
    reason,
    message: 'access denied',
    fields: { principal: principal.id, principalKind: principal.kind },
  });
}

/** A login refused unread because too many failed before it (a 429); written like logAuthFailure's line. */
export function logAuthLimited(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  result: Extract<AuthResult, { outcome: 'limited' }>,
): void {
  pendingRefusals.set(request, () => logRefusal(audit, request, instance, {
    event: 'auth_limited',
    status: 429,
    reason: result.reason,
    message: 'login attempts limited',
    fields: { retryAfterSec: result.retryAfterSec },
  }));
}
