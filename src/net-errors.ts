/**
 * The one classifier of transport and TLS failures (Node's and undici's error codes), shared by
 * every part that makes HTTPS requests: what kind of failure it was, whether the request can
 * have left this process, and the words for a message. Pure: it only inspects the error given.
 */

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
    if (Array.isArray(errors)) pending.push(...(errors as unknown[]));
  }
  return codes;
}

/** The first string `code` on an error or its causes (Node and undici both use `code`). */
export function errorCode(error: unknown): string | undefined {
  return errorCodes(error)[0];
}

export type NetFailureKind =
  /** Nothing was sent: the connection was never made (refused, unreachable, name unknown, connect timeout). */
  | 'connect'
  /** The connection broke or was closed by the peer; the request may have been sent. */
  | 'socket'
  /** The peer's certificate failed verification (unknown CA, expired, wrong name...). */
  | 'tls-untrusted'
  /** The peer refused our client certificate (TLS alert unknown_ca, bad_certificate, certificate_required...). */
  | 'tls-client-rejected'
  /** The peer does not speak TLS on that port. */
  | 'tls-not-tls'
  /** Another TLS handshake failure. */
  | 'tls'
  /** Out of time (connect, headers, body). */
  | 'timeout'
  /** Given up by the caller. */
  | 'aborted'
  | 'other';

export interface NetFailure {
  kind: NetFailureKind;
  /** The most telling code, e.g. ECONNREFUSED; undefined when the error has none. */
  code: string | undefined;
  /** Words for a message, e.g. 'connection refused'. */
  reason: string;
  /** True when no byte of the request can have reached the peer, so any request may go elsewhere. */
  neverSent: boolean;
}

/** Codes of a peer that could not be reached: nothing was sent. */
export const CONNECT_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ENOENT: 'socket path missing',
};

/** Codes of a connection that broke or was closed by the peer: the request may have been sent. */
export const SOCKET_FAILURES: Readonly<Record<string, string>> = {
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CLOSED: 'connection closed',
};

/** @deprecated CONNECT_FAILURES and SOCKET_FAILURES together; kept for earlier importers. */
export const CONNECTION_FAILURES: Readonly<Record<string, string>> = { ...CONNECT_FAILURES, ...SOCKET_FAILURES };

/** Codes of a request that ran out of time. */
export const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Why a peer certificate failed verification, in words, by OpenSSL's code as Node reports it. */
export const UNTRUSTED_CERTIFICATE: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is not signed by the given CA',
  UNABLE_TO_GET_ISSUER_CERT: 'it is not signed by the given CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is not signed by the given CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a CA other than the given one',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed and is not the given CA',
  CERT_SIGNATURE_FAILURE: 'its signature does not verify',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'its signature does not verify',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "its issuer's public key cannot be read",
  CERT_UNTRUSTED: 'it is not trusted for this purpose',
  CERT_REJECTED: 'it is rejected for this purpose',
  INVALID_CA: 'a CA in its chain is not a valid CA',
  CERT_CHAIN_TOO_LONG: 'its chain is too long',
  PATH_LENGTH_EXCEEDED: 'its chain is longer than its CA allows',
  INVALID_PURPOSE: 'it is not meant for a TLS server',
  CERT_REVOKED: 'it has been revoked',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it does not name the host connected to',
};

/**
 * Not Node's: a connection on which the client presented a certificate and the server closed
 * right after the handshake without a byte (Node's TLS server does that, with no alert, when the
 * client certificate fails its verification). src/client/pools.ts sets it.
 */
export const CLOSED_AFTER_HANDSHAKE = 'FAROL_CLOSED_AFTER_HANDSHAKE';

/**
 * TLS alerts a server sends when it refuses the client's certificate (or its absence). With TLS
 * 1.3 they arrive after the client's side of the handshake is done.
 */
export const CLIENT_CERTIFICATE_REFUSED: Readonly<Record<string, string>> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'requires a client certificate and none was given',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'does not trust the CA of the client certificate',
  ERR_SSL_TLSV13_ALERT_UNKNOWN_CA: 'does not trust the CA of the client certificate',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'found the client certificate bad',
  ERR_SSL_TLSV1_ALERT_BAD_CERTIFICATE: 'found the client certificate bad',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'could not use the client certificate',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: 'does not support the client certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'says the client certificate has expired',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: 'says the client certificate has been revoked',
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: 'denied access to the client certificate',
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: 'says the client certificate does not match its key',
  [CLOSED_AFTER_HANDSHAKE]: 'closed the connection right after the TLS handshake, before any answer (what a Node service requiring mutual TLS does with a certificate from a CA it does not trust)',
};

const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);
const ABORT_CODES = new Set(['UND_ERR_ABORTED', 'ABORT_ERR']);

/** What kind of failure an error is, by the most telling code on it or its causes. */
export function classifyNetError(error: unknown): NetFailure {
  const codes = errorCodes(error);
  const find = (table: Readonly<Record<string, string>>): string | undefined => codes.find((code) => Object.hasOwn(table, code));
  let code = find(CLIENT_CERTIFICATE_REFUSED);
  if (code) return { kind: 'tls-client-rejected', code, reason: CLIENT_CERTIFICATE_REFUSED[code]!, neverSent: true };
  code = find(UNTRUSTED_CERTIFICATE);
  if (code) return { kind: 'tls-untrusted', code, reason: UNTRUSTED_CERTIFICATE[code]!, neverSent: true };
  code = codes.find((c) => NOT_TLS.has(c));
  if (code) return { kind: 'tls-not-tls', code, reason: 'the peer did not answer with TLS', neverSent: true };
  code = codes.find((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_') || c === 'EPROTO');
  if (code) return { kind: 'tls', code, reason: 'the TLS handshake failed', neverSent: true };
  code = codes.find((c) => TIMEOUT_CODES.has(c));
  if (code) return { kind: 'timeout', code, reason: 'out of time', neverSent: code === 'UND_ERR_CONNECT_TIMEOUT' };
  code = codes.find((c) => ABORT_CODES.has(c));
  if (code || (error instanceof Error && error.name === 'AbortError')) return { kind: 'aborted', code, reason: 'aborted', neverSent: false };
  code = find(CONNECT_FAILURES);
  if (code) return { kind: 'connect', code, reason: CONNECT_FAILURES[code]!, neverSent: true };
  code = find(SOCKET_FAILURES);
  if (code) return { kind: 'socket', code, reason: SOCKET_FAILURES[code]!, neverSent: false };
  return { kind: 'other', code: codes[0], reason: describe(error), neverSent: false };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'unknown failure';
  }
}
