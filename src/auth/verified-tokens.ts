import { createHash } from 'node:crypto';
import { FarolError } from '../errors.js';
import type { Principal } from './principal.js';

/**
 * A bounded memory of bearer tokens that passed verification, so a client sending the same token
 * on every request costs one signature verification per token rather than one per request (an
 * ES256 verification costs more than the rest of the request; Envoy's jwt_authn caches the same
 * way). Only successes are kept, keyed by the token's SHA-256, never the token itself.
 *
 * An entry counts until the earlier of the token's own expiry (plus the clock tolerance the
 * verification allowed) and `maxAgeMs` after it was verified: a key removed from the issuer's
 * JWKS stops being trusted for cached tokens within `maxAgeMs` (default 60 s) too. A token
 * verifies the same way whenever it is checked within its validity, apart from key removal,
 * so this bound is the only thing the cache changes.
 */
export interface VerifiedTokensOptions {
  /** Most tokens kept; the least recently used is dropped beyond it. Default 10,000. */
  maxEntries?: number;
  /** Longest time a verification counts. Default 60,000 ms. */
  maxAgeMs?: number;
  /** Wall clock in milliseconds since the epoch (token times are epoch times). Default Date.now. */
  now?: () => number;
}

export interface VerifiedTokens {
  /** The principal of a token verified earlier and still valid, else undefined. */
  lookup(token: string): Principal | undefined;
  /** Remembers a verified token until `expiresAtMs` (exp plus tolerance) or maxAgeMs from now, whichever is first. */
  remember(token: string, principal: Principal, expiresAtMs: number): void;
  readonly size: number;
}

export const DEFAULT_VERIFIED_TOKENS_MAX_ENTRIES = 10_000;
export const DEFAULT_VERIFIED_TOKENS_MAX_AGE_MS = 60_000;

interface Entry {
  principal: Principal;
  expiresAt: number;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

/** A principal handlers cannot change for the next request holding the same token. */
function frozen(principal: Principal): Principal {
  const copy: Principal = { ...principal };
  if (copy.scopes) copy.scopes = Object.freeze([...copy.scopes]) as string[];
  if (copy.groups) copy.groups = Object.freeze([...copy.groups]) as string[];
  return Object.freeze(copy);
}

export function createVerifiedTokens(opts: VerifiedTokensOptions = {}): VerifiedTokens {
  const maxEntries = opts.maxEntries ?? DEFAULT_VERIFIED_TOKENS_MAX_ENTRIES;
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_VERIFIED_TOKENS_MAX_AGE_MS;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || !Number.isFinite(maxAgeMs) || maxAgeMs <= 0) {
    throw new FarolError('CONFIG_INVALID', `invalid token cache options: maxEntries ${String(maxEntries)}, maxAgeMs ${String(maxAgeMs)}`, {
      hint: 'maxEntries is a whole number ≥ 1 and maxAgeMs a positive number of milliseconds; cache: false turns the cache off',
    });
  }
  const now = opts.now ?? Date.now;
  // A Map iterates in insertion order: re-inserting on a hit makes its first key the least recently used.
  const entries = new Map<string, Entry>();

  return {
    lookup(token) {
      const key = digest(token);
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      entries.delete(key);
      if (now() >= entry.expiresAt) return undefined;
      entries.set(key, entry);
      return entry.principal;
    },
    remember(token, principal, expiresAtMs) {
      const expiresAt = Math.min(expiresAtMs, now() + maxAgeMs);
      if (!(expiresAt > now())) return;
      const key = digest(token);
      entries.delete(key);
      entries.set(key, { principal: frozen(principal), expiresAt });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    get size() {
      return entries.size;
    },
  };
}
