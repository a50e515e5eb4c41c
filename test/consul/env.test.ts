import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { consulOptionsFromEnv, parseGoBool } from '../../src/consul/env.js';
import { isFarolError } from '../../src/errors.js';

describe('Consul options from the environment (as the consul CLI reads them)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-consul-env-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns no options when nothing is set, leaving the client its 127.0.0.1:8500 default', () => {
    assert.deepEqual(consulOptionsFromEnv({}), {});
  });

  it('takes CONSUL_HTTP_ADDR as given, scheme included', () => {
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: '10.0.0.5:8500' }), { address: '10.0.0.5:8500' });
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: 'https://c:8501' }), { address: 'https://c:8501' });
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: 'unix:///tmp/c.sock' }), { address: 'unix:///tmp/c.sock' });
  });

  it('lets a --consul flag replace CONSUL_HTTP_ADDR while CONSUL_HTTP_SSL still applies to it, as -http-addr in Consul\'s CLI', () => {
    const env = { CONSUL_HTTP_ADDR: 'env:8501', CONSUL_HTTP_SSL: 'true', CONSUL_HTTP_TOKEN: 't' };
    assert.deepEqual(consulOptionsFromEnv(env, { address: 'flag:8501' }), { address: 'https://flag:8501', token: 't' });
    assert.equal(consulOptionsFromEnv(env, { address: ['a:1', 'http://b:2'] }).address?.toString(), 'https://a:1,https://b:2');
    assert.equal(consulOptionsFromEnv(env, { address: undefined }).address, 'https://env:8501');
    assert.equal(consulOptionsFromEnv({}, { address: 'flag:8500' }).address, 'flag:8500');
  });

  it('switches to https for CONSUL_HTTP_SSL=true, never reverting an explicit request for TLS', () => {
    assert.equal(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: 'c:8501', CONSUL_HTTP_SSL: 'true' }).address, 'https://c:8501');
    assert.equal(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: 'http://c:8501', CONSUL_HTTP_SSL: '1' }).address, 'https://c:8501');
    assert.equal(consulOptionsFromEnv({ CONSUL_HTTP_SSL: 'T' }).address, 'https://127.0.0.1:8500');
    assert.equal(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: 'c:8500', CONSUL_HTTP_SSL: 'false' }).address, 'c:8500');
  });

  it('refuses a CONSUL_HTTP_SSL that is not a Go boolean, naming the variable', () => {
    assert.throws(
      () => consulOptionsFromEnv({ CONSUL_HTTP_SSL: 'yes' }),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && error.message.includes('CONSUL_HTTP_SSL'),
    );
  });

  it('refuses CONSUL_HTTP_SSL_VERIFY=false instead of turning verification off', () => {
    assert.throws(
      () => consulOptionsFromEnv({ CONSUL_HTTP_SSL_VERIFY: 'false' }),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && /CONSUL_CACERT/.test(error.hint ?? ''),
    );
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_HTTP_SSL_VERIFY: 'true' }), {});
  });

  it('reads the ACL token from CONSUL_HTTP_TOKEN', () => {
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_HTTP_TOKEN: 'secret-id' }), { token: 'secret-id' });
  });

  it('prefers CONSUL_HTTP_TOKEN_FILE (trimmed) over CONSUL_HTTP_TOKEN, like Consul', async () => {
    const file = join(dir, 'token');
    await writeFile(file, '  from-file\n');
    assert.equal(consulOptionsFromEnv({ CONSUL_HTTP_TOKEN_FILE: file, CONSUL_HTTP_TOKEN: 'from-env' }).token, 'from-file');
  });

  it('reports an unreadable CONSUL_HTTP_TOKEN_FILE by name', () => {
    assert.throws(
      () => consulOptionsFromEnv({ CONSUL_HTTP_TOKEN_FILE: join(dir, 'missing') }),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && error.message.includes('CONSUL_HTTP_TOKEN_FILE'),
    );
  });

  it('collects the TLS files and the server name, dropping a port from the name', () => {
    assert.deepEqual(
      consulOptionsFromEnv({
        CONSUL_CACERT: '/etc/consul/ca.pem',
        CONSUL_CLIENT_CERT: '/etc/consul/cli.pem',
        CONSUL_CLIENT_KEY: '/etc/consul/cli-key.pem',
        CONSUL_TLS_SERVER_NAME: 'server.dc1.consul:8501',
      }).tls,
      {
        ca: { file: '/etc/consul/ca.pem' },
        clientCertificate: { certFile: '/etc/consul/cli.pem', keyFile: '/etc/consul/cli-key.pem' },
        serverName: 'server.dc1.consul',
      },
    );
    assert.equal(consulOptionsFromEnv({ CONSUL_TLS_SERVER_NAME: '[::1]:8501' }).tls?.serverName, '::1');
  });

  it('reads PEM certificates from CONSUL_CAPATH when CONSUL_CACERT is not set', async () => {
    const caDir = join(dir, 'cas');
    await mkdir(caDir);
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    await writeFile(join(caDir, 'a.pem'), pem);
    await writeFile(join(caDir, 'README'), 'not a certificate');
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_CAPATH: caDir }).tls?.ca, { pem });
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_CAPATH: caDir, CONSUL_CACERT: '/ca.pem' }).tls, { ca: { file: '/ca.pem' } });
  });

  it('ignores empty variables, as Consul does', () => {
    assert.deepEqual(consulOptionsFromEnv({ CONSUL_HTTP_ADDR: '', CONSUL_HTTP_TOKEN: '', CONSUL_CACERT: '', CONSUL_HTTP_SSL: '' }), {});
  });

  it("parses booleans exactly like Go's strconv.ParseBool", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), (text) => {
        const expected = ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)
          ? true
          : ['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)
            ? false
            : undefined;
        assert.equal(parseGoBool(text), expected);
      }),
    );
    assert.equal(parseGoBool('tRuE'), undefined);
  });
});
