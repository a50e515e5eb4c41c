import { FarolError } from '../errors.js';
import type { AuthRequest, AuthResult, Authenticator } from './principal.js';

/**
 * Runs a request through a chain of authenticators. The first one whose kind of credentials the
 * request carries decides (authenticated, rejected, or limited by a brute-force limiter wrapped
 * around it: see limited-authenticator.ts); if none does, the request is rejected with 401 and
 * the first authenticator's challenge.
 */
export async function authenticate(authenticators: Authenticator[], req: AuthRequest): Promise<AuthResult> {
  const [first] = authenticators;
  if (first === undefined) {
    throw new FarolError('CONFIG_INVALID', 'no authenticator is configured', {
      hint: 'configure at least one way to authenticate, e.g. a users file',
    });
  }
  for (const authenticator of authenticators) {
    const result = await authenticator.authenticate(req);
    if (result.outcome !== 'absent') return result;
  }
  return { outcome: 'rejected', status: 401, reason: 'no credentials', challenge: first.challenge() };
}
