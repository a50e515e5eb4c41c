import type { TLSSocket } from 'node:tls';
import type { PeerTls } from './principal.js';

/**
 * What a TLS connection knows about its client, for the certificate authenticator: Node's verdict
 * on the chain (against the listener's `ca`), its reason when it refused it, and the leaf.
 */
export function peerTlsOf(socket: TLSSocket): PeerTls {
  const certificate = socket.getPeerX509Certificate();
  const error = socket.authorizationError as Error | string | null | undefined;
  return {
    authorized: socket.authorized,
    ...(error ? { authorizationError: typeof error === 'string' ? error : ((error as NodeJS.ErrnoException).code ?? error.message) } : {}),
    ...(certificate ? { peerCertificate: certificate } : {}),
  };
}
