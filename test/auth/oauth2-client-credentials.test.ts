import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  clientSecretBasic,
  discoveryUrls,
  oauth2ClientCredentials,
  type OAuth2ClientCredentials,
  type OAuth2ClientCredentialsOptions,
} from '../../src/auth/oauth2-client-credentials.js';
import { isFarolError, type FarolError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { createCertificateAuthority, issueCertificate, type PemPair } from '../../src/pki/index.js';
import { startAuthorizationServer, type RunningAuthorizationServer } from '../support/authorization-server.js';

/** A clock the test moves; starts at the real time so tokens from the real server line up. */
function testClock(): { now: () => number; advance: (ms: number) => void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => (offset += ms) };
}

function bearerToken(header: string): string {
  assert.match(header, /^Bearer [A-Za-z0-9\-._~+/]+=*$/);
  return header.slice('Bearer '.length);
}

/** Everything an error exposes: message, hint, details and causes, as a log line with --debug would show. */
function everythingIn(error: unknown): string {
  const farol = error as FarolError;
  return `${farol.message}\n${farol.hint ?? ''}\n${JSON.stringify(farol.details ?? {})}\n${inspect(error, { depth: null })}`;
}

interface Stub {
  url: string;
  close: () => Promise<void>;
}

/** An HTTPS server on 127.0.0.1 with a certificate from `ca`, answering as `handler` says. */
async function startStub(ca: PemPair, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Stub> {
  const leaf = await issueCertificate(ca, { commonName: '127.0.0.1', usage: 'server', ipAddresses: ['127.0.0.1'] });
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, handler);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe('oauth2ClientCredentials against a real authorization server (oidc-provider)', () => {
  let authority: PemPair;
  let as: RunningAuthorizationServer;
  const providers: OAuth2ClientCredentials[] = [];

  before(async () => {
    authority = await createCertificateAuthority({ commonName: 'Farol OAuth2 test CA' });
    as = await startAuthorizationServer({ ca: authority, otherAudiences: ['https://billing.service.consul'], accessTokenTtlSec: 300 });
  });
  after(async () => {
    await as.stop();
  });
  beforeEach(() => {
    as.resetCounters();
    as.setAccessTokenTtl(300);
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((provider) => provider.close()));
  });

  function provider(over: Partial<OAuth2ClientCredentialsOptions> = {}): OAuth2ClientCredentials {
    const client = as.clients[0]!;
    const made = oauth2ClientCredentials({
      tokenEndpoint: as.tokenEndpoint,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      ca: as.ca,
      ...over,
    });
    providers.push(made);
    return made;
  }

  function remoteJwks(opts: { cooldownDuration?: number } = {}) {
    // jose fetches the JWKS through undici with an Agent that trusts only the test CA.
    return createRemoteJWKSet(new URL(as.jwksUri), { [customFetch]: as.fetch, ...opts });
  }

  it('gets a JWT access token for the audience and scope, and serves it from the cache', async () => {
    const credentials = provider({ scope: 'orders:read' });
    const first = await credentials.authorization();
    for (let i = 0; i < 20; i += 1) assert.equal(await credentials.authorization(), first);
    assert.equal(as.tokenRequests, 1);

    const token = bearerToken(first);
    assert.equal(decodeProtectedHeader(token).kid, as.currentKey.kid);
    const { payload, protectedHeader } = await jwtVerify(token, remoteJwks(), { issuer: as.issuer, audience: as.audience, typ: 'at+jwt' });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.client_id, as.clients[0]!.clientId);
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.exp! - payload.iat!, 300);
  });

  it('asks for a list of scopes in one scope parameter', async () => {
    const token = bearerToken(await provider({ scope: ['orders:read', 'orders:write'] }).authorization());
    assert.equal(decodeJwt(token).scope, 'orders:read orders:write');
  });

  it('sends audience as the RFC 8707 resource, which becomes the token aud', async () => {
    const token = bearerToken(await provider({ audience: 'https://billing.service.consul' }).authorization());
    const { payload } = await jwtVerify(token, remoteJwks(), { issuer: as.issuer, audience: 'https://billing.service.consul' });
    assert.equal(payload.aud, 'https://billing.service.consul');
  });

  it('50 concurrent calls share one token request', async () => {
    const credentials = provider();
    const headers = await Promise.all(Array.from({ length: 50 }, () => credentials.authorization()));
    assert.equal(new Set(headers).size, 1);
    assert.equal(as.tokenRequests, 1);
  });

  it('refreshes refreshSkewSec before expiry, once for all the callers that arrive then', async () => {
    const clock = testClock();
    const credentials = provider({ now: clock.now, refreshSkewSec: 30 });
    const first = await credentials.authorization();
    clock.advance(269_000);
    assert.equal(await credentials.authorization(), first);
    assert.equal(as.tokenRequests, 1);

    clock.advance(2_000); // 271 s of 300: inside the last 30 s
    const refreshed = await Promise.all(Array.from({ length: 20 }, () => credentials.authorization()));
    assert.equal(new Set(refreshed).size, 1);
    assert.notEqual(refreshed[0], first);
    assert.equal(as.tokenRequests, 2);
  });

  it('refreshes a short-lived token at half its lifetime rather than refreshSkewSec before expiry', async () => {
    as.setAccessTokenTtl(2);
    const clock = testClock();
    const credentials = provider({ now: clock.now, refreshSkewSec: 30 });
    const first = await credentials.authorization();
    assert.equal(decodeJwt(bearerToken(first)).exp! - decodeJwt(bearerToken(first)).iat!, 2);
    clock.advance(900);
    assert.equal(await credentials.authorization(), first);
    clock.advance(200);
    assert.notEqual(await credentials.authorization(), first);
    assert.equal(as.tokenRequests, 2);
  });

  it('invalidate(rejected) makes the next call fetch a new token', async () => {
    const credentials = provider();
    const first = await credentials.authorization();
    credentials.invalidate(first);
    const second = await credentials.authorization();
    assert.notEqual(second, first);
    assert.equal(as.tokenRequests, 2);
  });

  it('a late 401 for an older token does not discard the newer one', async () => {
    const credentials = provider();
    const old = await credentials.authorization();
    credentials.invalidate(old);
    const fresh = await credentials.authorization();
    credentials.invalidate(old);
    credentials.invalidate('Bearer something-else');
    assert.equal(await credentials.authorization(), fresh);
    assert.equal(as.tokenRequests, 2);
  });

  it('a wrong secret is an AUTH_REJECTED naming invalid_client, with the secret nowhere in the error', async () => {
    const wrongSecret = 'wr0ng-secret-that-must-never-show';
    const clock = testClock();
    const credentials = provider({ clientSecret: wrongSecret, now: clock.now });
    const error = await credentials.authorization().then(
      () => assert.fail('a wrong secret got a token'),
      (caught: unknown) => caught,
    );
    assert.ok(isFarolError(error, 'AUTH_REJECTED'), inspect(error));
    assert.match(error.message, /refused the client credentials of 'orders-client': invalid_client/);
    assert.match(error.hint ?? '', /client id and secret/);
    const exposed = everythingIn(error);
    for (const secret of [wrongSecret, as.clients[0]!.clientSecret, Buffer.from(wrongSecret).toString('base64'), clientSecretBasic('orders-client', wrongSecret)]) {
      assert.ok(!exposed.includes(secret), `the error shows ${secret}`);
    }

    // Not cached as a result: after the backoff the next call asks again.
    assert.equal(as.tokenRequests, 1);
    await assert.rejects(credentials.authorization(), (again: unknown) => again === error);
    assert.equal(as.tokenRequests, 1, 'a call within the backoff does not hit the server');
    clock.advance(600);
    await assert.rejects(credentials.authorization(), (again: unknown) => isFarolError(again, 'AUTH_REJECTED') && again !== error);
    assert.equal(as.tokenRequests, 2);
  });

  it('client_secret_post sends the credentials in the form', async () => {
    const postClient = as.clients[1]!;
    assert.equal(postClient.authMethod, 'client_secret_post');
    const header = await provider({ clientId: postClient.clientId, clientSecret: postClient.clientSecret, authMethod: 'client_secret_post' }).authorization();
    assert.equal(decodeJwt(bearerToken(header)).client_id, postClient.clientId);
  });

  it('form-encodes client id and secret for client_secret_basic as RFC 6749 §2.3.1 says', async () => {
    // Any VSCHAR (RFC 6749 Appendix A), including the ':', '+', '%' and space that need the encoding.
    const odd = await as.addClient({ clientId: 'odd:client id+1', clientSecret: 'p@ss:w rd+/=%&"~' });
    const header = await provider({ clientId: odd.clientId, clientSecret: odd.clientSecret }).authorization();
    assert.equal(decodeJwt(bearerToken(header)).client_id, odd.clientId);
  });

  it('discovers the token endpoint from the issuer', async () => {
    const credentials = provider({ tokenEndpoint: undefined, issuer: as.issuer });
    const { payload } = await jwtVerify(bearerToken(await credentials.authorization()), remoteJwks(), { issuer: as.issuer, audience: as.audience });
    assert.equal(payload.client_id, as.clients[0]!.clientId);
    assert.equal(as.tokenRequests, 1);
  });

  it('refuses a discovery document that names another issuer', async () => {
    await assert.rejects(
      provider({ tokenEndpoint: undefined, issuer: `${as.issuer}/` }).authorization(),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && error.message.includes(`names '${as.issuer}', not the configured issuer '${as.issuer}/'`),
    );
    assert.equal(as.tokenRequests, 0);
  });

  it('falls back to the RFC 8414 document when there is no OpenID configuration', async () => {
    let issuer = '';
    const metadata = await startStub(authority, (req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer, token_endpoint: as.tokenEndpoint }));
      } else res.writeHead(404).end();
    });
    issuer = metadata.url;
    try {
      const header = await provider({ tokenEndpoint: undefined, issuer }).authorization();
      assert.equal(decodeJwt(bearerToken(header)).iss, as.issuer);
    } finally {
      await metadata.close();
    }
  });

  it('an unreachable server is a REQUEST_FAILED; it is asked again after the backoff and the provider recovers', async () => {
    const clock = testClock();
    const credentials = provider({ now: clock.now });
    await as.suspend();
    try {
      const error = await credentials.authorization().then(
        () => assert.fail('got a token from a stopped server'),
        (caught: unknown) => caught,
      );
      assert.ok(isFarolError(error, 'REQUEST_FAILED'), inspect(error));
      assert.match(error.message, /could not reach the authorization server at https:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)/);
      await assert.rejects(credentials.authorization(), (again: unknown) => again === error);
    } finally {
      await as.resume();
    }
    clock.advance(600);
    await credentials.authorization();
    assert.equal(as.tokenRequests, 1);
  });

  it('keeps using a token that has not expired while its replacement cannot be had', async () => {
    const clock = testClock();
    const credentials = provider({ now: clock.now, refreshSkewSec: 30 });
    const held = await credentials.authorization();
    await as.suspend();
    try {
      clock.advance(280_000); // due for refresh, 20 s left
      assert.equal(await credentials.authorization(), held);
      clock.advance(21_000); // expired
      await assert.rejects(credentials.authorization(), (error: unknown) => isFarolError(error, 'REQUEST_FAILED'));
    } finally {
      await as.resume();
    }
  });

  it('a server whose certificate is not from the given CA is TLS_UNTRUSTED (verification is never skipped)', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'Some other CA' });
    for (const ca of [otherCa.certPem, undefined]) {
      await assert.rejects(
        provider({ ca }).authorization(),
        (error: unknown) => isFarolError(error, 'TLS_UNTRUSTED') && /certificate of the authorization server at https:\/\/127\.0\.0\.1:\d+ is not trusted/.test(error.message),
      );
    }
    assert.equal(as.tokenRequests, 0);
  });

  it('an unknown resource is an AUTH_REJECTED naming invalid_target', async () => {
    await assert.rejects(
      provider({ resource: 'https://unknown.service.consul' }).authorization(),
      (error: unknown) => isFarolError(error, 'AUTH_REJECTED') && /refused the requested resource 'https:\/\/unknown\.service\.consul': invalid_target/.test(error.message),
    );
  });

  it('after rotateKeys() new tokens carry the new kid and verify through the same remote JWKS', async () => {
    const jwks = remoteJwks({ cooldownDuration: 0 });
    const credentials = provider();
    const before = await credentials.authorization();
    await jwtVerify(bearerToken(before), jwks, { issuer: as.issuer, audience: as.audience });
    const oldKid = decodeProtectedHeader(bearerToken(before)).kid;

    const rotated = await as.rotateKeys();
    assert.notEqual(rotated.kid, oldKid);
    assert.deepEqual(as.servedKeys.map((key) => key.kid), [rotated.kid, oldKid]);
    credentials.invalidate(before);
    const afterRotation = await credentials.authorization();
    assert.equal(decodeProtectedHeader(bearerToken(afterRotation)).kid, rotated.kid);
    const jwksFetches = as.jwksRequests;
    await jwtVerify(bearerToken(afterRotation), jwks, { issuer: as.issuer, audience: as.audience });
    assert.equal(as.jwksRequests, jwksFetches + 1, 'the unknown kid made jose fetch the JWKS again');
    // 'keep' (the default): the old key still verifies the tokens it signed.
    await jwtVerify(bearerToken(before), jwks, { issuer: as.issuer, audience: as.audience });

    await as.rotateKeys({ previous: 'drop' });
    await assert.rejects(jwtVerify(bearerToken(before), remoteJwks(), { issuer: as.issuer, audience: as.audience }), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('logs each token fetch and failure without the token or the secret', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger({ name: 'client', destination });
    const header = await provider({ logger }).authorization();
    await provider({ logger, clientSecret: 'logged-never-secret' }).authorization().catch(() => undefined);
    logger.flush();
    const log = lines.join('');
    assert.match(log, /"event":"oauth2_token"/);
    assert.match(log, /"event":"oauth2_token_failed".*"code":"AUTH_REJECTED"/);
    for (const secret of [bearerToken(header), as.clients[0]!.clientSecret, 'logged-never-secret']) assert.ok(!log.includes(secret), `the log shows ${secret}`);
  });

  it('a server with no errors of its own through all of the above', () => {
    assert.deepEqual(as.serverErrors, []);
  });
});

describe('oauth2ClientCredentials against misbehaving servers', () => {
  let authority: PemPair;
  let stub: Stub;
  let answer: (req: IncomingMessage, res: ServerResponse) => void;
  let tokenRequests = 0;
  const providers: OAuth2ClientCredentials[] = [];

  before(async () => {
    authority = await createCertificateAuthority({ commonName: 'Farol stub CA' });
    stub = await startStub(authority, (req, res) => {
      tokenRequests += 1;
      answer(req, res);
    });
  });
  after(async () => {
    await stub.close();
  });
  beforeEach(() => {
    tokenRequests = 0;
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((provider) => provider.close()));
  });

  function provider(over: Partial<OAuth2ClientCredentialsOptions> = {}): OAuth2ClientCredentials {
    const made = oauth2ClientCredentials({ tokenEndpoint: `${stub.url}/token`, clientId: 'c', clientSecret: 'stub-secret', ca: authority.certPem, ...over });
    providers.push(made);
    return made;
  }

  function json(status: number, body: unknown): (req: IncomingMessage, res: ServerResponse) => void {
    return (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
  }

  it('treats a token without expires_in as valid for 60 s (refreshed after 30)', async () => {
    let n = 0;
    answer = (_req, res) => {
      n += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `token-${n}`, token_type: 'bearer' }));
    };
    const clock = testClock();
    const credentials = provider({ now: clock.now });
    assert.equal(await credentials.authorization(), 'Bearer token-1');
    clock.advance(29_000);
    assert.equal(await credentials.authorization(), 'Bearer token-1');
    clock.advance(2_000);
    assert.equal(await credentials.authorization(), 'Bearer token-2');
  });

  it('an answer that is not JSON, not a token, or a 5xx is a REQUEST_FAILED saying which', async () => {
    const cases: Array<[(req: IncomingMessage, res: ServerResponse) => void, RegExp]> = [
      [(_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'), /answered the token request with something other than JSON/],
      [json(200, { access_token: 'abc', token_type: 'DPoP', expires_in: 60 }), /unusable token response: its token_type is 'DPoP'/],
      [json(200, { access_token: 'abc def', token_type: 'Bearer' }), /unusable token response: its access_token has characters/],
      [json(200, { access_token: 'abc', token_type: 'Bearer', expires_in: -1 }), /unusable token response: its expires_in is not a positive number/],
      [(_req, res) => res.writeHead(503).end('busy'), /answered HTTP 503 to the token request/],
      [(_req, res) => res.writeHead(404).end(), /answered HTTP 404 to the token request/],
    ];
    for (const [handler, message] of cases) {
      answer = handler;
      await assert.rejects(provider().authorization(), (error: unknown) => isFarolError(error, 'REQUEST_FAILED') && message.test(error.message));
    }
  });

  it('an error description that echoes the secret is redacted', async () => {
    answer = json(401, { error: 'invalid_client', error_description: 'secret stub-secret is wrong; in base64 c3R1Yi1zZWNyZXQ=' });
    const error = await provider().authorization().then(
      () => assert.fail('got a token'),
      (caught: unknown) => caught,
    );
    assert.ok(isFarolError(error, 'AUTH_REJECTED'));
    assert.match(error.message, /invalid_client \(secret \[redacted\] is wrong; in base64 \[redacted\]\)/);
    assert.ok(!everythingIn(error).includes('stub-secret'));
  });

  it('a server that does not answer in time is a TIMEOUT', async () => {
    answer = () => undefined; // never answers; the stub's close() destroys the socket
    await assert.rejects(provider({ timeoutMs: 200 }).authorization(), (error: unknown) => isFarolError(error, 'TIMEOUT') && /did not answer within 200 ms/.test(error.message));
  });

  it('a failure after a success leaves the cached token in place for its callers', async () => {
    answer = json(200, { access_token: 'good', token_type: 'Bearer', expires_in: 100 });
    const clock = testClock();
    const credentials = provider({ now: clock.now });
    assert.equal(await credentials.authorization(), 'Bearer good');
    answer = json(500, { error: 'server_error' });
    clock.advance(80_000);
    assert.equal(await credentials.authorization(), 'Bearer good');
    assert.equal(tokenRequests, 2);
  });
});

describe('oauth2ClientCredentials options', () => {
  const base = { clientId: 'orders-client', clientSecret: 'a-secret-never-shown', tokenEndpoint: 'https://as.example/token' };

  it('refuses bad options with CONFIG_INVALID, naming the option and never the secret', () => {
    const bad: Array<[Partial<OAuth2ClientCredentialsOptions>, RegExp]> = [
      [{ tokenEndpoint: undefined }, /exactly one of them/],
      [{ issuer: 'https://as.example' }, /exactly one of them/],
      [{ tokenEndpoint: 'http://as.example/token' }, /tokenEndpoint must be an https URL/],
      [{ tokenEndpoint: 'https://user:pw@as.example/token' }, /must not carry credentials/],
      [{ tokenEndpoint: 'not a url' }, /tokenEndpoint is not a URL/],
      [{ tokenEndpoint: undefined, issuer: 'https://as.example/?tenant=1' }, /issuer must not have a query/],
      [{ clientId: '' }, /clientId is empty/],
      [{ clientSecret: '' }, /clientSecret is empty/],
      [{ scope: ['orders:read', 'has space'] }, /the scope 'has space' has characters/],
      [{ scope: 'quo"te' }, /has characters a scope cannot contain/],
      [{ resource: 'https://a.example', audience: 'https://b.example' }, /two different services/],
      [{ resource: 'https://a.example/#x' }, /must not have a #fragment/],
      [{ refreshSkewSec: -1 }, /refreshSkewSec must be zero or a positive number/],
      [{ timeoutMs: 0 }, /timeoutMs must be a positive number/],
      [{ ca: 'not a pem' }, /ca option is not a PEM certificate/],
      [{ authMethod: 'private_key_jwt' as never }, /unknown OAuth2 authMethod 'private_key_jwt'/],
    ];
    for (const [over, message] of bad) {
      assert.throws(
        () => oauth2ClientCredentials({ ...base, ...over }),
        (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && message.test(error.message) && !everythingIn(error).includes(base.clientSecret),
        `${JSON.stringify(over)} should be refused with ${message}`,
      );
    }
  });

  it('allows plain http only to a loopback address', async () => {
    for (const tokenEndpoint of ['http://127.0.0.1:9/token', 'http://localhost:9/token', 'http://[::1]:9/token']) {
      await oauth2ClientCredentials({ ...base, tokenEndpoint }).close();
    }
  });

  it('client_secret_basic decodes back to the id and secret, whatever characters they have', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'grapheme' }), fc.string({ minLength: 1, unit: 'grapheme' }), (id, secret) => {
        const header = clientSecretBasic(id, secret);
        const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
        assert.equal(formDecode(decoded.slice(0, colon)), id);
        assert.equal(formDecode(decoded.slice(colon + 1)), secret);
      }),
    );
  });

  it('looks for discovery documents where OpenID Connect and RFC 8414 put them', () => {
    assert.deepEqual(discoveryUrls('https://as.example'), ['https://as.example/.well-known/openid-configuration', 'https://as.example/.well-known/oauth-authorization-server']);
    assert.deepEqual(discoveryUrls('https://as.example/tenant/1/'), [
      'https://as.example/tenant/1/.well-known/openid-configuration',
      'https://as.example/.well-known/oauth-authorization-server/tenant/1',
    ]);
  });
});
