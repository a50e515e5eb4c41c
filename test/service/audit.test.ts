import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { fastify } from 'fastify';
import { createLogger } from '../../src/log/logger.js';
import type { FarolApp } from '../../src/service/app.js';
import { installAuditLog, logAuthFailure, logAuthLimited, type AuditLogOptions } from '../../src/service/audit.js';

const instance = { instanceId: 'api-1' };

/** A bare fastify app with the audit log and routes for a failed login, a limited one, an anonymous 401 and a success. */
async function auditedApp(opts: AuditLogOptions) {
  let text = '';
  const audit = createLogger({
    name: 'server',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    }),
  });
  const app = fastify({ logger: false }) as unknown as FarolApp;
  app.decorateRequest('principal', null);
  installAuditLog(app, audit, instance, opts);
  app.get('/fail', async (request, reply) => {
    logAuthFailure(audit, request, instance, { outcome: 'rejected', status: 401, reason: 'bad credentials', challenge: 'Basic', username: 'bob' });
    return reply.code(401).send({ error: 'unauthorized' });
  });
  app.get('/limited', async (request, reply) => {
    logAuthLimited(audit, request, instance, { outcome: 'limited', retryAfterSec: 1, reason: 'too many failed attempts from this address' });
    return reply.code(429).send({ error: 'too_many_requests' });
  });
  app.get('/anonymous', async (_request, reply) => reply.code(401).send({ error: 'unauthorized' }));
  app.get('/ok', async (request) => {
    request.principal = { kind: 'user', id: 'alice' };
    return { ok: true };
  });
  await app.ready();
  const lines = (): Record<string, unknown>[] => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  const get = (url: string, remoteAddress: string) => app.inject({ method: 'GET', url, remoteAddress });
  return { app, lines, get };
}

const eventsFrom = (lines: Record<string, unknown>[], address: string) => lines.filter((line) => line.remoteAddress === address).map((line) => line.event);

describe('audit log of refused requests, rate-limited per address', () => {
  it("writes a refused request's lines (failure, then access) for the first N requests of an address, then one summary per window", async () => {
    let time = 0;
    const { app, lines, get } = await auditedApp({ refusedLines: { perWindow: 3, windowMs: 60_000 }, now: () => time });
    for (let i = 0; i < 50; i += 1) assert.equal((await get('/fail', '203.0.113.9')).statusCode, 401);
    for (let i = 0; i < 2; i += 1) await get('/limited', '203.0.113.9');
    for (let i = 0; i < 2; i += 1) await get('/fail', '192.0.2.1');
    for (let i = 0; i < 30; i += 1) assert.equal((await get('/ok', '203.0.113.9')).statusCode, 200);

    const fuzzer = eventsFrom(lines(), '203.0.113.9');
    assert.deepEqual(fuzzer.slice(0, 6), ['auth_failed', 'access', 'auth_failed', 'access', 'auth_failed', 'access']);
    assert.equal(fuzzer.filter((event) => event === 'auth_failed').length, 3);
    assert.equal(fuzzer.filter((event) => event === 'auth_limited').length, 0, 'the 429s are within the same allowance');
    assert.equal(fuzzer.filter((event) => event === 'access').length, 3 + 30, "a caller's successful requests are never limited");
    assert.deepEqual(eventsFrom(lines(), '192.0.2.1'), ['auth_failed', 'access', 'auth_failed', 'access'], 'another address is unaffected');
    const failure = lines().find((line) => line.event === 'auth_failed')!;
    assert.equal(failure.username, 'bob');
    assert.equal(failure.status, 401);

    time = 60_000;
    await get('/fail', '203.0.113.9');
    const summaries = lines().filter((line) => line.event === 'audit_suppressed');
    assert.equal(summaries.length, 1);
    assert.equal(summaries[0]!.remoteAddress, '203.0.113.9');
    assert.equal(summaries[0]!.suppressed, 49);
    assert.equal(summaries[0]!.level, 40);
    assert.match(String(summaries[0]!.msg), /suppressed the audit lines of 49 refused requests from 203\.0\.113\.9/);
    await app.close();
  });

  it('counts an IPv6 /64 as one address', async () => {
    const { app, lines, get } = await auditedApp({ refusedLines: { perWindow: 2 }, now: () => 0 });
    for (let i = 1; i <= 10; i += 1) await get('/fail', `2001:db8:1:2::${i.toString(16)}`);
    assert.equal(lines().filter((line) => line.event === 'auth_failed').length, 2);
    await app.close();
  });

  it('writes what is still due when the app closes, and also unauthenticated 401s without a failure line are limited', async () => {
    const { app, lines } = await auditedApp({ refusedLines: { perWindow: 1 }, now: () => 0 });
    for (let i = 0; i < 5; i += 1) await app.inject({ method: 'GET', url: '/anonymous', remoteAddress: '198.51.100.3' });
    assert.equal(lines().filter((line) => line.event === 'access').length, 1);
    await app.close();
    const summary = lines().find((line) => line.event === 'audit_suppressed');
    assert.equal(summary?.suppressed, 4);
  });

  it('writes every line with refusedLines: false', async () => {
    const { app, lines, get } = await auditedApp({ refusedLines: false });
    for (let i = 0; i < 30; i += 1) await get('/fail', '203.0.113.9');
    assert.equal(lines().filter((line) => line.event === 'auth_failed').length, 30);
    await app.close();
  });
});
