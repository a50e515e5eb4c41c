import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isFarolError } from '../../src/errors.js';
import { resolveServiceOptions, type ServiceOptions } from '../../src/service/index.js';

const valid: ServiceOptions = { name: 'api', tls: { certFile: 'c.pem', keyFile: 'k.pem' }, usersFile: 'users.txt', consul: false };

function messageOf(options: Record<string, unknown>): string {
  try {
    resolveServiceOptions(options as unknown as ServiceOptions);
  } catch (error) {
    assert.ok(isFarolError(error, 'CONFIG_INVALID'), String(error));
    return error.message;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('service options', () => {
  it('fills in the defaults', () => {
    const resolved = resolveServiceOptions(valid);
    assert.equal(resolved.port, 4443);
    assert.equal(resolved.bind, '127.0.0.1');
    assert.equal(resolved.advertiseAddress, '127.0.0.1');
    assert.deepEqual(resolved.tags, []);
    assert.deepEqual(resolved.meta, {});
    // kind is decided from the certificate when the service is created (see planHealthCheck).
    assert.deepEqual(resolved.check, { interval: '10s', timeout: '5s', deregisterCriticalAfter: '1m', ttl: '15s', path: '/health' });
    assert.deepEqual(resolved.health, { port: 0 });
    assert.deepEqual(resolved.timeouts, { handshakeMs: 15_000, headersMs: 15_000 });
    assert.deepEqual(resolved.drain, { delayMs: 3000, timeoutMs: 30_000 });
    assert.deepEqual(resolved.keepRegistered, { intervalMs: 2000 });
  });

  it('advertises 127.0.0.1 when bound to every interface, and the bind address otherwise', () => {
    assert.equal(resolveServiceOptions({ ...valid, bind: '0.0.0.0' }).advertiseAddress, '127.0.0.1');
    assert.equal(resolveServiceOptions({ ...valid, bind: '::' }).advertiseAddress, '127.0.0.1');
    assert.equal(resolveServiceOptions({ ...valid, bind: '::1' }).advertiseAddress, '::1');
    assert.equal(resolveServiceOptions({ ...valid, bind: '0.0.0.0', advertiseAddress: '10.0.0.7' }).advertiseAddress, '10.0.0.7');
  });

  it('names the option and the rule in CONFIG_INVALID', () => {
    assert.equal(messageOf({ ...valid, port: 70000 }), 'invalid service option port: must be 0-65535');
    assert.equal(messageOf({ ...valid, port: -1 }), 'invalid service option port: must be 0-65535');
    assert.equal(messageOf({ ...valid, port: 1.5 }), 'invalid service option port: must be 0-65535');
    assert.equal(messageOf({ ...valid, port: '4443' }), 'invalid service option port: must be 0-65535');
    assert.match(messageOf({ ...valid, name: 'no spaces' }), /^invalid service option name: must be a DNS label/);
    assert.match(messageOf({ ...valid, check: { interval: 'often' } }), /^invalid service option check\.interval: must be a duration/);
    assert.equal(
      messageOf({ ...valid, check: { ttl: '999999999h' } }),
      'invalid service option check.ttl: must be a duration like 10s, 1m30s or 500ms, at most 2562047h47m16.854775807s (time: invalid duration "999999999h")',
    );
    assert.match(messageOf({ ...valid, check: { ttl: '0s' } }), /^invalid service option check\.ttl: must be more than 0/);
    assert.match(messageOf({ ...valid, check: { kind: 'tcp' } }), /^invalid service option check\.kind: must be 'https' or 'ttl'/);
    for (const path of ['health', '/health?x=1', '/he alth', '/health#top', `/${'a'.repeat(256)}`]) {
      assert.match(messageOf({ ...valid, check: { path } }), /^invalid service option check\.path: must be/, path);
    }
    assert.equal(resolveServiceOptions({ ...valid, check: { path: '/_farol/health' } }).check.path, '/_farol/health');
    assert.match(messageOf({ ...valid, meta: { scheme: 'http' } }), /^invalid service option meta\.scheme: keys .* are set by Farol/);
    assert.match(messageOf({ ...valid, meta: { 'bad key': 'x' } }), /^invalid service option meta\.bad key: keys must be/);
    assert.match(messageOf({ ...valid, tls: { certFile: 'c.pem' } }), /^invalid service option tls: /);
    assert.equal(messageOf({ ...valid, prot: 1 }), 'invalid service option prot: unknown option');
    assert.equal(messageOf({ ...valid, drain: { delayMs: -5 } }), 'invalid service option drain.delayMs: must be 0-600000 (milliseconds)');
    assert.equal(messageOf({ ...valid, drain: { timeoutMs: 1.5 } }), 'invalid service option drain.timeoutMs: must be 0-3600000 (milliseconds)');
    assert.equal(messageOf({ ...valid, keepRegistered: { intervalMs: '2s' } }), 'invalid service option keepRegistered.intervalMs: must be 0-3600000 (milliseconds)');
    assert.equal(messageOf({ ...valid, keepRegistered: { every: 1 } }), 'invalid service option keepRegistered.every: unknown option');
  });

  it('needs at least one way to authenticate callers, and lets several be combined', () => {
    const { usersFile: _unused, ...withoutUsers } = valid;
    assert.equal(
      messageOf(withoutUsers),
      'invalid service option usersFile: no way to authenticate callers: give usersFile, jwt, clientCertificates or authenticators',
    );
    const authenticator = { scheme: 'basic', challenge: () => 'Basic realm="x"', authenticate: async () => ({ outcome: 'absent' as const }) };
    assert.equal(resolveServiceOptions({ ...valid, authenticators: [authenticator] }).authenticators?.length, 1);
    assert.deepEqual(resolveServiceOptions({ ...withoutUsers, clientCertificates: { caFile: 'ca.pem' } }).clientCertificates?.ca, { file: 'ca.pem' });
    assert.deepEqual(resolveServiceOptions({ ...withoutUsers, clientCertificates: { ca: { file: 'ca.pem' } } }).clientCertificates?.ca, { file: 'ca.pem' });
    assert.deepEqual(resolveServiceOptions({ ...withoutUsers, clientCertificates: { ca: 'PEM' } }).clientCertificates?.ca, { pem: 'PEM' });
    assert.equal(
      resolveServiceOptions({ ...withoutUsers, jwt: { issuer: 'https://idp', audience: 'api', jwksUrl: 'https://idp/jwks' } }).jwt?.issuer,
      'https://idp',
    );
  });

  it('takes the listener certificate as files or PEM text, with an optional CA it must chain to', () => {
    assert.deepEqual(resolveServiceOptions(valid).tls, { keyPair: { certFile: 'c.pem', keyFile: 'k.pem' } });
    assert.deepEqual(resolveServiceOptions({ ...valid, tls: { certPem: 'C', keyPem: 'K' } }).tls, { keyPair: { certPem: 'C', keyPem: 'K' } });
    assert.deepEqual(resolveServiceOptions({ ...valid, tls: { certFile: 'c.pem', keyFile: 'k.pem', ca: { file: 'ca.pem' } } }).tls, {
      keyPair: { certFile: 'c.pem', keyFile: 'k.pem' },
      ca: { file: 'ca.pem' },
    });
    assert.deepEqual(resolveServiceOptions({ ...valid, tls: { certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem' } }).tls?.ca, { file: 'ca.pem' });
    assert.match(messageOf({ ...valid, tls: { certPem: 'C' } }), /^invalid service option tls: must be \{ certFile, keyFile \} or \{ certPem, keyPem \}/);
    assert.match(messageOf({ ...valid, tls: { certFile: 'c.pem', keyFile: 'k.pem', ca: { pem: [] } } }), /^invalid service option tls/);
    assert.match(messageOf({ ...valid, clientCertificates: { ca: { path: 'ca.pem' } } }), /ca must be PEM text, \{ pem \} or \{ file \}/);
  });

  it('wants exactly one CA for client certificates', () => {
    assert.match(messageOf({ ...valid, clientCertificates: {} }), /clientCertificates: needs exactly one of ca \(PEM\) or caFile/);
    assert.match(messageOf({ ...valid, clientCertificates: { ca: 'x', caFile: 'y' } }), /needs exactly one of ca/);
  });

  it('checks a service-wide access requirement at startup', () => {
    assert.deepEqual(resolveServiceOptions({ ...valid, require: { scopes: ['orders:read', 'orders:read'] } }).require, {
      scopes: ['orders:read'],
    });
    assert.throws(() => resolveServiceOptions({ ...valid, require: { scopes: ['not a scope'] } }), (error: unknown) =>
      isFarolError(error, 'CONFIG_INVALID'),
    );
  });

  it('accepts every port from 0 to 65535 and nothing outside', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 200_000 }), (port) => {
        const ok = port >= 0 && port <= 65535;
        try {
          assert.equal(resolveServiceOptions({ ...valid, port }).port, port);
          return ok;
        } catch (error) {
          return !ok && isFarolError(error, 'CONFIG_INVALID');
        }
      }),
    );
  });
});
