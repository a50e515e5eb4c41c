import { FarolError } from '../errors.js';
import type { AuthRequest, AuthResult, Authenticator } from './principal.js';

/**
 * Runs a request through a chain of authenticators. The first one whose kind of credentials the
 * request carries decides (authenticated, rejected, or limited by a brute-force limiter wrapped
 * around it: see limited-authenticator.ts); if none does, the request is rejected with 401 and
 * every authenticator's challenge (RFC 9110 section 11.6.1 allows a list), so the caller learns
 * each scheme it may use. Authenticators without a header scheme (client certificates) have none.
 */
export async function authenticate(authenticators: Authenticator[], req: AuthRequest): Promise<AuthResult> {
  if (authenticators.length === 0) {
    throw new FarolError('CONFIG_INVALID', 'no authenticator is configured', {
      hint: 'configure at least one way to authenticate, e.g. a users file',
    });
  }
  for (const authenticator of authenticators) {
    const result = await authenticator.authenticate(req);
    if (result.outcome !== 'absent') return result;
  }
  const challenge = authenticators.map((authenticator) => authenticator.challenge()).filter((c) => c !== '').join(', ');
  return { outcome: 'rejected', status: 401, reason: 'no credentials', challenge };
}
