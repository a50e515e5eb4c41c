import { FarolError } from '../errors.js';
import { ConsulStatusError } from './status-error.js';

/**
 * What went wrong on the way to Consul, told apart by the error codes Node and undici put
 * on an error or its causes. Pure: it only inspects the error it is given.
 */
export type TransportFailureKind =
  | 'connect' // nothing was sent: safe to try another address for any request
  | 'socket' // the connection broke: safe to retry a read elsewhere
  | 'tls-untrusted' // Consul's certificate failed verification
  | 'tls' // another TLS handshake failure
  | 'other';

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOENT', // unix socket path missing
  'UND_ERR_CONNECT_TIMEOUT',
]);
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const UNTRUSTED_CODES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is not signed by a trusted CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'chains to an untrusted CA',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'does not match the name connected to',
};

/** Every `code` on the error, its causes and (for AggregateError) its members, outermost first. */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  const pending: unknown[] = [error];
  for (let seen = 0; pending.length > 0 && seen < 20; seen += 1) {
    const current = pending.shift();
    if (current === null || typeof current !== 'object') continue;
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') codes.push(code);
    if (cause !== undefined) pending.push(cause);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  return codes;
}

export interface TransportFailure {
  kind: TransportFailureKind;
  /** The most telling code, e.g. ECONNREFUSED; "unknown" when there is none. */
  code: string;
}

export function classifyTransportError(error: unknown): TransportFailure {
  const codes = errorCodes(error);
  const untrusted = codes.find((code) => code in UNTRUSTED_CODES);
  if (untrusted !== undefined) return { kind: 'tls-untrusted', code: untrusted };
  const connect = codes.find((code) => CONNECT_CODES.has(code));
  if (connect !== undefined) return { kind: 'connect', code: connect };
  const socket = codes.find((code) => SOCKET_CODES.has(code));
  if (socket !== undefined) return { kind: 'socket', code: socket };
  const tls = codes.find((code) => code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));
  if (tls !== undefined) return { kind: 'tls', code: tls };
  return { kind: 'other', code: codes[0] ?? 'unknown' };
}

export const UNREACHABLE_HINT = 'start a Consul agent or set CONSUL_HTTP_ADDR (e.g. 127.0.0.1:8500)';

/**
 * An HTTPS agent with verify_incoming closes a TLS 1.3 connection that brought no client
 * certificate right after the handshake: the client sees only "other side closed".
 */
export const CLIENT_CERTIFICATE_HINT =
  'the agent closed the HTTPS connection: if it verifies clients (verify_incoming), set CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY (or the consul tls.clientCertificate option)';

/** `attempts`: each address tried, with the failure code it gave. */
export function unreachableError(attempts: { address: string; code: string }[], cause: unknown, hint = UNREACHABLE_HINT): FarolError {
  const where = attempts.map((attempt) => `${attempt.address} (${attempt.code})`).join(', ');
  return new FarolError('CONSUL_UNREACHABLE', `Consul is not reachable at ${where}`, {
    hint,
    cause,
    details: { addresses: attempts.map((attempt) => attempt.address) },
  });
}

export function tlsError(address: string, failure: TransportFailure, cause: unknown): FarolError {
  if (failure.kind === 'tls-untrusted') {
    const why = UNTRUSTED_CODES[failure.code] ?? 'is not trusted';
    return new FarolError('TLS_UNTRUSTED', `Consul's certificate at ${address} ${why} (${failure.code})`, {
      hint:
        failure.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? "set CONSUL_TLS_SERVER_NAME to a name in Consul's certificate"
          : "set CONSUL_CACERT to the CA that signed Consul's certificate",
      cause,
    });
  }
  return new FarolError('CONSUL_ERROR', `TLS handshake with Consul at ${address} failed (${failure.code})`, {
    hint: 'check that the address scheme (http:// or https://) matches the agent, and CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY if the agent verifies clients',
    cause,
  });
}

/** A non-2xx answer as a typed ConsulStatusError (CONSUL_ACL_DENIED for 403, CONSUL_ERROR otherwise). */
export function responseError(
  response: { status: number; body: string },
  request: { method: string; path: string; address: string },
): ConsulStatusError {
  return new ConsulStatusError(response, request);
}
