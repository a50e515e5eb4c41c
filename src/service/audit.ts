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

/** A failed login: who tried (the attempted user name, never the password), from where, and why. */
export function logAuthFailure(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  result: Extract<AuthResult, { outcome: 'rejected' }>,
): void {
  audit.warn(
    {
      event: 'auth_failed',
      instance: instance.instanceId,
      remoteAddress: request.ip,
      username: result.username ?? null,
      reason: result.reason,
      method: request.method,
      path: pathOf(request.url),
      status: result.status,
    },
    'authentication failed',
  );
}

/** An authenticated caller refused by a route's requirement (a 403). */
export function logForbidden(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  principal: Principal,
  reason: string,
): void {
  audit.warn(
    {
      event: 'forbidden',
      instance: instance.instanceId,
      remoteAddress: request.ip,
      principal: principal.id,
      principalKind: principal.kind,
      reason,
      method: request.method,
      path: pathOf(request.url),
      status: 403,
    },
    'access denied',
  );
}

/** A login refused unread because too many failed before it (a 429). */
export function logAuthLimited(
  audit: Logger,
  request: FastifyRequest,
  instance: { readonly instanceId: string },
  result: Extract<AuthResult, { outcome: 'limited' }>,
): void {
  audit.warn(
    {
      event: 'auth_limited',
      instance: instance.instanceId,
      remoteAddress: request.ip,
      reason: result.reason,
      retryAfterSec: result.retryAfterSec,
      method: request.method,
      path: pathOf(request.url),
      status: 429,
    },
    'login attempts limited',
  );
}
