import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FarolError } from '../errors.js';

/**
 * Brute-force limiting of logins, as a pure state machine over an injected clock.
 *
 * Counting (fail2ban's maxretry/findtime). Failed attempts are counted per source address and per
 * attempted user name, each in a sliding window (default 10 per address and 5 per user name in 5
 * minutes). The per-address count stops one client trying many names; the per-user count stops
 * many addresses (a botnet) trying one name. Unknown user names are counted exactly like real
 * ones, so a lock reveals nothing about which names exist. Addresses are compared as the client
 * is: an IPv4-mapped IPv6 address (::ffff:1.2.3.4) is 1.2.3.4, and IPv6 addresses are counted
 * per /64, the block one host or customer usually gets (per /128, a /64 would be 2^64 fresh
 * budgets).
 *
 * Locking (OWASP's advice: lock for a while, longer each time; fail2ban's bantime.increment). The
 * failure that fills a key's window locks the key for 1 s; each further lock doubles, up to 15
 * minutes. After a lock the key is on probation: a single failure locks it again (it does not get
 * a fresh allowance), so an attacker who keeps going is slowed to one guess per lock, and soon one
 * per 15 minutes. Probation is worked off with time only: one lock level is forgiven for every
 * window (5 minutes) after a lock without a failure.
 *
 * While a key is locked, attempts on it are not admitted at all: the caller answers 429 without
 * doing the password work (scrypt), so a locked attacker costs the server nothing.
 *
 * Concurrency. An admitted attempt holds a reservation on its keys until it is settled, and a key
 * admits only as many attempts at once as failures it has left before locking (one on probation).
 * So a burst of parallel guesses sent before the first answer cannot get past the limit. The one
 * exception is a trusted pair (below) with no failures: a returning client's parallel requests
 * all go through. The cost: a client's very first burst from a new address gets 429 (Retry-After
 * 1 s) for the attempts beyond the per-user limit, until one of them has succeeded.
 *
 * Not letting an attacker lock the real user out (the cost of per-user locks). A successful login
 * makes its (address, user name) pair trusted for 30 days, and a trusted pair is not subject to
 * the locks of its address or of its user name: someone hammering "alice" from elsewhere, or a
 * noisy neighbour behind the same NAT, does not lock alice out of the places she has logged in
 * from before (OWASP's "device cookie" idea, with the address as the device). A trusted pair has
 * its own count and locks, with the per-user limit, so trust is no licence to guess: an attacker
 * sharing alice's address gets the same small, escalating allowance for her name there. What an
 * attacker can still do cheaply is keep alice's name locked on addresses she has never logged in
 * from; those locks last at most 15 minutes per attempt, and header credentials on new devices are
 * where an ongoing attack should show.
 *
 * Success resets nothing. A reset on success is what attackers exploit: one valid account (or
 * a NAT shared with a real user) interleaved every few guesses would clear an address's count
 * forever, and the real user's routine logins would hand a distributed attack on her name a
 * fresh budget each time. The real user does not need a reset, because her trusted pair is
 * exempt from the locks her typos (or an attacker) caused. Counts and locks only ever decay.
 *
 * Memory is bounded: at most `maxEntries` counted keys (default 100,000; least recently used
 * dropped first) and, separately, `maxTrustedPairs` trusted pairs, so a flood of failures can
 * never push out the pairs real users have earned. Pushing out a lock takes `maxEntries` fresh
 * keys, each bought with a full (scrypt) verification by the server. Idle keys are dropped.
 */
export interface AttemptLimiterOptions {
  /** Failures from one address (an IPv6 /64) within the window that lock it. Default 10. */
  maxFailuresPerAddress?: number;
  /** Failures for one user name within the window that lock it; also the limit of a trusted pair. Default 5. */
  maxFailuresPerUser?: number;
  /** The sliding window failures are counted in, and the quiet time that forgives one lock level. Default 5 minutes. */
  windowMs?: number;
  /** The first lock. Default 1 second. */
  lockBaseMs?: number;
  /** The longest lock. Default 15 minutes. */
  lockMaxMs?: number;
  /** How long a successful login keeps its (address, user name) pair trusted. Default 30 days. */
  trustedPairTtlMs?: number;
  /** Most counted keys (addresses, user names). Default 100,000. */
  maxEntries?: number;
  /** Most trusted pairs. Default 100,000. */
  maxTrustedPairs?: number;
  /** IPv6 addresses are counted per prefix of this length. Default 64. */
  ipv6PrefixLength?: number;
  /** A monotonic clock in milliseconds. Default performance.now. */
  now?: () => number;
}

/** Who is trying: the peer's address and the user name it tried, each when known. */
export interface Attempt {
  address?: string;
  username?: string;
}

/** What an admitted attempt must report, exactly once (later calls are ignored). */
export interface AttemptTicket {
  /** The credentials were right. */
  succeeded(): void;
  /** The credentials were wrong; `username` when the authenticator learnt the name only then. */
  failed(username?: string): void;
  /** Nothing to count (e.g. the authenticator found no credentials of its kind). */
  abandoned(): void;
}

export type AttemptLimitedBy = 'address' | 'user' | 'pair';

export type AttemptAdmission =
  | { admitted: true; ticket: AttemptTicket }
  | { admitted: false; retryAfterMs: number; limitedBy: AttemptLimitedBy; reason: string };

export interface AttemptLimiter {
  /** Admits an attempt (reserving its place until the ticket is settled), or says for how long it may not be made. */
  admit(attempt: Attempt): AttemptAdmission;
  /**
   * Forgets the trusted pairs of these user names (removed users, changed passwords), so trust
   * earned with credentials that no longer hold cannot exempt anyone from the user name's locks.
   * Returns how many pairs were forgotten.
   */
  forgetTrust(usernames: Iterable<string>): number;
  /** Counted keys plus trusted pairs held. */
  readonly size: number;
}

export const ATTEMPT_LIMITER_DEFAULTS = {
  maxFailuresPerAddress: 10,
  maxFailuresPerUser: 5,
  windowMs: 5 * 60_000,
  lockBaseMs: 1_000,
  lockMaxMs: 15 * 60_000,
  trustedPairTtlMs: 30 * 24 * 60 * 60_000,
  maxEntries: 100_000,
  maxTrustedPairs: 100_000,
  ipv6PrefixLength: 64,
} as const;

/** One counted key: an address, a user name, or a trusted pair. */
interface KeyState {
  /** Times of the failures in the window, oldest first (at most the key's limit). */
  failures: number[];
  lockedUntil: number;
  /** Locks not yet forgiven; above 0 the key is on probation. */
  strikes: number;
  /** When the next lock level is forgiven from: the end of the last lock or the last failure, whichever is later. */
  forgiveFrom: number;
  /** Admitted attempts not yet settled. */
  inFlight: number;
}

interface TrustedPair {
  trustedUntil: number;
  state: KeyState;
}

interface Policy {
  limit: number;
  windowMs: number;
  lockBaseMs: number;
  lockMaxMs: number;
}

// Far beyond any lockMaxMs / lockBaseMs ratio; keeps 2^strikes finite.
const MAX_STRIKES = 40;
// Keys are held in memory: a long user name is kept as its digest.
const MAX_PLAIN_KEY_LENGTH = 64;

function newState(): KeyState {
  return { failures: [], lockedUntil: 0, strikes: 0, forgiveFrom: 0, inFlight: 0 };
}

/** Brings a key up to time `t`: failures leave the window, quiet windows after a lock forgive lock levels. */
function refresh(state: KeyState, t: number, policy: Policy): void {
  const windowStart = t - policy.windowMs;
  let expired = 0;
  while (expired < state.failures.length && (state.failures[expired] ?? 0) <= windowStart) expired += 1;
  if (expired > 0) state.failures.splice(0, expired);
  if (state.strikes > 0 && t >= state.forgiveFrom) {
    const forgiven = Math.floor((t - state.forgiveFrom) / policy.windowMs);
    if (forgiven > 0) {
      state.strikes = Math.max(0, state.strikes - forgiven);
      state.forgiveFrom += forgiven * policy.windowMs;
    }
  }
}

/** How long an attempt on this key must wait, or 0 when it may be made now. */
function waitMs(state: KeyState, t: number, policy: Policy, trustedPair: boolean): number {
  if (t < state.lockedUntil) return state.lockedUntil - t;
  // A trusted pair with a clean record is a returning client, whose parallel requests must not
  // queue behind each other; one burst of wrong guesses through it ends in a long lock (each
  // failure past the limit doubles it), so this is not a way around the limit.
  if (trustedPair && state.strikes === 0 && state.failures.length === 0) return 0;
  const room = state.strikes > 0 ? 1 : policy.limit - state.failures.length;
  // Full of attempts in flight: their answers decide; try again shortly.
  return state.inFlight >= room ? policy.lockBaseMs : 0;
}

function recordFailure(state: KeyState, t: number, policy: Policy): void {
  state.failures.push(t);
  state.forgiveFrom = Math.max(state.forgiveFrom, t);
  if (state.strikes === 0 && state.failures.length < policy.limit) return;
  const lockMs = Math.min(policy.lockBaseMs * 2 ** state.strikes, policy.lockMaxMs);
  // A failure settled while the key is already locked (a parallel attempt) extends the lock, never shortens it.
  state.lockedUntil = Math.max(state.lockedUntil, t + lockMs);
  state.forgiveFrom = state.lockedUntil;
  state.strikes = Math.min(state.strikes + 1, MAX_STRIKES);
  state.failures = [];
}

function isIdle(state: KeyState, t: number): boolean {
  return state.failures.length === 0 && state.strikes === 0 && state.inFlight === 0 && t >= state.lockedUntil;
}

/** 16-bit groups of a valid IPv6 address (no zone), embedded dotted quad included. */
function ipv6Groups(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, dotted.index);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const hex = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const [head = '', rest] = text.split('::');
  const before = hex(head);
  const after = [...hex(rest ?? ''), ...tail];
  const zeros = rest === undefined ? [] : new Array<number>(8 - before.length - after.length).fill(0);
  return [...before, ...zeros, ...after];
}

/**
 * The key an address is counted under: an IPv4 address as itself (IPv4-mapped IPv6 included),
 * an IPv6 address as its prefix of `ipv6PrefixLength` bits, anything else as given.
 */
export function addressKey(address: string, ipv6PrefixLength: number = ATTEMPT_LIMITER_DEFAULTS.ipv6PrefixLength): string {
  const withoutZone = address.split('%')[0] ?? address;
  const family = isIP(withoutZone);
  if (family === 4) return withoutZone;
  if (family !== 6) return boundedKey(address);
  const groups = ipv6Groups(withoutZone.toLowerCase());
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  const masked = groups.map((group, index) => {
    const bitsKept = Math.min(16, Math.max(0, ipv6PrefixLength - index * 16));
    return bitsKept === 0 ? 0 : group & (0xffff << (16 - bitsKept)) & 0xffff;
  });
  return `${masked.map((group) => group.toString(16)).join(':')}/${ipv6PrefixLength}`;
}

function boundedKey(text: string): string {
  return text.length <= MAX_PLAIN_KEY_LENGTH ? text : `#${createHash('sha256').update(text, 'utf8').digest('base64')}`;
}

function invalidOption(name: string, value: unknown, rule: string): FarolError {
  return new FarolError('CONFIG_INVALID', `invalid attempt limiter option ${name}: ${String(value)} (${rule})`, {
    hint: 'give whole numbers ≥ 1 for limits and entry counts, and positive milliseconds with lockBaseMs ≤ lockMaxMs',
  });
}

function resolveOptions(opts: AttemptLimiterOptions): Required<Omit<AttemptLimiterOptions, 'now'>> {
  const resolved = { ...ATTEMPT_LIMITER_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, value]) => value !== undefined)) } as Required<
    Omit<AttemptLimiterOptions, 'now'>
  >;
  for (const name of ['maxFailuresPerAddress', 'maxFailuresPerUser', 'maxEntries', 'maxTrustedPairs'] as const) {
    if (!Number.isSafeInteger(resolved[name]) || resolved[name] < 1) throw invalidOption(name, resolved[name], 'must be a whole number ≥ 1');
  }
  for (const name of ['windowMs', 'lockBaseMs', 'lockMaxMs', 'trustedPairTtlMs'] as const) {
    if (!Number.isFinite(resolved[name]) || resolved[name] <= 0) throw invalidOption(name, resolved[name], 'must be a positive number of milliseconds');
  }
  if (resolved.lockBaseMs > resolved.lockMaxMs) throw invalidOption('lockBaseMs', resolved.lockBaseMs, 'must not exceed lockMaxMs');
  const prefix = resolved.ipv6PrefixLength;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 128) throw invalidOption('ipv6PrefixLength', prefix, 'must be a whole number from 0 to 128');
  return resolved;
}

/** A new limiter with its own memory; share one between authenticators to count their failures together. */
export function createAttemptLimiter(opts: AttemptLimiterOptions = {}): AttemptLimiter {
  const options = resolveOptions(opts);
  const now = opts.now ?? (() => performance.now());
  const timing = { windowMs: options.windowMs, lockBaseMs: options.lockBaseMs, lockMaxMs: options.lockMaxMs };
  const addressPolicy: Policy = { ...timing, limit: options.maxFailuresPerAddress };
  const userPolicy: Policy = { ...timing, limit: options.maxFailuresPerUser };
  // Maps iterate in insertion order: re-inserting on use makes the first key the least recently used.
  const counted = new Map<string, KeyState>();
  const trusted = new Map<string, TrustedPair>();

  const touch = <V>(map: Map<string, V>, key: string, value: V, max: number): void => {
    map.delete(key);
    map.set(key, value);
    while (map.size > max) {
      const oldest = map.keys().next();
      if (oldest.done) break;
      map.delete(oldest.value);
    }
  };

  /** The key's state at time t (created when missing, when `create`), marked most recently used. */
  const countedState = (key: string, t: number, policy: Policy, create: boolean): KeyState | undefined => {
    let state = counted.get(key);
    if (state !== undefined) refresh(state, t, policy);
    if (state === undefined || isIdle(state, t)) {
      if (!create) {
        if (state !== undefined) counted.delete(key);
        return undefined;
      }
      state ??= newState();
    }
    touch(counted, key, state, options.maxEntries);
    return state;
  };

  const trustedPair = (key: string, t: number): TrustedPair | undefined => {
    const pair = trusted.get(key);
    if (pair === undefined) return undefined;
    if (t >= pair.trustedUntil) {
      trusted.delete(key);
      return undefined;
    }
    refresh(pair.state, t, userPolicy);
    return pair;
  };

  const keysOf = (attempt: Attempt) => {
    const address = attempt.address === undefined || attempt.address === '' ? undefined : `a:${addressKey(attempt.address, options.ipv6PrefixLength)}`;
    const user = attempt.username === undefined ? undefined : `u:${boundedKey(attempt.username)}`;
    const pair = address !== undefined && user !== undefined ? `${address}\u0000${user}` : undefined;
    return { address, user, pair };
  };

  const reasons: Record<AttemptLimitedBy, string> = {
    address: 'too many failed attempts from this address',
    user: 'too many failed attempts for this user name',
    pair: 'too many failed attempts for this user name from this address',
  };

  return {
    admit(attempt) {
      const t = now();
      const keys = keysOf(attempt);
      const pair = keys.pair === undefined ? undefined : trustedPair(keys.pair, t);

      // The keys whose limits apply: a trusted pair's own, or else its address's and user name's.
      const limiting: { by: AttemptLimitedBy; state: KeyState; policy: Policy }[] = [];
      if (pair !== undefined) {
        limiting.push({ by: 'pair', state: pair.state, policy: userPolicy });
      } else {
        const address = keys.address === undefined ? undefined : countedState(keys.address, t, addressPolicy, false);
        const user = keys.user === undefined ? undefined : countedState(keys.user, t, userPolicy, false);
        if (address !== undefined) limiting.push({ by: 'address', state: address, policy: addressPolicy });
        if (user !== undefined) limiting.push({ by: 'user', state: user, policy: userPolicy });
      }
      let longest: { by: AttemptLimitedBy; ms: number } | undefined;
      for (const { by, state, policy } of limiting) {
        const ms = waitMs(state, t, policy, by === 'pair');
        if (ms > 0 && (longest === undefined || ms > longest.ms)) longest = { by, ms };
      }
      if (longest !== undefined) return { admitted: false, retryAfterMs: longest.ms, limitedBy: longest.by, reason: reasons[longest.by] };

      // Reserve a place on every key that limits this attempt, so parallel attempts see it.
      const reserved: { key: string | undefined; state: KeyState }[] = [];
      const reserve = (key: string | undefined, state: KeyState | undefined) => {
        if (state === undefined) return;
        state.inFlight += 1;
        reserved.push({ key, state });
      };
      if (pair !== undefined) {
        reserve(undefined, pair.state);
      } else {
        if (keys.address !== undefined) reserve(keys.address, countedState(keys.address, t, addressPolicy, true));
        if (keys.user !== undefined) reserve(keys.user, countedState(keys.user, t, userPolicy, true));
      }

      let settled = false;
      const settle = (): number | undefined => {
        if (settled) return undefined;
        settled = true;
        const at = now();
        for (const { key, state } of reserved) {
          state.inFlight = Math.max(0, state.inFlight - 1);
          // A key that only held this reservation has nothing left to remember.
          if (key !== undefined && isIdle(state, at) && counted.get(key) === state) counted.delete(key);
        }
        return at;
      };
      return {
        admitted: true,
        ticket: {
          succeeded() {
            const at = settle();
            if (at === undefined || keys.pair === undefined) return;
            const existing = trustedPair(keys.pair, at);
            touch(trusted, keys.pair, { trustedUntil: at + options.trustedPairTtlMs, state: existing?.state ?? newState() }, options.maxTrustedPairs);
          },
          failed(username) {
            const at = settle();
            if (at === undefined) return;
            const failedKeys = username === undefined || username === attempt.username ? keys : keysOf({ ...attempt, username });
            if (failedKeys.address !== undefined) recordFailure(countedState(failedKeys.address, at, addressPolicy, true) as KeyState, at, addressPolicy);
            if (failedKeys.user !== undefined) recordFailure(countedState(failedKeys.user, at, userPolicy, true) as KeyState, at, userPolicy);
            const failedPair = failedKeys.pair === undefined ? undefined : trustedPair(failedKeys.pair, at);
            if (failedPair !== undefined) recordFailure(failedPair.state, at, userPolicy);
          },
          abandoned() {
            settle();
          },
        },
      };
    },
    forgetTrust(usernames) {
      const users = new Set<string>();
      for (const username of usernames) users.add(`u:${boundedKey(username)}`);
      if (users.size === 0) return 0;
      let forgotten = 0;
      // A scan: reloads are rare, and an index by user name would cost memory on every login.
      for (const key of trusted.keys()) {
        if (users.has(key.slice(key.indexOf('\u0000') + 1))) {
          trusted.delete(key);
          forgotten += 1;
        }
      }
      return forgotten;
    },
    get size() {
      return counted.size + trusted.size;
    },
  };
}
