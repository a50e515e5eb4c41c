/**
 * Every error a user can meet is a FarolError: a stable machine-readable `code`,
 * a one-line message, and a hint that says what to do about it.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  CERT_MISSING: 'CERT_MISSING',
  CERT_INVALID: 'CERT_INVALID',
  CERT_EXISTS: 'CERT_EXISTS',
  USERS_FILE_UNREADABLE: 'USERS_FILE_UNREADABLE',
  USERS_FILE_INVALID: 'USERS_FILE_INVALID',
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  PASSWORD_REQUIRED: 'PASSWORD_REQUIRED',
  PORT_IN_USE: 'PORT_IN_USE',
  LISTEN_FAILED: 'LISTEN_FAILED',
  CONSUL_UNREACHABLE: 'CONSUL_UNREACHABLE',
  CONSUL_ERROR: 'CONSUL_ERROR',
  CONSUL_ACL_DENIED: 'CONSUL_ACL_DENIED',
  NO_HEALTHY_INSTANCE: 'NO_HEALTHY_INSTANCE',
  TLS_UNTRUSTED: 'TLS_UNTRUSTED',
  AUTH_REJECTED: 'AUTH_REJECTED',
  FORBIDDEN: 'FORBIDDEN',
  REQUEST_FAILED: 'REQUEST_FAILED',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'ABORTED',
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  NOT_A_SERVICE: 'NOT_A_SERVICE',
  LOG_FILE_UNWRITABLE: 'LOG_FILE_UNWRITABLE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface FarolErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra structured facts for logs (never secrets). */
  details?: Record<string, unknown>;
}

export class FarolError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: FarolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FarolError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

export function isFarolError(value: unknown, code?: ErrorCode): value is FarolError {
  return value instanceof FarolError && (code === undefined || value.code === code);
}

/** The Node system error code (ECONNREFUSED, EADDRINUSE, ENOENT...) of an error or of its causes. */
export function systemErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) && !(current instanceof FarolError)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
