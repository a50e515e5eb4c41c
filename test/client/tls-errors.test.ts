import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FarolError } from '../../src/errors.js';
import { errorCode, requestFailureToFarolError } from '../../src/client/tls-errors.js';

const ctx = { service: 'api', target: '127.0.0.1:4443', expectedName: '127.0.0.1', timeoutMs: 2000 };

/** An error shaped as Node and undici raise them: a message and a string code. */
function systemError(code: string, message = `failure ${code}`, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

describe('mapping request failures to Farol errors', () => {
  for (const code of [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  ]) {
    it(`reports ${code} as an untrusted certificate with the --ca hint`, () => {
      const error = requestFailureToFarolError(systemError(code), ctx);
      assert.equal(error.code, 'TLS_UNTRUSTED');
      assert.match(error.message, /^the certificate of 'api' at 127\.0\.0\.1:4443 is not trusted: /);
      assert.ok(error.message.includes(code));
      assert.equal(error.hint, "pass the CA that signed the service's certificate with --ca (farol certs init writes certs/ca.pem)");
    });
  }

  it('says a service that asks for a client certificate refused the caller, not the other way round', () => {
    const required = requestFailureToFarolError(systemError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), ctx);
    assert.equal(required.code, 'AUTH_REJECTED');
    assert.match(required.message, /^'api' at 127\.0\.0\.1:4443 requires a client certificate/);
    assert.match(required.hint ?? '', /--cert\/--key/);
    const unknownCa = requestFailureToFarolError(systemError('ERR_SSL_TLSV13_ALERT_UNKNOWN_CA'), ctx);
    assert.equal(unknownCa.code, 'AUTH_REJECTED');
    assert.match(unknownCa.message, /^the service refused the client certificate: .*does not trust the CA of the client certificate/);
  });

  it('says a self-signed certificate is self-signed', () => {
    assert.match(requestFailureToFarolError(systemError('DEPTH_ZERO_SELF_SIGNED_CERT'), ctx).message, /self-signed/);
  });

  it('reports a name mismatch naming the host the certificate lacks, with the --server-name hint', () => {
    const cause = systemError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", {
      host: 'api.service.consul',
      reason: "Host: api.service.consul. is not in the cert's altnames: DNS:localhost",
    });
    const error = requestFailureToFarolError(cause, ctx);
    assert.equal(error.code, 'TLS_UNTRUSTED');
    assert.equal(error.message, "the certificate of 'api' at 127.0.0.1:4443 does not name api.service.consul");
    assert.equal(
      error.hint,
      'the certificate does not name api.service.consul; use --server-name or issue one that does: farol certs issue --dir certs --service api --host <name> --force',
    );
    assert.equal(error.cause, cause);
  });

  it('falls back to the expected name when the mismatch error does not carry one', () => {
    const error = requestFailureToFarolError(systemError('ERR_TLS_CERT_ALTNAME_INVALID'), ctx);
    assert.match(error.message, /does not name 127\.0\.0\.1$/);
  });

  it('tells an expired certificate from a not-yet-valid one', () => {
    const expired = requestFailureToFarolError(systemError('CERT_HAS_EXPIRED'), ctx);
    const early = requestFailureToFarolError(systemError('CERT_NOT_YET_VALID'), ctx);
    assert.equal(expired.code, 'TLS_UNTRUSTED');
    assert.match(expired.message, /has expired$/);
    assert.match(expired.hint ?? '', /farol certs renew/);
    assert.doesNotMatch(expired.hint ?? '', /certs init|replace-ca/, 'an expired leaf never calls for a new CA');
    assert.equal(early.code, 'TLS_UNTRUSTED');
    assert.match(early.message, /is not valid yet$/);
    assert.match(early.hint ?? '', /clock/);
  });

  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']) {
    it(`reports ${code} as a failed request naming the instance`, () => {
      const error = requestFailureToFarolError(systemError(code), ctx);
      assert.equal(error.code, 'REQUEST_FAILED');
      assert.match(error.message, /^could not reach 'api' at 127\.0\.0\.1:4443: /);
      assert.ok(error.message.includes(code));
    });
  }

  for (const code of ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
    it(`reports ${code} as a timeout with the limit`, () => {
      const error = requestFailureToFarolError(systemError(code), ctx);
      assert.equal(error.code, 'TIMEOUT');
      assert.match(error.message, /within 2000 ms/);
      assert.match(error.hint ?? '', /--timeout/);
    });
  }

  it('reports plain HTTP on the port as a failed request, not a trust problem', () => {
    const error = requestFailureToFarolError(systemError('ERR_SSL_WRONG_VERSION_NUMBER'), ctx);
    assert.equal(error.code, 'REQUEST_FAILED');
    assert.match(error.message, /did not answer with TLS/);
  });

  it('reports an abort as ABORTED', () => {
    assert.equal(requestFailureToFarolError(systemError('UND_ERR_ABORTED'), ctx).code, 'ABORTED');
    assert.equal(requestFailureToFarolError(new DOMException('stopped', 'AbortError'), ctx).code, 'ABORTED');
  });

  it('finds the code on a wrapped cause', () => {
    const wrapped = new Error('fetch failed', { cause: systemError('CERT_HAS_EXPIRED') });
    assert.equal(errorCode(wrapped), 'CERT_HAS_EXPIRED');
    assert.equal(requestFailureToFarolError(wrapped, ctx).code, 'TLS_UNTRUSTED');
  });

  it('passes a FarolError through unchanged', () => {
    const original = new FarolError('NO_HEALTHY_INSTANCE', 'none');
    assert.equal(requestFailureToFarolError(original, ctx), original);
  });

  it('always gives a one-line message with a hint for any failure', () => {
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: undefined }), fc.string(), (code, message) => {
        const cause = code === undefined ? new Error(message) : systemError(code, message);
        const error = requestFailureToFarolError(cause, ctx);
        assert.ok(error instanceof FarolError);
        assert.ok(!/[\r\n]/.test(error.message), error.message);
        assert.ok(['TLS_UNTRUSTED', 'REQUEST_FAILED', 'TIMEOUT', 'ABORTED'].includes(error.code));
        if (error.code !== 'ABORTED') assert.ok(error.hint && error.hint.length > 0);
      }),
    );
  });
});
