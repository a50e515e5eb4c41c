import { FarolError } from '../errors.js';
import { CONNECTION_FAILURES, errorCode, TIMEOUT_CODES } from '../net-errors.js';

export { errorCode };

/** What the client was doing when a request failed, to name it in the message. */
export interface RequestFailureContext {
  service: string;
  /** host:port of the instance. */
  target: string;
  /** The name the certificate had to carry: the TLS server name, else the instance address. */
  expectedName: string;
  timeoutMs: number;
}

const NOT_SIGNED_BY_CA: Record<string, string> = {
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
};

function isAbort(error: unknown, code: string | undefined): boolean {
  return code === 'UND_ERR_ABORTED' || (error instanceof Error && error.name === 'AbortError');
}

/**
 * Maps a failed request (a Node TLS verification error, a socket error, an undici timeout)
 * to a FarolError that says which problem it was and what to do about it.
 */
export function requestFailureToFarolError(error: unknown, ctx: RequestFailureContext): FarolError {
  if (error instanceof FarolError) return error;
  const code = errorCode(error);
  const where = `'${ctx.service}' at ${ctx.target}`;
  const details = { service: ctx.service, target: ctx.target, cause: code };
  const caHint = "pass the CA that signed the service's certificate with --ca (farol certs init writes certs/ca.pem)";

  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const host = (error as { host?: unknown }).host;
    const name = typeof host === 'string' && host !== '' ? host : ctx.expectedName;
    return new FarolError('TLS_UNTRUSTED', `the certificate of ${where} does not name ${name}`, {
      hint: `the certificate does not name ${name}; use --server-name or issue one that does: farol certs issue --dir certs --service ${ctx.service} --host <name> --force`,
      cause: error,
      details,
    });
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return new FarolError('TLS_UNTRUSTED', `the certificate of ${where} has expired`, {
      hint: 'renew it from its CA with farol certs renew --dir <CA dir>; the running service picks up the new files without a restart',
      cause: error,
      details,
    });
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return new FarolError('TLS_UNTRUSTED', `the certificate of ${where} is not valid yet`, {
      hint: 'check that the clocks of this machine and the service agree, or reissue the certificate',
      cause: error,
      details,
    });
  }
  if (code !== undefined && code in NOT_SIGNED_BY_CA) {
    return new FarolError('TLS_UNTRUSTED', `the certificate of ${where} is not trusted: ${NOT_SIGNED_BY_CA[code]} (${code})`, {
      hint: caHint,
      cause: error,
      details,
    });
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
    return new FarolError('AUTH_REJECTED', `${where} requires a client certificate (${code})`, {
      hint: 'pass a client certificate with --cert/--key (clientCertificate in the library), issued by the CA the service trusts: farol certs issue --dir <CA dir> --client <name>',
      cause: error,
      details,
    });
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_UNKNOWN_CA' || code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA') {
    return new FarolError('AUTH_REJECTED', `${where} does not trust the client certificate (${code})`, {
      hint: 'use a client certificate issued by the CA the service trusts (its --client-ca)',
      cause: error,
      details,
    });
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new FarolError('REQUEST_FAILED', `${where} did not answer with TLS (${code})`, {
      hint: 'check that the registered port is the HTTPS port of the service',
      cause: error,
      details,
    });
  }
  if (code !== undefined && (code.startsWith('ERR_SSL_') || code === 'EPROTO')) {
    return new FarolError('REQUEST_FAILED', oneLine(`the TLS handshake with ${where} failed (${code})`), {
      hint: 'check that the service and the client agree on TLS (TLS 1.2 or newer; a client certificate if it requires one)',
      cause: error,
      details,
    });
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new FarolError('TIMEOUT', `${where} did not answer within ${ctx.timeoutMs} ms (${code})`, {
      hint: 'raise --timeout, or check the load and the logs of that instance',
      cause: error,
      details,
    });
  }
  if (isAbort(error, code)) {
    return new FarolError('ABORTED', `the call to ${where} was aborted`, { cause: error, details });
  }
  if (code !== undefined && code in CONNECTION_FAILURES) {
    return new FarolError('REQUEST_FAILED', `could not reach ${where}: ${CONNECTION_FAILURES[code]} (${code})`, {
      hint: 'the instance may have stopped; check that it is running, and its health in Consul',
      cause: error,
      details,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new FarolError('REQUEST_FAILED', oneLine(`the call to ${where} failed: ${message}${code ? ` (${code})` : ''}`), {
    hint: 'run again with --debug for details',
    cause: error,
    details,
  });
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
