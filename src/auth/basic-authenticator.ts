import { parseRequestAuthorization } from './authorization-header.js';
import { checkRealm, quotedString } from './realm.js';
import { verifyPassword } from './password-hash.js';
import type { AuthRequest, AuthResult, Authenticator } from './principal.js';
import type { UsersDb } from './users-file.js';
import { createVerifiedCredentials, type VerifiedCredentials, type VerifiedCredentialsOptions } from './verified-credentials.js';

export interface BasicAuthenticatorOptions {
  /**
   * Consulted on every request, so a db that changes (a reload, e.g. watchUsersFile) takes effect
   * at once, cache included; a verification that straddles a reload is judged by the new db.
   */
  users: UsersDb;
  /** Shown by browsers in the login dialog; the service uses its name. */
  realm: string;
  /**
   * The cache of successful verifications (see verified-credentials.ts): on by default with
   * 10,000 entries and a 5-minute TTL; options to change them, false to verify every request.
   */
  cache?: VerifiedCredentialsOptions | false;
  /** The password verifier, default verifyPassword (scrypt). For tests and other hash schemes. */
  verifier?: (password: string, encoded: string) => Promise<boolean>;
}

/**
 * The hash of a random password nobody knows, at the default cost. A login as an unknown user is
 * verified against it, so it costs the same scrypt work as a login as a real user and the
 * response time does not reveal which user names exist.
 */
const UNKNOWN_USER_HASH = '$scrypt$ln=14,r=8,p=1$dKgv2E7VAX9XnpSWF+L6pw$5+4S5bY/yquCoaFOeLC/3ioqxwADhfF80EF/qQCrG8Q';

type Verifier = NonNullable<BasicAuthenticatorOptions['verifier']>;

/**
 * Checks a user name and password against the users db. This is the one place a password is
 * compared. A cached success counts only while the db still holds the hash it was verified
 * against; everything else (unknown user, wrong password, changed password, expired or evicted
 * entry) costs one full verification, and only a success is remembered.
 */
async function verifyUser(
  users: UsersDb,
  verify: Verifier,
  cache: VerifiedCredentials | undefined,
  username: string,
  password: string,
): Promise<boolean> {
  const hash = users.lookup(username);
  // The lookup runs (one HMAC) for unknown users too, so they cost exactly what a wrong password does.
  const cached = cache?.isVerified(username, password, hash ?? UNKNOWN_USER_HASH) ?? false;
  if (hash !== undefined && cached) return true;
  const matches = await verify(password, hash ?? UNKNOWN_USER_HASH);
  if (hash === undefined || !matches) return false;
  // The db may have been reloaded while scrypt ran: a password is only as good as the db says now.
  if (users.lookup(username) !== hash) return false;
  cache?.remember(username, password, hash);
  return true;
}

/**
 * HTTP Basic authentication (RFC 7617) against a users db.
 *
 * - no Authorization header, or another scheme: 'absent' (another authenticator may answer);
 * - a Basic header that does not parse: rejected with 400. The client is broken rather than
 *   wrong about a password, and 400 says so to its developer and in the audit log, where 401
 *   would invite it to retry the same broken request. The challenge is still included.
 * - unknown user or wrong password: rejected with 401, reason 'bad credentials', and the
 *   attempted user name. Both cases cost one scrypt verification, always: failures are never
 *   cached.
 * - the right password: authenticated. The first time costs one scrypt verification; then the
 *   success is cached (keyed by an HMAC of the credentials, never the password) for the cache's
 *   TTL, while the users db still holds the same hash for the user, so repeated requests with the
 *   same credentials cost an HMAC instead of a scrypt.
 *
 * Never throws for anything a request can contain. Throws CONFIG_INVALID at creation for a
 * realm that cannot be written into a header, or cache options out of range.
 */
export function createBasicAuthenticator(opts: BasicAuthenticatorOptions): Authenticator {
  checkRealm('Basic', opts.realm);
  const challenge = `Basic realm=${quotedString(opts.realm)}, charset="UTF-8"`;
  const verify = opts.verifier ?? verifyPassword;
  const cache = opts.cache === false ? undefined : createVerifiedCredentials(opts.cache);

  return {
    scheme: 'Basic',
    challenge: () => challenge,
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const parsed = parseRequestAuthorization(req);
      if (parsed?.scheme === 'malformed' && parsed.name?.toLowerCase() === 'basic') {
        return { outcome: 'rejected', status: 400, reason: `malformed Basic credentials: ${parsed.reason}`, challenge };
      }
      if (parsed?.scheme !== 'basic') return { outcome: 'absent' };
      if (await verifyUser(opts.users, verify, cache, parsed.username, parsed.password)) {
        return { outcome: 'authenticated', principal: { kind: 'user', id: parsed.username } };
      }
      return { outcome: 'rejected', status: 401, reason: 'bad credentials', challenge, username: parsed.username };
    },
  };
}
