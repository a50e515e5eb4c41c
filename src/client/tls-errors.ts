import { FarolError } from '../errors.js';
import { classifyNetError, errorCode } from '../net-errors.js';

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

/**
 * Maps a failed request (a Node TLS verification error, a TLS alert, a socket error, an undici
 * timeout), classified by src/net-errors.ts, to a FarolError that says which problem it was and
 * what to do about it.
 */
export function requestFailureToFarolError(error: unknown, ctx: RequestFailureContext): FarolError {
  if (error instanceof FarolError) return error;
  const failure = classifyNetError(error);
  const { code } = failure;
  const where = `'${ctx.service}' at ${ctx.target}`;
  const details = { service: ctx.service, target: ctx.target, cause: code };
  const caHint = "pass the CA that signed the service's certificate with --ca (farol certs init writes certs/ca.pem)";

  switch (failure.kind) {
    case 'tls-untrusted': {
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
      return new FarolError('TLS_UNTRUSTED', `the certificate of ${where} is not trusted: ${failure.reason} (${code})`, { hint: caHint, cause: error, details });
    }
    case 'tls-client-rejected':
      if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
        return new FarolError('AUTH_REJECTED', `${where} requires a client certificate (${code})`, {
          hint: 'pass a client certificate with --cert/--key (tls.clientCertificate in the library), issued by the CA the service trusts: farol certs issue --dir <CA dir> --client <name>',
          cause: error,
          details,
        });
      }
      return new FarolError('AUTH_REJECTED', `the service refused the client certificate: ${where} ${failure.reason} (${code})`, {
        hint: 'use a client certificate issued by the CA the service trusts (its --client-ca): --cert/--key, tls.clientCertificate in the library',
        cause: error,
        details,
      });
    case 'tls-not-tls':
      return new FarolError('REQUEST_FAILED', `${where} did not answer with TLS (${code})`, {
        hint: 'check that the registered port is the HTTPS port of the service',
        cause: error,
        details,
      });
    case 'tls':
      return new FarolError('REQUEST_FAILED', oneLine(`the TLS handshake with ${where} failed (${code})`), {
        hint: 'check that the service and the client agree on TLS (TLS 1.2 or newer; a client certificate if it requires one)',
        cause: error,
        details,
      });
    case 'timeout':
      return new FarolError('TIMEOUT', `${where} did not answer within ${ctx.timeoutMs} ms (${code})`, {
        hint: 'raise --timeout (retry.timeoutMs in the library), or check the load and the logs of that instance',
        cause: error,
        details,
      });
    case 'aborted':
      return new FarolError('ABORTED', `the call to ${where} was aborted`, { cause: error, details });
    case 'connect':
    case 'socket':
      return new FarolError('REQUEST_FAILED', `could not reach ${where}: ${failure.reason} (${code})`, {
        hint: 'the instance may have stopped; check that it is running, and its health in Consul',
        cause: error,
        details,
      });
    case 'other': {
      const message = error instanceof Error ? error.message : String(error);
      return new FarolError('REQUEST_FAILED', oneLine(`the call to ${where} failed: ${message}${code ? ` (${code})` : ''}`), {
        hint: 'run again with --debug for details',
        cause: error,
        details,
      });
    }
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
