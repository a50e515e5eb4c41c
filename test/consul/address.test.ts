import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConsulAddress } from '../../src/consul/address.js';
import { isFarolError } from '../../src/errors.js';

describe('Consul address parsing (as api.NewClient)', () => {
  it('treats host:port without a scheme as plain HTTP', () => {
    assert.deepEqual(parseConsulAddress('127.0.0.1:8500'), {
      scheme: 'http',
      origin: 'http://127.0.0.1:8500',
      pathPrefix: '',
      display: '127.0.0.1:8500',
    });
  });

  it('honours http:// and https://', () => {
    assert.equal(parseConsulAddress('http://consul.local:8500').origin, 'http://consul.local:8500');
    const secure = parseConsulAddress('https://consul.local:8501');
    assert.equal(secure.scheme, 'https');
    assert.equal(secure.origin, 'https://consul.local:8501');
  });

  it('accepts bracketed IPv6 addresses', () => {
    assert.equal(parseConsulAddress('[::1]:8500').origin, 'http://[::1]:8500');
  });

  it('keeps a reverse-proxy path prefix after the host', () => {
    const endpoint = parseConsulAddress('https://proxy.example:443/consul/');
    assert.equal(endpoint.pathPrefix, '/consul');
    assert.equal(endpoint.origin, 'https://proxy.example');
  });

  it('maps unix:// to a socket path', () => {
    const endpoint = parseConsulAddress('unix:///var/run/consul.sock');
    assert.equal(endpoint.socketPath, '/var/run/consul.sock');
    assert.equal(endpoint.scheme, 'http');
  });

  it('trims surrounding whitespace', () => {
    assert.equal(parseConsulAddress('  127.0.0.1:8500\n').origin, 'http://127.0.0.1:8500');
  });

  it('refuses unknown schemes, empty hosts, empty and out-of-range ports with CONFIG_INVALID naming the address', () => {
    for (const bad of ['ftp://h:1', '', '   ', 'http://', 'h:', 'h:99999', 'unix://', 'h:80?x=1', '::1:8500']) {
      assert.throws(
        () => parseConsulAddress(bad),
        (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && error.message.includes(`"${bad}"`),
        JSON.stringify(bad),
      );
    }
  });

  it('round-trips any IPv4 host and port into an origin', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), fc.constantFrom('', 'http://', 'https://'), (ip, port, scheme) => {
        const endpoint = parseConsulAddress(`${scheme}${ip}:${port}`);
        const expectedScheme = scheme === 'https://' ? 'https' : 'http';
        const defaultPort = expectedScheme === 'https' ? 443 : 80;
        const host = new URL(`${expectedScheme}://${ip}`).hostname;
        assert.equal(endpoint.scheme, expectedScheme);
        assert.equal(endpoint.origin, `${expectedScheme}://${host}${port === defaultPort ? '' : `:${port}`}`);
      }),
    );
  });

  it('never throws anything but a FarolError, whatever the input', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseConsulAddress(text);
        } catch (error) {
          assert.ok(isFarolError(error, 'CONFIG_INVALID'));
        }
      }),
    );
  });
});
