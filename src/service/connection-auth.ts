import { performance } from 'node:perf_hooks';
import type { Authenticator, Principal } from '../auth/index.js';

/**
 * What each keep-alive connection last authenticated as, for one second. A request on the same
 * connection with byte-for-byte the same Authorization header (or none, with the same client
 * certificate, which a TLS connection cannot change) through the same authenticators is the
 * caller already verified a moment ago: it gets the same principal without running the chain
 * again. That makes authentication nearly free for a client that reuses its connections, which
 * every pooled client does.
 *
 * What it does not change: a wrong guess never lands here (only successes are remembered, and
 * only for the connection that sent them), so the login limiter still sees every guess; and the
 * second is the longest an expired token keeps working on a connection that was already using
 * it, well inside the 30 s clock tolerance tokens get anyway. A removed user or a changed password
 * does not even get that second: each answer carries the credentials' generation (the users
 * file's, which goes up on every reload that changes it), and one remembered under another
 * generation is forgotten.
 */
export const CONNECTION_AUTH_TTL_MS = 1000;

interface Remembered {
  authenticators: readonly Authenticator[];
  authorization: string | undefined;
  principal: Principal;
  expiresAt: number;
  generation: number;
}

export interface ConnectionAuth {
  principalOf(connection: object, authenticators: readonly Authenticator[], authorization: string | undefined): Principal | undefined;
  remember(connection: object, authenticators: readonly Authenticator[], authorization: string | undefined, principal: Principal): void;
}

/**
 * `generation`: the current generation of what the authenticators check against (default: always
 * 0). An answer remembered under an older generation no longer counts.
 */
export function createConnectionAuth(
  ttlMs = CONNECTION_AUTH_TTL_MS,
  now: () => number = () => performance.now(),
  generation: () => number = () => 0,
): ConnectionAuth {
  const byConnection = new WeakMap<object, Remembered>();
  return {
    principalOf(connection, authenticators, authorization) {
      const remembered = byConnection.get(connection);
      if (remembered === undefined) return undefined;
      if (remembered.authenticators !== authenticators || remembered.authorization !== authorization) return undefined;
      if (now() >= remembered.expiresAt || remembered.generation !== generation()) {
        byConnection.delete(connection);
        return undefined;
      }
      return remembered.principal;
    },
    remember(connection, authenticators, authorization, principal) {
      byConnection.set(connection, { authenticators, authorization, principal, expiresAt: now() + ttlMs, generation: generation() });
    },
  };
}
