import { basicCredentials, bearerCredentials, oauth2ClientCredentials, type CredentialProvider } from '../../auth/index.js';
import { FarolError } from '../../errors.js';
import { loadCaBundle } from '../../pki/index.js';
import { promptSecret } from '../prompt.js';
import type { CliContext } from '../run.js';

/** The `farol call` flags that say who the caller is. Secrets never come from argv: only from the environment or a prompt. */
export interface CredentialFlags {
  user?: string;
  token?: boolean;
  oauthIssuer?: string;
  oauthTokenUrl?: string;
  clientId?: string;
  scope?: string;
  audience?: string;
  oauthCa?: string;
  cert?: string;
  key?: string;
}

export interface CallCredentials {
  provider?: CredentialProvider;
  clientCertificate?: { certFile: string; keyFile: string };
  /** Who the caller is, for error messages: "user 'alice'", "the bearer token", ... */
  label?: string;
  /** What to check when the service answers 401. */
  hint401: string;
  close(): Promise<void>;
}

function secretFrom(ctx: CliContext, variable: string, what: string): Promise<string> {
  const fromEnv = ctx.io.env[variable];
  return fromEnv ? Promise.resolve(fromEnv) : promptSecret(ctx.io, what, `set ${variable} or run in a terminal`);
}

/**
 * Turns the flags into one way of sending credentials (Basic, a bearer token, or OAuth2 client
 * credentials), optionally with a client certificate for mTLS.
 */
export async function callCredentials(flags: CredentialFlags, ctx: CliContext): Promise<CallCredentials> {
  const { env } = ctx.io;
  const user = flags.user ?? (env.FAROL_USER || undefined);
  const oauth = flags.oauthIssuer !== undefined || flags.oauthTokenUrl !== undefined || flags.clientId !== undefined;
  const chosen = [user !== undefined && '--user', flags.token === true && '--token', oauth && '--oauth-issuer/--client-id'].filter(Boolean);
  if (chosen.length > 1) {
    throw new FarolError('CONFIG_INVALID', `${chosen.join(' and ')} are two ways of sending credentials: pick one`, {
      hint: 'a client certificate (--cert/--key) can go with any one of them',
    });
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new FarolError('CONFIG_INVALID', '--cert and --key go together', { hint: 'pass the client certificate and its private key (PEM files)' });
  }
  const clientCertificate = flags.cert !== undefined && flags.key !== undefined ? { certFile: flags.cert, keyFile: flags.key } : undefined;
  const withCert = clientCertificate ? { clientCertificate } : {};
  const nothingToClose = async (): Promise<void> => undefined;

  if (user !== undefined) {
    const password = await secretFrom(ctx, 'FAROL_PASSWORD', `password for user '${user}'`);
    return {
      provider: basicCredentials(user, password),
      ...withCert,
      label: `user '${user}'`,
      hint401: `check the password in FAROL_PASSWORD, and that user '${user}' is in the service's users file`,
      close: nothingToClose,
    };
  }
  if (flags.token === true) {
    const token = (await secretFrom(ctx, 'FAROL_TOKEN', 'bearer token')).trim();
    return {
      provider: bearerCredentials(token),
      ...withCert,
      label: 'the bearer token',
      hint401: 'the token in FAROL_TOKEN is expired, for another audience or issuer, or not signed by a key the service trusts',
      close: nothingToClose,
    };
  }
  if (oauth) {
    if (flags.clientId === undefined || (flags.oauthIssuer === undefined) === (flags.oauthTokenUrl === undefined)) {
      throw new FarolError('CONFIG_INVALID', 'OAuth2 client credentials need --client-id and one of --oauth-issuer or --oauth-token-url', {
        hint: 'e.g. --oauth-issuer https://idp.example --client-id orders-client, with the secret in FAROL_CLIENT_SECRET',
      });
    }
    const clientSecret = await secretFrom(ctx, 'FAROL_CLIENT_SECRET', `client secret for '${flags.clientId}'`);
    const provider = oauth2ClientCredentials({
      ...(flags.oauthIssuer !== undefined ? { issuer: flags.oauthIssuer } : { tokenEndpoint: flags.oauthTokenUrl! }),
      clientId: flags.clientId,
      clientSecret,
      ...(flags.scope !== undefined ? { scope: flags.scope.split(/[\s,]+/).filter(Boolean) } : {}),
      ...(flags.audience !== undefined ? { audience: flags.audience } : {}),
      ...(flags.oauthCa !== undefined ? { ca: await loadCaBundle(flags.oauthCa) } : {}),
    });
    return {
      provider,
      ...withCert,
      label: `OAuth2 client '${flags.clientId}'`,
      hint401: `the service does not accept tokens of this issuer or audience (--audience), or client '${flags.clientId}' lacks a scope`,
      close: () => provider.close(),
    };
  }
  return {
    ...withCert,
    ...(clientCertificate ? { label: 'the client certificate' } : {}),
    hint401: clientCertificate
      ? 'the service does not trust the client certificate (another CA, expired, or not for client authentication)'
      : 'pass --user NAME (password in FAROL_PASSWORD), --token (FAROL_TOKEN), --oauth-issuer with --client-id, or --cert/--key',
    close: nothingToClose,
  };
}
