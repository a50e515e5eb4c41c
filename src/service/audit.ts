import type { FastifyRequest } from 'fastify';
import type { AuthResult, Principal } from '../auth/index.js';
import type { Logger } from '../log/logger.js';
import type { FarolApp } from './app.js';

/** The request path without its query string, which can carry secrets. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * One access line per request, written when the response has been sent. Only named fields are
 * logged, never the headers, so credentials cannot reach the log even without redaction.
 */
export function installAuditLog(app: FarolApp, audit: Logger, instance: { readonly instanceId: string }): void {
  // A callback hook, not an async one: no promise per request for a hook that never waits.
  app.addHook('onResponse', (request, reply, done) => {
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

/** A failed login: who tried (the attempted user name, never the password), from where, and why. */
export function logAuthFailure(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  result: Extract<AuthResult, { outcome: 'rejected' }>,
): void {
  logRefusal(audit, request, instance, {
    event: 'auth_failed',
    status: result.status,
    reason: result.reason,
    message: 'authentication failed',
    fields: { username: result.username ?? null },
  });
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

/** A login refused unread because too many failed before it (a 429). */
export function logAuthLimited(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  result: Extract<AuthResult, { outcome: 'limited' }>,
): void {
  logRefusal(audit, request, instance, {
    event: 'auth_limited',
    status: 429,
    reason: result.reason,
    message: 'login attempts limited',
    fields: { retryAfterSec: result.retryAfterSec },
  });
}
