import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { callCredentials, type CredentialFlags } from '../../src/cli/commands/call-credentials.js';
import type { CliContext } from '../../src/cli/run.js';
import { isFarolError } from '../../src/errors.js';

function context(env: NodeJS.ProcessEnv): CliContext {
  return {
    io: { stdout: () => undefined, stderr: () => undefined, stdin: Readable.from([]), env, isTTY: false },
    debug: () => false,
    setExitCode: () => undefined,
  };
}

const configError = (error: unknown): boolean => isFarolError(error, 'CONFIG_INVALID');

describe('farol call credentials (from flags and the environment, never argv)', () => {
  it('--user sends Basic with the password from FAROL_PASSWORD', async () => {
    const who = await callCredentials({ user: 'alice' }, context({ FAROL_PASSWORD: 'pw' }));
    assert.equal(await who.provider?.authorization(), `Basic ${Buffer.from('alice:pw').toString('base64')}`);
    assert.equal(who.label, "user 'alice'");
  });

  it('--token sends the bearer token from FAROL_TOKEN, trimmed of a trailing newline', async () => {
    const who = await callCredentials({ token: true }, context({ FAROL_TOKEN: 'abc.def.ghi\n' }));
    assert.equal(await who.provider?.authorization(), 'Bearer abc.def.ghi');
  });

  it('asks for the missing secret, and says which variable to set when there is no terminal', async () => {
    for (const [flags, variable] of [
      [{ user: 'alice' }, 'FAROL_PASSWORD'],
      [{ token: true }, 'FAROL_TOKEN'],
      [{ oauthIssuer: 'https://idp.example', clientId: 'billing' }, 'FAROL_CLIENT_SECRET'],
    ] as [CredentialFlags, string][]) {
      await assert.rejects(callCredentials(flags, context({})), (error: unknown) => {
        assert.ok(isFarolError(error, 'PASSWORD_REQUIRED'), String(error));
        assert.match(error.hint ?? '', new RegExp(variable));
        return true;
      });
    }
  });

  it('refuses two ways of sending credentials at once', async () => {
    await assert.rejects(callCredentials({ user: 'alice', token: true }, context({ FAROL_PASSWORD: 'pw' })), configError);
    await assert.rejects(callCredentials({ token: true, clientId: 'billing' }, context({ FAROL_TOKEN: 't' })), configError);
    await assert.rejects(callCredentials({ clientId: 'billing' }, context({ FAROL_USER: 'alice', FAROL_PASSWORD: 'pw' })), configError);
  });

  it('needs --client-id and exactly one of --oauth-issuer or --oauth-token-url for OAuth2', async () => {
    const env = { FAROL_CLIENT_SECRET: 's' };
    await assert.rejects(callCredentials({ oauthIssuer: 'https://idp.example' }, context(env)), configError);
    await assert.rejects(
      callCredentials({ oauthIssuer: 'https://idp.example', oauthTokenUrl: 'https://idp.example/token', clientId: 'x' }, context(env)),
      configError,
    );
    const who = await callCredentials({ oauthTokenUrl: 'https://idp.example/token', clientId: 'billing' }, context(env));
    assert.equal(who.label, "OAuth2 client 'billing'");
    await who.close();
  });

  it('adds a client certificate to any method, and wants --cert with --key', async () => {
    const who = await callCredentials({ cert: 'c.pem', key: 'k.pem' }, context({}));
    assert.deepEqual(who.clientCertificate, { certFile: 'c.pem', keyFile: 'k.pem' });
    assert.equal(who.provider, undefined);
    await assert.rejects(callCredentials({ cert: 'c.pem' }, context({})), configError);
  });

  it('explains a 401 for each kind of caller', async () => {
    assert.match((await callCredentials({}, context({}))).hint401, /--user NAME.*--token.*--oauth-issuer.*--cert/);
    assert.match((await callCredentials({ cert: 'c', key: 'k' }, context({}))).hint401, /does not trust the client certificate/);
  });
});
