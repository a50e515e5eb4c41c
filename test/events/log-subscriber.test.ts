import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { addressKey } from '../../src/auth/index.js';
import { channels, createEventOwner, type AuthOutcome, type EventOwner } from '../../src/events/channels.js';
import { subscribeLogger, type LogSubscriberOptions } from '../../src/events/log-subscriber.js';
import { createLogger } from '../../src/log/logger.js';
import { Agent } from 'undici';
import { createService } from '../../src/service/index.js';
import { basic, httpsGet, issueTestPki, logLines, tempDir, writeUsers } from '../service/fixtures.js';
import { join } from 'node:path';

type Line = Record<string, unknown> & { event?: string; level: number; msg: string };

function memoryLogger(level = 'info') {
  let text = '';
  const logger = createLogger({
    name: 'server',
    level,
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    }),
  });
  const lines = (): Line[] => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Line);
  return { logger, lines };
}

/** A service's log: a logger subscribed to one owner's events, and functions that publish a request's events as the app does. */
function serviceLog(opts: Omit<LogSubscriberOptions, 'owner'> = {}, level = 'info') {
  const owner = createEventOwner('service', 'api-1');
  const { logger, lines } = memoryLogger(level);
  const detach = subscribeLogger(logger, { owner, addressKey: (address) => addressKey(address), ...opts });
  const facts = (remoteAddress: string, path: string) => ({ owner, service: 'api', instance: 'api-1', request: {}, method: 'GET', path, remoteAddress });
  const end = (base: ReturnType<typeof facts>, status: number, principal: { id: string; kind: string } | null = null, route: string | undefined = base.path) => {
    channels.serviceRequestEnd.publish({ ...base, route, status, durationMs: 1.5, principal, healthProbe: route === '/health' });
  };
  const request = (remoteAddress: string, kind: 'fail' | 'limited' | 'anonymous' | 'ok' | 'health') => {
    const base = facts(remoteAddress, `/${kind}`);
    let outcome: AuthOutcome | undefined;
    if (kind === 'fail') outcome = { ...base, outcome: 'rejected', scheme: 'basic', status: 401, reason: 'bad credentials', username: 'bob', hadCredentials: true };
    if (kind === 'anonymous') outcome = { ...base, outcome: 'rejected', scheme: undefined, status: 401, reason: 'no credentials', username: null, hadCredentials: false };
    if (kind === 'limited') outcome = { ...base, outcome: 'limited', status: 429, reason: 'too many failed attempts from this address', retryAfterSec: 1 };
    if (kind === 'ok') outcome = { ...base, outcome: 'authenticated', scheme: 'basic', principal: 'alice', remembered: false };
    if (outcome) channels.authOutcome.publish(outcome);
    const status = { fail: 401, limited: 429, anonymous: 401, ok: 200, health: 200 }[kind];
    end(base, status, kind === 'ok' ? { id: 'alice', kind: 'user' } : null);
  };
  return { owner, lines, detach, request, facts, end };
}

const eventsFrom = (lines: Line[], address: string) => lines.filter((line) => line.remoteAddress === address).map((line) => line.event);

describe('the logger as a subscriber of a service\'s events', () => {
  it('writes the access line with the same fields as before, and the failed login before it', () => {
    const log = serviceLog();
    log.request('203.0.113.9', 'fail');
    log.request('203.0.113.9', 'ok');
    const [failure, access, ok] = log.lines();
    assert.deepEqual(
      { event: failure!.event, level: failure!.level, instance: failure!.instance, remoteAddress: failure!.remoteAddress, username: failure!.username, reason: failure!.reason, method: failure!.method, path: failure!.path, status: failure!.status, msg: failure!.msg },
      { event: 'auth_failed', level: 40, instance: 'api-1', remoteAddress: '203.0.113.9', username: 'bob', reason: 'bad credentials', method: 'GET', path: '/fail', status: 401, msg: 'authentication failed' },
    );
    assert.equal(access!.event, 'access');
    assert.deepEqual(
      { principal: ok!.principal, principalKind: ok!.principalKind, method: ok!.method, path: ok!.path, status: ok!.status, latencyMs: ok!.latencyMs, instance: ok!.instance, remoteAddress: ok!.remoteAddress, level: ok!.level },
      { principal: 'alice', principalKind: 'user', method: 'GET', path: '/ok', status: 200, latencyMs: 1.5, instance: 'api-1', remoteAddress: '203.0.113.9', level: 30 },
    );
    log.detach();
  });

  it('logs health-check probes at debug: absent from an info log, present in a debug one', () => {
    const info = serviceLog();
    info.request('127.0.0.1', 'health');
    info.request('127.0.0.1', 'ok');
    assert.deepEqual(info.lines().map((line) => line.path), ['/ok']);
    info.detach();

    const debug = serviceLog({}, 'debug');
    debug.request('127.0.0.1', 'health');
    const [probe] = debug.lines();
    assert.equal(probe?.event, 'access');
    assert.equal(probe?.path, '/health');
    assert.equal(probe?.level, 20);
    debug.detach();
  });

  it("writes only its owner's lines: two services in one process keep two logs", () => {
    const a = serviceLog();
    const b = serviceLog();
    a.request('192.0.2.1', 'ok');
    b.request('192.0.2.2', 'ok');
    b.request('192.0.2.2', 'ok');
    assert.deepEqual(a.lines().map((line) => line.remoteAddress), ['192.0.2.1']);
    assert.deepEqual(b.lines().map((line) => line.remoteAddress), ['192.0.2.2', '192.0.2.2']);
    a.detach();
    b.detach();
  });

  it('unsubscribes: once detached, nothing is written and nobody listens any more', () => {
    const log = serviceLog();
    log.detach();
    log.request('192.0.2.1', 'ok');
    assert.deepEqual(log.lines(), []);
    assert.equal(channels.serviceRequestEnd.hasSubscribers, false, 'no payload is built when nobody listens');
  });

  it('a logger that throws does not reach the publisher', () => {
    const owner = createEventOwner('client', 'c-1');
    const broken = createLogger({ name: 'client', destination: { write: () => { throw new Error('disk on fire'); } } });
    const detach = subscribeLogger(broken, { owner });
    assert.doesNotThrow(() => channels.clientPanic.publish({ owner, service: 'api', panic: false, ejected: [], passing: 3 }));
    detach();
  });
});

describe('client events as log lines', () => {
  const withClientLog = (fn: (owner: EventOwner, lines: () => Line[]) => void) => {
    const owner = createEventOwner('client', 'client-1');
    const { logger, lines } = memoryLogger();
    const detach = subscribeLogger(logger, { owner });
    try {
      fn(owner, lines);
    } finally {
      detach();
    }
  };
  const tryFacts = (owner: EventOwner) => ({
    owner,
    call: {},
    try: {},
    service: 'api',
    method: 'GET',
    path: '/orders',
    attempt: 1,
    instance: { id: 'api-1', address: '127.0.0.1', port: 4443 },
  });

  it('a call that answered is one call line at info (its tries only at debug); a failed try a call_failed warning; an aborted one nothing', () => {
    withClientLog((owner, lines) => {
      const facts = tryFacts(owner);
      channels.clientTryEnd.publish({ ...facts, durationMs: 3.2, status: 200, error: undefined });
      channels.clientCallEnd.publish({ owner, call: facts.call, service: 'api', method: 'GET', path: '/orders', durationMs: 3.5, attempts: 1, status: 200, instance: facts.instance, error: undefined });
      channels.clientTryEnd.publish({ ...tryFacts(owner), durationMs: 10, status: undefined, error: { code: 'CONNECTION_REFUSED', message: 'refused' } });
      channels.clientTryEnd.publish({ ...tryFacts(owner), durationMs: 1, status: undefined, error: { code: 'ABORTED', message: 'aborted' } });
      channels.clientCallEnd.publish({ owner, call: {}, service: 'api', method: 'GET', path: '/orders', durationMs: 12, attempts: 2, status: undefined, instance: facts.instance, error: { code: 'REQUEST_FAILED', message: 'refused' } });
      const [ok, failed, ...rest] = lines();
      assert.deepEqual(
        { event: ok!.event, level: ok!.level, service: ok!.service, instance: ok!.instance, address: ok!.address, port: ok!.port, method: ok!.method, path: ok!.path, status: ok!.status, latencyMs: ok!.latencyMs, tries: ok!.tries, msg: ok!.msg },
        { event: 'call', level: 30, service: 'api', instance: 'api-1', address: '127.0.0.1', port: 4443, method: 'GET', path: '/orders', status: 200, latencyMs: 3.5, tries: 1, msg: 'GET /orders -> 200' },
      );
      assert.deepEqual({ event: failed!.event, code: failed!.code, error: failed!.error, level: failed!.level }, { event: 'call_failed', code: 'CONNECTION_REFUSED', error: 'refused', level: 40 });
      assert.deepEqual(rest, []);
    });
  });

  it('at debug, every try that answered is a try line too', () => {
    const owner = createEventOwner('client', 'client-debug');
    const { logger, lines } = memoryLogger('debug');
    const detach = subscribeLogger(logger, { owner });
    try {
      channels.clientTryEnd.publish({ ...tryFacts(owner), attempt: 2, durationMs: 2.5, status: 503, error: undefined });
      const [line, ...rest] = lines();
      assert.deepEqual(
        { event: line!.event, level: line!.level, instance: line!.instance, attempt: line!.attempt, status: line!.status, latencyMs: line!.latencyMs },
        { event: 'try', level: 20, instance: 'api-1', attempt: 2, status: 503, latencyMs: 2.5 },
      );
      assert.deepEqual(rest, []);
    } finally {
      detach();
    }
  });

  it('retries, refusals, ejections and panic keep their event names and fields', () => {
    withClientLog((owner, lines) => {
      const call = { owner, call: {}, service: 'api', method: 'GET', path: '/' };
      channels.clientRetry.publish({ ...call, attempt: 1, instance: 'api-1', reason: 503, pauseMs: 25 });
      channels.clientRetryRefused.publish({ ...call, attempts: 2, reason: 'retry budget spent' });
      channels.clientEjection.publish({ owner, service: 'api', instance: 'api-1', durationMs: 30_000, ejections: 1 });
      channels.clientPanic.publish({ owner, service: 'api', panic: true, ejected: ['api-1', 'api-2'], passing: 3 });
      channels.clientPanic.publish({ owner, service: 'api', panic: false, ejected: [], passing: 3 });
      const got = lines().map(({ event, level, service, instance, tries, reason, pauseMs, durationMs, ejections, ejected, passing }) => ({ event, level, service, instance, tries, reason, pauseMs, durationMs, ejections, ejected, passing }));
      assert.deepEqual(got, [
        { event: 'retry', level: 30, service: 'api', instance: 'api-1', tries: 1, reason: 503, pauseMs: 25, durationMs: undefined, ejections: undefined, ejected: undefined, passing: undefined },
        { event: 'retry_refused', level: 40, service: 'api', instance: undefined, tries: 2, reason: 'retry budget spent', pauseMs: undefined, durationMs: undefined, ejections: undefined, ejected: undefined, passing: undefined },
        { event: 'ejected', level: 40, service: 'api', instance: 'api-1', tries: undefined, reason: undefined, pauseMs: undefined, durationMs: 30_000, ejections: 1, ejected: undefined, passing: undefined },
        { event: 'panic', level: 40, service: 'api', instance: undefined, tries: undefined, reason: undefined, pauseMs: undefined, durationMs: undefined, ejections: undefined, ejected: ['api-1', 'api-2'], passing: 3 },
        { event: 'panic_over', level: 30, service: 'api', instance: undefined, tries: undefined, reason: undefined, pauseMs: undefined, durationMs: undefined, ejections: undefined, ejected: undefined, passing: undefined },
      ]);
    });
  });
});

describe('audit lines of refused requests, rate-limited per address', () => {
  it("writes a refused request's lines (failure, then access) for the first N requests of an address, then one summary per window", () => {
    let time = 0;
    const log = serviceLog({ refusedLines: { perWindow: 3, windowMs: 60_000 }, now: () => time });
    for (let i = 0; i < 50; i += 1) log.request('203.0.113.9', 'fail');
    for (let i = 0; i < 2; i += 1) log.request('203.0.113.9', 'limited');
    for (let i = 0; i < 2; i += 1) log.request('192.0.2.1', 'fail');
    for (let i = 0; i < 30; i += 1) log.request('203.0.113.9', 'ok');

    const fuzzer = eventsFrom(log.lines(), '203.0.113.9');
    assert.deepEqual(fuzzer.slice(0, 6), ['auth_failed', 'access', 'auth_failed', 'access', 'auth_failed', 'access']);
    assert.equal(fuzzer.filter((event) => event === 'auth_failed').length, 3);
    assert.equal(fuzzer.filter((event) => event === 'auth_limited').length, 0, 'the 429s are within the same allowance');
    assert.equal(fuzzer.filter((event) => event === 'access').length, 3 + 30, "a caller's successful requests are never limited");
    assert.deepEqual(eventsFrom(log.lines(), '192.0.2.1'), ['auth_failed', 'access', 'auth_failed', 'access'], 'another address is unaffected');

    time = 60_000;
    log.request('203.0.113.9', 'fail');
    const summaries = log.lines().filter((line) => line.event === 'audit_suppressed');
    assert.equal(summaries.length, 1);
    assert.equal(summaries[0]!.remoteAddress, '203.0.113.9');
    assert.equal(summaries[0]!.suppressed, 49);
    assert.equal(summaries[0]!.level, 40);
    assert.match(String(summaries[0]!.msg), /suppressed the audit lines of 49 refused requests from 203\.0\.113\.9/);
    log.detach();
  });

  it('counts an IPv6 /64 as one address', () => {
    const log = serviceLog({ refusedLines: { perWindow: 2 }, now: () => 0 });
    for (let i = 1; i <= 10; i += 1) log.request(`2001:db8:1:2::${i.toString(16)}`, 'fail');
    assert.equal(log.lines().filter((line) => line.event === 'auth_failed').length, 2);
    log.detach();
  });

  it('writes what is still due when the service closes, and unauthenticated 401s without a failure line are limited too', () => {
    const log = serviceLog({ refusedLines: { perWindow: 1 }, now: () => 0 });
    for (let i = 0; i < 5; i += 1) log.request('198.51.100.3', 'anonymous');
    assert.equal(log.lines().filter((line) => line.event === 'access').length, 1);
    assert.equal(log.lines().filter((line) => line.event === 'auth_failed').length, 0, 'an anonymous request is not a failed login');
    channels.serviceState.publish({ owner: log.owner, service: 'api', instance: 'api-1', state: 'closed', forced: false, ms: 3 });
    const summary = log.lines().find((line) => line.event === 'audit_suppressed');
    assert.equal(summary?.suppressed, 4);
    log.detach();
  });

  it('writes every line with refusedLines: false', () => {
    const log = serviceLog({ refusedLines: false });
    for (let i = 0; i < 30; i += 1) log.request('203.0.113.9', 'fail');
    assert.equal(log.lines().filter((line) => line.event === 'auth_failed').length, 30);
    log.detach();
  });

  it('a 403 is written at once, never limited', () => {
    const log = serviceLog({ refusedLines: { perWindow: 1 }, now: () => 0 });
    for (let i = 0; i < 3; i += 1) {
      const base = log.facts('192.0.2.7', '/admin');
      channels.authOutcome.publish({ ...base, outcome: 'forbidden', status: 403, scheme: 'basic', reason: 'missing scope admin', principal: 'alice', principalKind: 'user' });
      log.end(base, 403, null);
    }
    const forbidden = log.lines().filter((line) => line.event === 'forbidden');
    assert.equal(forbidden.length, 3);
    assert.deepEqual({ principal: forbidden[0]!.principal, principalKind: forbidden[0]!.principalKind, reason: forbidden[0]!.reason, status: forbidden[0]!.status }, { principal: 'alice', principalKind: 'user', reason: 'missing scope admin', status: 403 });
    log.detach();
  });
});

describe('a real service\'s log', () => {
  for (const level of ['info', 'debug'] as const) {
    it(`health-check probes are access lines at debug: ${level === 'info' ? 'absent from an info log' : 'present in a debug log'}`, async () => {
      const dir = await tempDir();
      const pki = await issueTestPki(dir);
      const usersFile = await writeUsers(dir, { alice: 'a long enough password' });
      const logFile = join(dir, 'server-log.txt');
      const service = await createService({
        name: 'api',
        port: 0,
        bind: '127.0.0.1',
        tls: { certFile: pki.certFile, keyFile: pki.keyFile },
        usersFile,
        consul: false,
        drain: { delayMs: 0 },
        logger: createLogger({ name: 'server', file: logFile, level }),
      });
      const agent = new Agent({ connect: { ca: pki.caPem } });
      try {
        await service.start();
        assert.equal((await httpsGet(agent, `${service.url}/health`)).status, 200);
        assert.equal((await httpsGet(agent, `${service.url}/`, { authorization: basic('alice', 'a long enough password') })).status, 200);
      } finally {
        await agent.close();
        await service.stop();
      }
      const { lines } = await logLines(logFile, (all) => all.some((line) => line.event === 'stopped'));
      const access = lines.filter((line) => line.event === 'access').map((line) => ({ path: line.path, level: line.level }));
      assert.deepEqual(access, level === 'info' ? [{ path: '/', level: 30 }] : [{ path: '/health', level: 20 }, { path: '/', level: 30 }]);
    });
  }
});
