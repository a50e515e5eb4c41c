import { FarolError } from '../errors.js';
import { classifyNetError } from '../net-errors.js';
export { errorCodes } from '../net-errors.js';
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

export interface TransportFailure {
  kind: TransportFailureKind;
  /** The most telling code, e.g. ECONNREFUSED; "unknown" when there is none. */
  code: string;
  /** Words for a message, from the one classifier (src/net-errors.ts). */
  reason: string;
}

/**
 * The one classifier's verdict (src/net-errors.ts), in the terms the Consul client acts on:
 * whether another agent address may be tried (connect), a read retried (socket), or the TLS
 * setup is at fault.
 */
export function classifyTransportError(error: unknown): TransportFailure {
  const failure = classifyNetError(error);
  const code = failure.code ?? 'unknown';
  const at = (kind: TransportFailureKind): TransportFailure => ({ kind, code, reason: failure.reason });
  switch (failure.kind) {
    case 'connect':
    case 'socket':
    case 'tls-untrusted':
    case 'tls':
      return at(failure.kind);
    case 'tls-client-rejected':
    case 'tls-not-tls':
      return at('tls');
    case 'timeout':
      return at(failure.neverSent ? 'connect' : 'socket');
    default:
      return at('other');
  }
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
    return new FarolError('TLS_UNTRUSTED', `Consul's certificate at ${address} is not trusted: ${failure.reason} (${failure.code})`, {
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
