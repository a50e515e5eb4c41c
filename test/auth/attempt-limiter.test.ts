import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ATTEMPT_LIMITER_DEFAULTS,
  addressKey,
  createAttemptLimiter,
  type Attempt,
  type AttemptAdmission,
  type AttemptLimiter,
  type AttemptLimiterOptions,
  type AttemptTicket,
} from '../../src/auth/attempt-limiter.js';
import { isFarolError } from '../../src/errors.js';

const MINUTE = 60_000;

/** A limiter on a clock the test moves. */
function limiterAt(opts: AttemptLimiterOptions = {}): { limiter: AttemptLimiter; advance: (ms: number) => void } {
  let time = 1_000_000;
  return { limiter: createAttemptLimiter({ ...opts, now: () => time }), advance: (ms) => void (time += ms) };
}

function ticketOf(admission: AttemptAdmission): AttemptTicket {
  assert.ok(admission.admitted, `expected the attempt to be admitted, got ${JSON.stringify(admission)}`);
  return admission.ticket;
}

const fail = (limiter: AttemptLimiter, attempt: Attempt): void => ticketOf(limiter.admit(attempt)).failed();
const succeed = (limiter: AttemptLimiter, attempt: Attempt): void => ticketOf(limiter.admit(attempt)).succeeded();
const refusal = (admission: AttemptAdmission) => (admission.admitted ? undefined : { by: admission.limitedBy, ms: admission.retryAfterMs });

describe('attempt limiter: counting and locking', () => {
  it('locks an address after 10 failures within 5 minutes, whatever user names it tries', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 9; i += 1) {
      fail(limiter, { address: '192.0.2.7', username: `user${i}` });
      advance(30_000);
    }
    fail(limiter, { address: '192.0.2.7', username: 'user9' });
    const refused = limiter.admit({ address: '192.0.2.7', username: 'someone-else' });
    assert.deepEqual(refused, { admitted: false, retryAfterMs: 1_000, limitedBy: 'address', reason: 'too many failed attempts from this address' });
    assert.ok(limiter.admit({ address: '192.0.2.8', username: 'someone-else' }).admitted, 'another address is not affected');
  });

  it('counts in a sliding window: failures older than the window no longer count', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 9; i += 1) fail(limiter, { address: '192.0.2.7' });
    advance(5 * MINUTE);
    fail(limiter, { address: '192.0.2.7' });
    assert.ok(limiter.admit({ address: '192.0.2.7' }).admitted);
  });

  it('locks a user name after 5 failures from any addresses, and unknown names are counted the same way', () => {
    const { limiter } = limiterAt();
    for (let i = 1; i <= 5; i += 1) fail(limiter, { address: `198.51.100.${i}`, username: 'alice' });
    assert.deepEqual(refusal(limiter.admit({ address: '198.51.100.99', username: 'alice' })), { by: 'user', ms: 1_000 });
    assert.ok(limiter.admit({ address: '198.51.100.99', username: 'bob' }).admitted);
  });

  it('doubles each lock while failures continue (probation: one failure locks again), up to 15 minutes', () => {
    const { limiter, advance } = limiterAt();
    const attacker = { address: '203.0.113.5' };
    for (let i = 0; i < 10; i += 1) fail(limiter, attacker);
    const locks: number[] = [];
    for (let round = 0; round < 14; round += 1) {
      const refused = refusal(limiter.admit(attacker));
      assert.ok(refused);
      locks.push(refused.ms);
      advance(refused.ms);
      fail(limiter, attacker);
    }
    assert.deepEqual(locks, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900].map((s) => s * 1_000));
  });

  it('forgives one lock level per quiet window after a lock, then allows the full count again', () => {
    const { limiter, advance } = limiterAt();
    const client = { address: '203.0.113.5' };
    for (let i = 0; i < 10; i += 1) fail(limiter, client);
    advance(1_000);
    fail(limiter, client); // probation: locked again, for 2 s (two levels now)
    advance(2_000 + 5 * MINUTE);
    fail(limiter, client); // one level forgiven: still on probation, so this locks again, for 2 s
    assert.deepEqual(refusal(limiter.admit(client)), { by: 'address', ms: 2_000 });
    advance(2_000 + 10 * MINUTE);
    for (let i = 0; i < 9; i += 1) fail(limiter, client);
    assert.ok(limiter.admit(client).admitted, 'both levels forgiven: nine failures do not lock');
  });

  it('does not reset counts on success: a valid account interleaved with guesses does not help', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 9; i += 1) {
      fail(limiter, { address: '192.0.2.7', username: `victim${i}` });
      succeed(limiter, { address: '192.0.2.7', username: 'my-own-account' });
    }
    fail(limiter, { address: '192.0.2.7', username: 'victim9' });
    assert.equal(refusal(limiter.admit({ address: '192.0.2.7', username: 'victim10' }))?.by, 'address');
  });

  it('admits attempts that name neither an address nor a user', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 50; i += 1) fail(limiter, {});
    assert.ok(limiter.admit({}).admitted);
  });
});

describe('attempt limiter: the real user is not locked out', () => {
  it('keeps admitting a user from an address she logged in from while her name is locked everywhere else', () => {
    const { limiter } = limiterAt();
    succeed(limiter, { address: '192.0.2.10', username: 'alice' });
    for (let i = 1; i <= 20; i += 1) {
      const admission = limiter.admit({ address: `203.0.113.${i}`, username: 'alice' });
      if (admission.admitted) admission.ticket.failed();
    }
    assert.equal(refusal(limiter.admit({ address: '203.0.113.200', username: 'alice' }))?.by, 'user');
    assert.ok(limiter.admit({ address: '192.0.2.10', username: 'alice' }).admitted);
  });

  it('keeps admitting her behind a locked address (a NAT shared with an attacker)', () => {
    const { limiter } = limiterAt();
    succeed(limiter, { address: '192.0.2.10', username: 'alice' });
    for (let i = 0; i < 10; i += 1) fail(limiter, { address: '192.0.2.10', username: `guess${i}` });
    assert.equal(refusal(limiter.admit({ address: '192.0.2.10', username: 'bob' }))?.by, 'address');
    assert.ok(limiter.admit({ address: '192.0.2.10', username: 'alice' }).admitted);
  });

  it('limits guesses through a trusted pair with its own, escalating, per-user limit', () => {
    const { limiter, advance } = limiterAt();
    const pair = { address: '192.0.2.10', username: 'alice' };
    succeed(limiter, pair);
    for (let i = 0; i < 5; i += 1) fail(limiter, pair);
    assert.deepEqual(refusal(limiter.admit(pair)), { by: 'pair', ms: 1_000 });
    advance(1_000);
    fail(limiter, pair);
    assert.deepEqual(refusal(limiter.admit(pair)), { by: 'pair', ms: 2_000 });
  });

  it("forgets a user's trusted pairs when told its credentials changed, so the user name's lock applies there again", () => {
    const { limiter } = limiterAt();
    succeed(limiter, { address: '192.0.2.10', username: 'bob' });
    succeed(limiter, { address: '192.0.2.11', username: 'bob' });
    succeed(limiter, { address: '192.0.2.10', username: 'alice' });
    for (let i = 1; i <= 5; i += 1) fail(limiter, { address: `203.0.113.${i}`, username: 'bob' });
    assert.ok(limiter.admit({ address: '192.0.2.10', username: 'bob' }).admitted, 'trusted before the change');

    assert.equal(limiter.forgetTrust(['bob', 'nobody']), 2);
    assert.equal(refusal(limiter.admit({ address: '192.0.2.10', username: 'bob' }))?.by, 'user');
    assert.equal(refusal(limiter.admit({ address: '192.0.2.11', username: 'bob' }))?.by, 'user');
    assert.ok(limiter.admit({ address: '192.0.2.10', username: 'alice' }).admitted, "another user's trust is kept");
    assert.equal(limiter.forgetTrust([]), 0);
  });

  it('forgets the trust of a user name held as a digest (longer than 64 characters) too', () => {
    const { limiter } = limiterAt();
    const long = 'x'.repeat(100);
    succeed(limiter, { address: '192.0.2.10', username: long });
    assert.equal(limiter.forgetTrust([long]), 1);
  });

  it('forgets the trust after its TTL', () => {
    const { limiter, advance } = limiterAt({ trustedPairTtlMs: 10 * MINUTE });
    succeed(limiter, { address: '192.0.2.10', username: 'alice' });
    advance(10 * MINUTE);
    for (let i = 1; i <= 5; i += 1) fail(limiter, { address: `203.0.113.${i}`, username: 'alice' });
    assert.equal(refusal(limiter.admit({ address: '192.0.2.10', username: 'alice' }))?.by, 'user');
  });
});

describe('attempt limiter: concurrency and memory', () => {
  it('admits no more parallel attempts than failures are left, so a burst cannot overshoot the limit', () => {
    const { limiter } = limiterAt();
    const attacker = { address: '203.0.113.5' };
    for (let i = 0; i < 7; i += 1) fail(limiter, attacker);
    const open = [0, 1, 2].map(() => ticketOf(limiter.admit(attacker)));
    assert.deepEqual(refusal(limiter.admit(attacker)), { by: 'address', ms: 1_000 });
    open[0]?.abandoned();
    open[0]?.failed(); // a second settlement is ignored
    assert.ok(limiter.admit(attacker).admitted, 'an abandoned attempt gives its place back');
  });

  it("admits a returning client's parallel requests, and punishes a burst of failures through its pair with a long lock", () => {
    const { limiter } = limiterAt();
    const pair = { address: '192.0.2.10', username: 'alice' };
    const first = [0, 1, 2, 3, 4].map(() => ticketOf(limiter.admit(pair)));
    assert.equal(refusal(limiter.admit(pair))?.by, 'user', 'a first burst from a new address is held to the per-user limit');
    first.forEach((ticket) => ticket.succeeded());
    const burst = Array.from({ length: 50 }, () => ticketOf(limiter.admit(pair)));
    burst.slice(0, 40).forEach((ticket) => ticket.succeeded());
    burst.slice(40).forEach((ticket) => ticket.failed());
    assert.deepEqual(refusal(limiter.admit(pair)), { by: 'pair', ms: 32_000 }, '5 failures lock, 5 more double the lock five times');
  });

  it('holds at most maxEntries counted keys and maxTrustedPairs pairs, the least recently used dropped first', () => {
    const { limiter } = limiterAt({ maxEntries: 50, maxTrustedPairs: 10 });
    for (let i = 0; i < 1_000; i += 1) fail(limiter, { address: `10.0.${i >> 8}.${i & 255}`, username: `user${i}` });
    for (let i = 0; i < 100; i += 1) succeed(limiter, { address: '192.0.2.1', username: `user${i}` });
    assert.ok(limiter.size <= 60, `size ${limiter.size}`);
  });

  it('drops keys that have nothing left to remember', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 100; i += 1) fail(limiter, { address: `10.0.0.${i}` });
    assert.equal(limiter.size, 100);
    advance(5 * MINUTE);
    for (let i = 0; i < 100; i += 1) ticketOf(limiter.admit({ address: `10.0.0.${i}` })).abandoned();
    assert.equal(limiter.size, 0);
  });

  it('refuses options out of range with CONFIG_INVALID', () => {
    const bad: AttemptLimiterOptions[] = [
      { maxFailuresPerAddress: 0 },
      { maxFailuresPerUser: 1.5 },
      { windowMs: -1 },
      { lockBaseMs: Number.NaN },
      { lockBaseMs: 2_000, lockMaxMs: 1_000 },
      { maxEntries: 0 },
      { ipv6PrefixLength: 129 },
    ];
    for (const opts of bad) assert.throws(() => createAttemptLimiter(opts), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), JSON.stringify(opts));
  });
});

describe('attempt limiter: address keys', () => {
  it('counts an IPv4-mapped IPv6 address as the IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ipv4) => {
        const [a = 0, b = 0, c = 0, d = 0] = ipv4.split('.').map(Number);
        const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        for (const mapped of [`::ffff:${ipv4}`, `::FFFF:${ipv4}`, `0:0:0:0:0:ffff:${ipv4}`, `::ffff:${hex}`]) assert.equal(addressKey(mapped), ipv4, mapped);
      }),
    );
    const { limiter } = limiterAt();
    for (let i = 0; i < 5; i += 1) fail(limiter, { address: '::ffff:192.0.2.7' });
    for (let i = 0; i < 5; i += 1) fail(limiter, { address: '192.0.2.7' });
    assert.equal(refusal(limiter.admit({ address: '::ffff:192.0.2.7' }))?.by, 'address');
    assert.equal(refusal(limiter.admit({ address: '192.0.2.7' }))?.by, 'address');
  });

  it('counts IPv6 addresses per /64, however they are written', () => {
    assert.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(addressKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0:0:0:0:0/64');
    assert.notEqual(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'));
    assert.equal(addressKey('2001:db8::1', 128), '2001:db8:0:0:0:0:0:1/128');
    assert.equal(addressKey('::1'), '0:0:0:0:0:0:0:0/64');
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (address, prefix) => {
        const key = addressKey(address, prefix);
        assert.match(key, new RegExp(`^([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}/${prefix}$|^\\d+\\.\\d+\\.\\d+\\.\\d+$`));
        assert.equal(addressKey(address.toUpperCase(), prefix), key);
      }),
    );
  });

  it('keeps anything else as given, and a long value as a digest', () => {
    assert.equal(addressKey('unix-socket'), 'unix-socket');
    assert.match(addressKey('x'.repeat(500)), /^#[A-Za-z0-9+/]{43}=$/);
  });
});

describe('attempt limiter: properties over any history', () => {
  const W = MINUTE;
  const BASE = 1_000;
  const ADDRESS_LIMIT = 3;
  const USER_LIMIT = 2;
  const opts = { maxFailuresPerAddress: ADDRESS_LIMIT, maxFailuresPerUser: USER_LIMIT, windowMs: W, lockBaseMs: BASE, lockMaxMs: 16_000 };
  // The pool: two spellings of one IPv4 address, two addresses of one IPv6 /64, and others.
  const addresses = ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1', '2001:db8::2', '198.51.100.9', undefined];
  const users = ['alice', 'bob', 'carol', undefined];
  const command = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('attempt' as const), address: fc.constantFrom(...addresses), username: fc.constantFrom(...users), outcome: fc.constantFrom('fail', 'fail', 'fail', 'succeed', 'abandon'), hold: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('settle' as const) }) },
    // Mostly an attacker's pace (a guess every second or so), sometimes a long pause.
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2_000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3 * W }) }) },
  );
  type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

  /** Runs a history, returning every admission with what the test knows about it. */
  function run(commands: Command[]) {
    let time = 0;
    const limiter = createAttemptLimiter({ ...opts, now: () => time });
    const trustedPairs = new Set<string>();
    const admittedFailures: { at: number; address?: string; username?: string; trusted: boolean }[] = [];
    const refusals: { retryAfterMs: number; limitedBy: string; pairTrusted: boolean }[] = [];
    const held: { ticket: AttemptTicket; settle: () => void }[] = [];
    for (const step of commands) {
      if (step.kind === 'advance') {
        time += step.ms;
      } else if (step.kind === 'settle') {
        held.shift()?.settle();
      } else {
        const address = step.address === undefined ? undefined : addressKey(step.address);
        const pair = `${address}|${step.username}`;
        const pairTrusted = address !== undefined && step.username !== undefined && trustedPairs.has(pair);
        const admission = limiter.admit({ ...(step.address === undefined ? {} : { address: step.address }), ...(step.username === undefined ? {} : { username: step.username }) });
        if (!admission.admitted) {
          refusals.push({ retryAfterMs: admission.retryAfterMs, limitedBy: admission.limitedBy, pairTrusted });
          continue;
        }
        const at = time;
        const settle = () => {
          if (step.outcome === 'fail') {
            admission.ticket.failed();
            admittedFailures.push({ at, address, username: step.username, trusted: pairTrusted });
          } else if (step.outcome === 'succeed') {
            admission.ticket.succeeded();
            if (address !== undefined && step.username !== undefined) trustedPairs.add(pair);
          } else {
            admission.ticket.abandoned();
          }
        };
        if (step.hold) held.push({ ticket: admission.ticket, settle });
        else settle();
      }
    }
    return { limiter, admittedFailures, refusals, held, advance: (ms: number) => void (time += ms) };
  }

  /** Most admissions of the same key in any window of length W, by admission time. */
  function busiestWindow(times: number[]): number {
    const sorted = [...times].sort((a, b) => a - b);
    let most = 0;
    for (let end = 0, start = 0; end < sorted.length; end += 1) {
      while ((sorted[start] ?? 0) <= (sorted[end] ?? 0) - W) start += 1;
      most = Math.max(most, end - start + 1);
    }
    return most;
  }

  // After a key's allowance is used up, each further failure needs a lock to expire first, and
  // the locks double: 1 s + 2 s + 4 s + ... fit at most log2(W / BASE + 1) times in a window.
  const relocksPerWindow = Math.floor(Math.log2(W / BASE + 1));

  it('never admits more failures per address or per user name in a window than its limit plus the doubling relocks', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 250 }), (commands) => {
        const { admittedFailures } = run(commands);
        const untrusted = admittedFailures.filter((failure) => !failure.trusted);
        for (const address of new Set(untrusted.map((failure) => failure.address))) {
          if (address === undefined) continue;
          const times = untrusted.filter((failure) => failure.address === address).map((failure) => failure.at);
          assert.ok(busiestWindow(times) <= ADDRESS_LIMIT + relocksPerWindow, `address ${address}: ${busiestWindow(times)} failures in a window`);
        }
        for (const username of new Set(untrusted.map((failure) => failure.username))) {
          if (username === undefined) continue;
          const times = untrusted.filter((failure) => failure.username === username).map((failure) => failure.at);
          assert.ok(busiestWindow(times) <= USER_LIMIT + relocksPerWindow, `user ${username}: ${busiestWindow(times)} failures in a window`);
        }
        // Parallel attempts through a clean trusted pair are all admitted, by design (see the
        // example above), so the pair's bound is checked on the same history played sequentially.
        const sequential = run(commands.map((step) => (step.kind === 'attempt' ? { ...step, hold: false } : step)));
        const trusted = sequential.admittedFailures.filter((failure) => failure.trusted);
        for (const pair of new Set(trusted.map((failure) => `${failure.address}|${failure.username}`))) {
          const times = trusted.filter((failure) => `${failure.address}|${failure.username}` === pair).map((failure) => failure.at);
          assert.ok(busiestWindow(times) <= USER_LIMIT + relocksPerWindow, `pair ${pair}`);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('lets one attacker, at any pace, at most its limit plus the doubling relocks of failures in a window', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 300 }), fc.boolean(), (gaps, sameUser) => {
        let time = 0;
        const limiter = createAttemptLimiter({ ...opts, now: () => time });
        const admittedAt: number[] = [];
        gaps.forEach((gap, i) => {
          time += gap;
          const admission = limiter.admit({ address: '203.0.113.1', username: sameUser ? 'alice' : `guess${i}` });
          if (!admission.admitted) return;
          admittedAt.push(time);
          admission.ticket.failed();
        });
        const limit = sameUser ? USER_LIMIT : ADDRESS_LIMIT;
        assert.ok(busiestWindow(admittedAt) <= limit + relocksPerWindow, `${busiestWindow(admittedAt)} in a window`);
      }),
      { numRuns: 300 },
    );
  });

  it('admits a burst of parallel attempts only up to the failures a key has left: its limit, or one on probation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: ADDRESS_LIMIT - 1 }),
        fc.boolean(),
        fc.array(fc.constantFrom(...users), { minLength: 1, maxLength: 30 }),
        (earlierFailures, onProbation, burst) => {
          let time = 0;
          const limiter = createAttemptLimiter({ ...opts, now: () => time });
          const address = '203.0.113.1';
          if (onProbation) {
            for (let i = 0; i < ADDRESS_LIMIT; i += 1) ticketOf(limiter.admit({ address, username: `earlier${i}` })).failed();
            time += BASE;
          }
          for (let i = 0; i < earlierFailures; i += 1) {
            const admission = limiter.admit({ address, username: `before${i}` });
            if (admission.admitted) admission.ticket.failed();
          }
          const perUser = new Map<string | undefined, number>();
          let admitted = 0;
          for (const username of burst) {
            const admission = limiter.admit({ address, ...(username === undefined ? {} : { username }) });
            if (!admission.admitted) continue;
            admitted += 1;
            perUser.set(username, (perUser.get(username) ?? 0) + 1);
          }
          assert.ok(admitted <= (onProbation ? 1 : ADDRESS_LIMIT - earlierFailures), `${admitted} admitted`);
          for (const [username, count] of perUser) if (username !== undefined) assert.ok(count <= USER_LIMIT, `${username}: ${count}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a pair that succeeded before only by its own limit, never for its address or user name', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 120 }), (commands) => {
        for (const refused of run(commands).refusals) {
          if (refused.pairTrusted) assert.equal(refused.limitedBy, 'pair');
          else assert.notEqual(refused.limitedBy, 'pair');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never locks out for good: every refusal names a wait of at most lockMaxMs, and after it everything is admitted', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 120 }), (commands) => {
        const { limiter, refusals, held, advance } = run(commands);
        for (const refused of refusals) assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= opts.lockMaxMs, String(refused.retryAfterMs));
        for (const open of held) open.settle();
        advance(opts.lockMaxMs);
        for (const address of addresses) {
          for (const username of users) {
            const admission = limiter.admit({ ...(address === undefined ? {} : { address }), ...(username === undefined ? {} : { username }) });
            assert.ok(admission.admitted, `${address} ${username}`);
            admission.ticket.abandoned();
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('stays within its memory bounds', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.ipV4(), fc.string({ maxLength: 80 }), fc.boolean()), { maxLength: 300 }), fc.integer({ min: 1, max: 20 }), (attempts, maxEntries) => {
        const limiter = createAttemptLimiter({ maxEntries, maxTrustedPairs: maxEntries, now: () => 0 });
        for (const [address, username, succeeded] of attempts) {
          const admission = limiter.admit({ address, username });
          if (!admission.admitted) continue;
          if (succeeded) admission.ticket.succeeded();
          else admission.ticket.failed();
          assert.ok(limiter.size <= 2 * maxEntries);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('defaults to 10 per address, 5 per user name, 5-minute window, 1 s to 15 min locks, 100,000 keys', () => {
    assert.deepEqual(
      { ...ATTEMPT_LIMITER_DEFAULTS },
      { maxFailuresPerAddress: 10, maxFailuresPerUser: 5, windowMs: 300_000, lockBaseMs: 1_000, lockMaxMs: 900_000, trustedPairTtlMs: 2_592_000_000, maxEntries: 100_000, maxTrustedPairs: 100_000, ipv6PrefixLength: 64 },
    );
  });
});
