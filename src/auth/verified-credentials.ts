import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { FarolError } from '../errors.js';

/**
 * A bounded, expiring memory of SUCCESSFUL password verifications, so that a client sending the
 * same right Basic credentials on every request costs one scrypt verification per TTL rather than
 * one per request (scrypt at the default cost is tens of milliseconds of CPU).
 *
 * What is kept, per entry:
 * - the key: HMAC-SHA256(K, utf8(username) || 0x00 || utf8(password)), K 32 random bytes made
 *   when the cache is created and never leaving it. Never the password, nor anything it can be
 *   recovered from without K;
 * - the user name (not a secret: it is in every audit line), the user's encoded hash as it was
 *   when the password was verified against it, and an expiry.
 *
 * A lookup is a hit only if an entry exists for that (username, password), it has not expired,
 * it is for that user name, and the users db STILL holds the same hash for the user. So a
 * removed user or a changed password stops matching as soon as the db the caller consults says
 * so, whatever the TTL.
 *
 * Only successes are remembered. A wrong password or an unknown user never finds an entry and
 * still costs the caller a full scrypt verification: that cost is the brute-force protection,
 * and it keeps unknown and known users indistinguishable by timing.
 *
 * Why a Map lookup is enough (no constant-time comparison of keys): the lookup's timing depends
 * only on the HMAC of what the client sent. Without K nobody can compute, let alone choose, an
 * HMAC output, so the hashing and string comparison inside the Map reveal nothing about the keys
 * stored; a hit and a miss differ in time (one scrypt), but a hit only happens to someone who sent
 * the right password, who learns that from the response anyway.
 *
 * What the cache does change: someone able to read this process's memory gets K and the entries,
 * and could test guesses at HMAC speed instead of scrypt speed for the users verified within the
 * TTL. Such a reader already sees the passwords themselves in request buffers and the TLS private
 * key, so this adds little; `cache: false` on the authenticator turns the cache off.
 */
export interface VerifiedCredentialsOptions {
  /** Most entries kept; the least recently used is dropped beyond it. Default 10,000. */
  maxEntries?: number;
  /** How long a verification counts, from the moment scrypt confirmed it (a hit does not extend it). Default 5 minutes. */
  ttlMs?: number;
  /** A monotonic clock in milliseconds, for tests. Default performance.now. */
  now?: () => number;
}

export interface VerifiedCredentials {
  /** True when (username, password) was verified against `currentHash`, the user's hash in the db now, within the TTL. */
  isVerified(username: string, password: string, currentHash: string): boolean;
  /** Remembers that `password` verified against `hash`, the user's hash at the time. Call only after a successful verification. */
  remember(username: string, password: string, hash: string): void;
  /** Entries held (expired ones included until they are looked up or pushed out). */
  readonly size: number;
  clear(): void;
}

export const DEFAULT_VERIFIED_CREDENTIALS_MAX_ENTRIES = 10_000;
export const DEFAULT_VERIFIED_CREDENTIALS_TTL_MS = 5 * 60_000;

interface Entry {
  username: string;
  hash: string;
  expiresAt: number;
}

const KEY_BYTES = 32;
const SEPARATOR = Buffer.from([0]);

function invalidOption(name: string, value: unknown, rule: string): FarolError {
  return new FarolError('CONFIG_INVALID', `invalid verified-credentials option ${name}: ${String(value)} (${rule})`, {
    hint: 'pass a positive whole number of entries for maxEntries and a positive number of milliseconds for ttlMs',
  });
}

export function createVerifiedCredentials(opts: VerifiedCredentialsOptions = {}): VerifiedCredentials {
  const maxEntries = opts.maxEntries ?? DEFAULT_VERIFIED_CREDENTIALS_MAX_ENTRIES;
  const ttlMs = opts.ttlMs ?? DEFAULT_VERIFIED_CREDENTIALS_TTL_MS;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw invalidOption('maxEntries', maxEntries, 'must be a whole number ≥ 1');
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw invalidOption('ttlMs', ttlMs, 'must be a positive number of milliseconds');
  const now = opts.now ?? (() => performance.now());
  const secret = randomBytes(KEY_BYTES);
  // A Map iterates in insertion order: re-inserting on a hit makes its first key the least recently used.
  const entries = new Map<string, Entry>();

  const keyOf = (username: string, password: string): string =>
    createHmac('sha256', secret).update(Buffer.from(username, 'utf8')).update(SEPARATOR).update(Buffer.from(password, 'utf8')).digest('base64');

  return {
    isVerified(username, password, currentHash) {
      const key = keyOf(username, password);
      const entry = entries.get(key);
      if (entry === undefined) return false;
      // The user name check makes the NUL separator unambiguous even for names that contain NUL
      // (which a users file never holds, so such a name would also fail the hash check).
      if (entry.username !== username) return false;
      if (now() >= entry.expiresAt || entry.hash !== currentHash) {
        entries.delete(key);
        return false;
      }
      entries.delete(key);
      entries.set(key, entry);
      return true;
    },
    remember(username, password, hash) {
      const key = keyOf(username, password);
      entries.delete(key);
      entries.set(key, { username, hash, expiresAt: now() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    get size() {
      return entries.size;
    },
    clear() {
      entries.clear();
    },
  };
}
