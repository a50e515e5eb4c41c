import type { ServerOptions } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import type { ServerTlsState, TlsProvider } from '../pki/index.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_HEADERS_TIMEOUT_MS, serverSecureContext, serverTimeoutOptions, type ServerTimeouts } from '../pki/tls-policy.js';

export interface FarolHttpsOptions {
  /**
   * When the provider has a client CA, callers are asked for a certificate verified against it;
   * `true`: a caller without a trusted one fails the handshake. Default false (the certificate
   * authenticator then refuses an untrusted one with 401, and callers may use a header instead).
   */
  clientCertificatesRequired?: boolean;
  /** Bounds on slow clients (default 15000 ms each). */
  timeouts?: Partial<ServerTimeouts>;
}

/** The key pair, and the client CA when there is one: what a handshake is made with. */
export function secureContextOf(state: ServerTlsState): ReturnType<typeof serverSecureContext> {
  return serverSecureContext({ key: state.keyPair.keyPem, cert: state.keyPair.certPem, ...(state.clientCa ? { ca: state.clientCa.pem } : {}) });
}

/**
 * HTTPS server options from Farol's TLS provider (TLS 1.2+, Mozilla intermediate suites, the
 * provider's current key pair and client CA, bounded handshakes and headers), for
 * `fastify({ https: farolHttpsOptions(tls) })` or `https.createServer(farolHttpsOptions(tls), ...)`.
 * Pass the same provider to the plugin (`tls`), or call followTlsProvider, so a rotated
 * certificate reaches new handshakes.
 */
export function farolHttpsOptions(tls: TlsProvider<ServerTlsState>, opts: FarolHttpsOptions = {}): ServerOptions {
  const state = tls.current();
  return {
    ...secureContextOf(state),
    ...(state.clientCa ? { requestCert: true, rejectUnauthorized: opts.clientCertificatesRequired === true } : {}),
    ...serverTimeoutOptions({
      handshakeTimeoutMs: opts.timeouts?.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      headersTimeoutMs: opts.timeouts?.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    }),
  };
}

/** New handshakes get the provider's new material; open connections keep theirs. Returns the unsubscribe. */
export function followTlsProvider(server: Pick<TlsServer, 'setSecureContext'>, tls: TlsProvider<ServerTlsState>): () => void {
  return tls.onChange((state) => server.setSecureContext(secureContextOf(state)));
}
