import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyNetError, errorCode, errorCodes } from '../src/net-errors.js';

function coded(code: string, cause?: unknown): Error {
  return Object.assign(new Error(code, cause === undefined ? undefined : { cause }), { code });
}

describe('the transport and TLS failure classifier', () => {
  it('tells a connection never made (nothing sent) from one that broke (maybe sent)', () => {
    for (const code of ['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']) {
      assert.deepEqual({ ...classifyNetError(coded(code)), reason: '' }, { kind: 'connect', code, reason: '', neverSent: true });
    }
    for (const code of ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']) {
      const failure = classifyNetError(coded(code));
      assert.equal(failure.kind, 'socket');
      assert.equal(failure.neverSent, false);
    }
  });

  it('reads a TLS alert refusing the client certificate as the service refusing it, whatever wraps it', () => {
    for (const code of ['ERR_SSL_TLSV13_ALERT_UNKNOWN_CA', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']) {
      const wrapped = coded('UND_ERR_SOCKET', coded(code));
      assert.equal(classifyNetError(wrapped).kind, 'tls-client-rejected', code);
      assert.equal(classifyNetError(wrapped).code, code);
    }
  });

  it('reads verification failures as an untrusted peer, plain HTTP as not TLS, and the rest of TLS as a handshake failure', () => {
    assert.equal(classifyNetError(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).kind, 'tls-untrusted');
    assert.equal(classifyNetError(coded('ERR_TLS_CERT_ALTNAME_INVALID')).kind, 'tls-untrusted');
    assert.equal(classifyNetError(coded('ERR_SSL_WRONG_VERSION_NUMBER')).kind, 'tls-not-tls');
    assert.equal(classifyNetError(coded('ERR_SSL_NO_PROTOCOLS_AVAILABLE')).kind, 'tls');
  });

  it('reads timeouts and aborts, and a connect timeout as never sent', () => {
    assert.deepEqual(
      [classifyNetError(coded('UND_ERR_CONNECT_TIMEOUT')).neverSent, classifyNetError(coded('UND_ERR_HEADERS_TIMEOUT')).neverSent],
      [true, false],
    );
    assert.equal(classifyNetError(coded('UND_ERR_HEADERS_TIMEOUT')).kind, 'timeout');
    assert.equal(classifyNetError(new DOMException('stop', 'AbortError')).kind, 'aborted');
    assert.equal(classifyNetError(coded('UND_ERR_ABORTED')).kind, 'aborted');
  });

  it('finds codes on causes and AggregateError members (happy eyeballs)', () => {
    const aggregate = Object.assign(new AggregateError([coded('ECONNREFUSED'), coded('ENETUNREACH')]), {});
    assert.deepEqual(errorCodes(new Error('x', { cause: aggregate })), ['ECONNREFUSED', 'ENETUNREACH']);
    assert.equal(classifyNetError(new Error('x', { cause: aggregate })).kind, 'connect');
    assert.equal(errorCode(coded('EPIPE', coded('ECONNRESET'))), 'EPIPE');
  });

  it('classifies anything, cycles and non-errors included, without throwing', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const failure = classifyNetError(value);
        assert.equal(typeof failure.reason, 'string');
        assert.equal(typeof failure.neverSent, 'boolean');
      }),
    );
    const cyclic: { code: string; cause?: unknown } = { code: 'ECONNRESET' };
    cyclic.cause = cyclic;
    assert.equal(classifyNetError(cyclic).kind, 'socket');
  });
});
