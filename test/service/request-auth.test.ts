import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createEventOwner, subscribe, channels } from '../../src/events/channels.js';
import { isFarolError } from '../../src/errors.js';
import type { AuthResult, Authenticator } from '../../src/auth/index.js';
import {
  createRequestAuth,
  forbiddenAnswer,
  limitedAnswer,
  requestAuthOver,
  unauthorizedAnswer,
} from '../../src/service/index.js';

/** A token authenticator over a fixed table: `Bearer <token>` -> principal. */
function tableAuthenticator(table: Record<string, { id: string; scopes?: string[] }>): Authenticator {
  return {
    scheme: 'Bearer',
    challenge: () => 'Bearer realm="api"',
    async authenticate(req): Promise<AuthResult> {
      const header = req.headers.authorization;
      if (typeof header !== 'string') return { outcome: 'absent' };
      const entry = table[header.replace(/^Bearer /, '')];
      if (entry === undefined) return { outcome: 'rejected', status: 401, reason: 'unknown_token', challenge: 'Bearer realm="api", error="invalid_token"' };
      return { outcome: 'authenticated', principal: { kind: 'token', id: entry.id, ...(entry.scopes ? { scopes: entry.scopes } : {}) } };
    },
  };
}

/** What authenticateRequest reads of a request: no socket needed. */
function fakeRequest(headers: Record<string, string> = {}, url = '/orders?secret=1'): IncomingMessage {
  return { headers, method: 'GET', url, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
}

const chainOf = (authenticators: Authenticator[]) => ({
  authenticators,
  generation: () => 0,
  reload: async () => undefined,
  close: async () => undefined,
});

describe('authenticateRequest: credentials to a principal or an answer to send', () => {
  const owner = createEventOwner('service', 'api-test');
  const auth = requestAuthOver(chainOf([tableAuthenticator({ t1: { id: 'svc-a', scopes: ['orders:read'] }, t2: { id: 'svc-b' } })]), {
    realm: 'api',
    instance: 'api-test',
    owner,
    require: { scopes: ['orders:read'] },
  });

  it('lets an authenticated caller that meets the requirement in, with its principal', async () => {
    const outcome = await auth.authenticateRequest(fakeRequest({ authorization: 'Bearer t1' }));
    assert.deepEqual(outcome, { ok: true, principal: { kind: 'token', id: 'svc-a', scopes: ['orders:read'] } });
  });

  it('answers 401 with the challenge when credentials are missing or wrong', async () => {
    const none = await auth.authenticateRequest(fakeRequest());
    assert.equal(none.ok, false);
    assert.equal(!none.ok && none.status, 401);
    assert.deepEqual(!none.ok && none.body, { error: 'unauthorized', message: 'credentials are required' });
    const wrong = await auth.authenticateRequest(fakeRequest({ authorization: 'Bearer nope' }));
    assert.deepEqual(!wrong.ok && [wrong.status, wrong.headers, wrong.body.message], [401, { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' }, 'invalid credentials']);
  });

  it('answers 403 naming the missing scope to a token caller that lacks it, and a route may demand more', async () => {
    const lacking = await auth.authenticateRequest(fakeRequest({ authorization: 'Bearer t2' }));
    assert.equal(!lacking.ok && lacking.status, 403);
    assert.match(!lacking.ok ? lacking.headers['www-authenticate']! : '', /error="insufficient_scope", scope="orders:read"/);
    const routeDemands = await auth.authenticateRequest(fakeRequest({ authorization: 'Bearer t1' }), { route: { require: { principals: ['svc-z'] } } });
    assert.equal(!routeDemands.ok && routeDemands.status, 403);
  });

  it('publishes one auth outcome per request under its owner, with the path but not the query string', async () => {
    const seen: { outcome: string; path: string; owner: object }[] = [];
    const off = subscribe(channels.authOutcome, (e) => seen.push({ outcome: e.outcome, path: e.path, owner: e.owner }));
    try {
      await auth.authenticateRequest(fakeRequest({ authorization: 'Bearer nope' }));
    } finally {
      off();
    }
    assert.deepEqual(seen, [{ outcome: 'rejected', path: '/orders', owner }]);
  });

  it('refuses options with no way in, as CONFIG_INVALID naming the option', async () => {
    await assert.rejects(createRequestAuth({ realm: 'api' }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /usersFile/.test(error.message));
    await assert.rejects(createRequestAuth({ realm: 'not a label', authenticators: [tableAuthenticator({})] }), (error: unknown) =>
      isFarolError(error, 'CONFIG_INVALID') && /option realm/.test(error.message));
  });
});

describe('the answers to callers that are not let in', () => {
  it('401 carries the challenge only when there is one; 400 says the header is malformed', () => {
    assert.deepEqual(unauthorizedAnswer(401, '', false), { ok: false, status: 401, headers: {}, body: { error: 'unauthorized', message: 'credentials are required' } });
    assert.deepEqual(unauthorizedAnswer(401, 'Basic realm="api"', true).headers, { 'www-authenticate': 'Basic realm="api"' });
    assert.equal(unauthorizedAnswer(400, '', true).body.message, 'malformed Authorization header');
  });

  it('403 challenges a token caller for the scopes it lacks, and nobody else', () => {
    assert.deepEqual(forbiddenAnswer({ kind: 'user', id: 'alice' }, ['a'], 'api').headers, {});
    assert.deepEqual(forbiddenAnswer({ kind: 'token', id: 'svc' }, [], 'api').headers, {});
    assert.match(forbiddenAnswer({ kind: 'token', id: 'svc' }, ['a', 'b'], 'api').headers['www-authenticate']!, /^Bearer realm="api", error="insufficient_scope", scope="a b"$/);
  });

  it('429 says when to try again', () => {
    const answer = limitedAnswer(30);
    assert.deepEqual([answer.status, answer.headers], [429, { 'retry-after': '30' }]);
    assert.match(answer.body.message, /30 s/);
  });
});
