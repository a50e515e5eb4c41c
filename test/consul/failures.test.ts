import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyTransportError, CLIENT_CERTIFICATE_HINT, errorCodes, responseError, unreachableError } from '../../src/consul/failures.js';

/** The verdict without its words (which come from src/net-errors.ts and are tested there). */
function kindAndCode(error: unknown): { kind: string; code: string } {
  const { kind, code } = classifyTransportError(error);
  return { kind, code };
}

function systemError(code: string, cause?: unknown): Error {
  return Object.assign(new Error(code, cause === undefined ? undefined : { cause }), { code });
}

describe('mapping failures to FarolErrors', () => {
  it('finds codes on causes and AggregateError members', () => {
    const nested = new Error('fetch failed', { cause: new AggregateError([systemError('ECONNREFUSED'), systemError('EHOSTUNREACH')]) });
    assert.deepEqual(errorCodes(nested), ['ECONNREFUSED', 'EHOSTUNREACH']);
  });

  it('tells connection, broken-socket and TLS failures apart', () => {
    assert.deepEqual(kindAndCode(systemError('ECONNREFUSED')), { kind: 'connect', code: 'ECONNREFUSED' });
    assert.deepEqual(kindAndCode(systemError('UND_ERR_CONNECT_TIMEOUT')), { kind: 'connect', code: 'UND_ERR_CONNECT_TIMEOUT' });
    assert.deepEqual(kindAndCode(systemError('UND_ERR_SOCKET', systemError('ECONNRESET'))), { kind: 'socket', code: 'UND_ERR_SOCKET' });
    assert.deepEqual(kindAndCode(systemError('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), {
      kind: 'tls-untrusted',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    assert.deepEqual(kindAndCode(systemError('ERR_SSL_WRONG_VERSION_NUMBER')), { kind: 'tls', code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    assert.deepEqual(kindAndCode(new Error('odd')), { kind: 'other', code: 'unknown' });
  });

  it('names every address tried and its failure in CONSUL_UNREACHABLE, with a hint to start an agent', () => {
    const error = unreachableError(
      [
        { address: '127.0.0.1:1', code: 'ECONNREFUSED' },
        { address: 'consul.invalid:8500', code: 'ENOTFOUND' },
      ],
      undefined,
    );
    assert.equal(error.code, 'CONSUL_UNREACHABLE');
    assert.equal(error.message, 'Consul is not reachable at 127.0.0.1:1 (ECONNREFUSED), consul.invalid:8500 (ENOTFOUND)');
    assert.match(error.hint ?? '', /CONSUL_HTTP_ADDR/);
  });

  it('can carry another hint, e.g. the client certificate an HTTPS agent that closed the connection may want', () => {
    const error = unreachableError([{ address: 'https://127.0.0.1:8501', code: 'UND_ERR_SOCKET' }], undefined, CLIENT_CERTIFICATE_HINT);
    assert.match(error.hint ?? '', /CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY/);
  });

  it('maps 403 to CONSUL_ACL_DENIED with a CONSUL_HTTP_TOKEN hint, and keeps Consul\'s text', () => {
    const error = responseError(
      { status: 403, body: 'Permission denied: anonymous token lacks permission \'service:write\' on "web"\n' },
      { method: 'PUT', path: '/v1/agent/service/register', address: '127.0.0.1:8500' },
    );
    assert.equal(error.code, 'CONSUL_ACL_DENIED');
    assert.match(error.message, /Permission denied: anonymous token lacks permission 'service:write' on "web"$/);
    assert.match(error.hint ?? '', /CONSUL_HTTP_TOKEN/);
  });

  it('maps any other non-2xx to CONSUL_ERROR with the status and body on one line', () => {
    const error = responseError(
      { status: 400, body: 'Invalid check:\nTTL must be > 0' },
      { method: 'PUT', path: '/v1/agent/service/register', address: '127.0.0.1:8500' },
    );
    assert.equal(error.code, 'CONSUL_ERROR');
    assert.equal(error.message, 'Consul answered 400 to PUT /v1/agent/service/register: Invalid check: TTL must be > 0');
    assert.deepEqual(error.details, { status: 400, address: '127.0.0.1:8500' });
  });
});
