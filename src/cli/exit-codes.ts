import type { ErrorCode } from '../errors.js';

/**
 * Distinct, documented exit codes so scripts can tell failures apart.
 * The README's troubleshooting table lists the same numbers.
 */
export const ExitCode = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  NO_HEALTHY_INSTANCE: 3,
  CONSUL: 4,
  TLS_UNTRUSTED: 5,
  AUTH_REJECTED: 6,
  FORBIDDEN: 7,
  CERTIFICATES: 8,
  USERS: 9,
  LISTEN: 10,
  REQUEST_FAILED: 11,
  LOG_FILE: 12,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const byErrorCode: Record<ErrorCode, ExitCodeValue> = {
  CONFIG_INVALID: ExitCode.USAGE,
  PASSWORD_REQUIRED: ExitCode.USAGE,
  CERT_MISSING: ExitCode.CERTIFICATES,
  CERT_INVALID: ExitCode.CERTIFICATES,
  CERT_EXISTS: ExitCode.CERTIFICATES,
  USERS_FILE_UNREADABLE: ExitCode.USERS,
  USERS_FILE_INVALID: ExitCode.USERS,
  USER_NOT_FOUND: ExitCode.USERS,
  PORT_IN_USE: ExitCode.LISTEN,
  LISTEN_FAILED: ExitCode.LISTEN,
  CONSUL_UNREACHABLE: ExitCode.CONSUL,
  CONSUL_ERROR: ExitCode.CONSUL,
  CONSUL_ACL_DENIED: ExitCode.CONSUL,
  NO_HEALTHY_INSTANCE: ExitCode.NO_HEALTHY_INSTANCE,
  TLS_UNTRUSTED: ExitCode.TLS_UNTRUSTED,
  AUTH_REJECTED: ExitCode.AUTH_REJECTED,
  FORBIDDEN: ExitCode.FORBIDDEN,
  REQUEST_FAILED: ExitCode.REQUEST_FAILED,
  TIMEOUT: ExitCode.REQUEST_FAILED,
  ABORTED: ExitCode.REQUEST_FAILED,
  CLIENT_CLOSED: ExitCode.REQUEST_FAILED,
  NOT_A_SERVICE: ExitCode.REQUEST_FAILED,
  LOG_FILE_UNWRITABLE: ExitCode.LOG_FILE,
};

export function exitCodeFor(code: ErrorCode): ExitCodeValue {
  return byErrorCode[code];
}
