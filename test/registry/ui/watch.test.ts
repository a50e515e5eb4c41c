/**
 * The UI's blocking-query loop (src/registry/ui/static/watch.js, a browser module without DOM),
 * driven with a scripted request function and a fake sleep: no sockets, no clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

interface Answer {
  index: string | null;
  body: unknown;
}
type State = { kind: 'live' } | { kind: 'retrying'; error: Error; delayMs: number } | { kind: 'denied'; error: Error };
interface WatchModule {
  HttpError: new (status: number, body: string) => Error & { status: number };
  nextIndex(previous: number, header: string | null): number;
  backoffMs(failures: number, random?: () => number): number;
  MAX_BACKOFF_MS: number;
  UNCHANGED_PAUSE_MS: number;
  watch(
    path: string,
    options: {
      request: (url: string, signal: AbortSignal) => Promise<Answer>;
      onData: (body: unknown, index: number) => void;
      onState?: (state: State) => void;
      signal: AbortSignal;
      sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
      random?: () => number;
      now?: () => number;
    },
  ): Promise<void>;
}

// A browser module: plain JavaScript with no type declarations, so it is typed here by hand.
const modulePath = '../../../src/registry/ui/static/watch.js';
const { HttpError, nextIndex, backoffMs, MAX_BACKOFF_MS, UNCHANGED_PAUSE_MS, watch } = (await import(modulePath)) as WatchModule;

/** Runs watch() over scripted answers (an Error is thrown); stops when the script runs out. */
async function run(script: (Answer | Error)[], opts: { now?: () => number } = {}) {
  const controller = new AbortController();
  const urls: string[] = [];
  const data: unknown[] = [];
  const states: State[] = [];
  const sleeps: number[] = [];
  let step = 0;
  await watch('/v1/health/service/web', {
    signal: controller.signal,
    async request(url) {
      urls.push(url);
      const next = script[step++];
      if (next === undefined) {
        controller.abort();
        throw new Error('aborted');
      }
      if (next instanceof Error) throw next;
      return next;
    },
    onData: (body) => data.push(body),
    onState: (state) => states.push(state),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    now: opts.now ?? (() => 0),
  });
  return { urls, data, states, sleeps };
}

describe('nextIndex (Consul\'s rules for the index of the next blocking query)', () => {
  it('sends back the index received, resets to 0 when it goes backwards, and never sends less than 1', () => {
    assert.equal(nextIndex(0, '42'), 42);
    assert.equal(nextIndex(42, '42'), 42);
    assert.equal(nextIndex(42, '50'), 50);
    assert.equal(nextIndex(42, '7'), 0);
    assert.equal(nextIndex(42, null), 1);
    assert.equal(nextIndex(42, '0'), 1);
    assert.equal(nextIndex(42, 'nope'), 1);
  });

  it('is always a whole number that is 0, 1 or the index received', () => {
    fc.assert(
      fc.property(fc.nat(), fc.oneof(fc.constant(null), fc.string(), fc.nat().map(String)), (previous, header) => {
        const next = nextIndex(previous, header);
        assert.ok(Number.isSafeInteger(next) && next >= 0);
        assert.ok(next === 0 || next === 1 || String(next) === header);
      }),
    );
  });
});

describe('backoffMs', () => {
  it('doubles from about 1 s and stays within 30 s however many failures', () => {
    assert.equal(backoffMs(1, () => 1), 1000);
    assert.equal(backoffMs(2, () => 1), 2000);
    assert.equal(backoffMs(1, () => 0), 500);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (failures, r) => {
        const delay = backoffMs(failures, () => r);
        assert.ok(delay >= 500 && delay <= MAX_BACKOFF_MS);
      }),
    );
  });
});

describe('watch (one long-poll per view)', () => {
  it('asks without an index first, then blocks on the index it got, and renders only changes', async () => {
    const { urls, data } = await run([
      { index: '10', body: ['a'] },
      { index: '10', body: ['a'] }, // the wait ran out: nothing changed
      { index: '12', body: ['b'] },
    ], { now: (() => { let t = 0; return () => (t += 60_000); })() });
    assert.deepEqual(urls, [
      '/v1/health/service/web',
      '/v1/health/service/web?index=10&wait=5m',
      '/v1/health/service/web?index=10&wait=5m',
      '/v1/health/service/web?index=12&wait=5m',
    ]);
    assert.deepEqual(data, [['a'], ['b']]);
  });

  it('starts over without an index when the index goes backwards (a restarted registry)', async () => {
    const { urls, data } = await run([{ index: '10', body: 1 }, { index: '3', body: 2 }, { index: '3', body: 2 }]);
    assert.deepEqual(urls.slice(0, 3), ['/v1/health/service/web', '/v1/health/service/web?index=10&wait=5m', '/v1/health/service/web']);
    assert.deepEqual(data, [1, 2, 2]);
  });

  it('backs off on errors, doubling, and resets after a success', async () => {
    const failure = new Error('connection refused');
    const { sleeps, states, data } = await run([failure, failure, failure, { index: '5', body: 'ok' }, failure]);
    assert.deepEqual(sleeps, [750, 1500, 3000, 750]);
    assert.deepEqual(states.map((s) => s.kind), ['retrying', 'retrying', 'retrying', 'live', 'retrying']);
    assert.deepEqual(data, ['ok']);
  });

  it('pauses when an unchanged answer comes back at once, so a server that does not block cannot cause a storm', async () => {
    const { sleeps } = await run([{ index: '5', body: 1 }, { index: '5', body: 1 }, { index: '5', body: 1 }]);
    assert.deepEqual(sleeps, [UNCHANGED_PAUSE_MS, UNCHANGED_PAUSE_MS]);
  });

  it('stops on 403 and says access was denied (the page asks for a token)', async () => {
    const { urls, states } = await run([new HttpError(403, 'ACL not found'), { index: '1', body: [] }]);
    assert.equal(urls.length, 1);
    assert.deepEqual(states.map((s) => s.kind), ['denied']);
  });
});
