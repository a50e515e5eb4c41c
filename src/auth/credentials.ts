import { FarolError } from '../errors.js';

/** Supplies the Authorization header value for an outgoing request (undefined: send none). */
export interface CredentialProvider {
  authorization(): Promise<string | undefined>;
  /**
   * Called when a server answered 401 to the given Authorization value (e.g. RFC 6750
   * error="invalid_token"): a provider that can obtain fresh credentials drops the rejected ones,
   * so the next authorization() fetches new ones. The client then retries once.
   */
  invalidate?(rejected: string): void;
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** HTTP Basic credentials (RFC 7617), UTF-8 encoded. */
export function basicCredentials(username: string, password: string): CredentialProvider {
  if (username.includes(':')) {
    throw new FarolError('CONFIG_INVALID', 'a Basic auth user name cannot contain ":"', {
      hint: 'Basic auth separates the user name from the password with ":"; pick a user name without one',
    });
  }
  const value = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  return { authorization: async () => value };
}

/** A static bearer token (RFC 6750). The token is never quoted in an error. */
export function bearerCredentials(token: string): CredentialProvider {
  if (!B64TOKEN.test(token)) {
    throw new FarolError('CONFIG_INVALID', 'the bearer token is empty or has characters a bearer token cannot contain', {
      hint: 'a bearer token is letters, digits and - . _ ~ + / with optional trailing =; check for stray spaces or newlines',
    });
  }
  const value = `Bearer ${token}`;
  return { authorization: async () => value };
}
