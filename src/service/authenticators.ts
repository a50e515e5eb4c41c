import {
  createBasicAuthenticator,
  createCertificateAuthenticator,
  createJwtAuthenticator,
  createLimitedAuthenticator,
  basicAttempt,
  watchUsersFile,
  type UsersSource,
  type Authenticator,
  type JwtAuthenticator,
} from '../auth/index.js';
import { channels, eventError, type EventOwner } from '../events/channels.js';
import { loadCaBundle, type CaSource } from '../pki/index.js';
import type { JwtOptions, ResolvedAuthOptions } from './options.js';

/** What the chain is built from: the resolved auth options (createService passes its own, realm = its name). */
export type AuthChainOptions = Omit<ResolvedAuthOptions, 'require'>;

/** The authenticators a service runs, what its listener must ask of TLS, and what to release on stop. */
export interface ServiceAuth {
  authenticators: Authenticator[];
  /** The listener's TLS provider loads (and reloads) the CA. */
  clientCertificates?: { ca: CaSource; required: boolean };
  /** Goes up whenever credentials checked before may no longer hold (a users file reload): per-connection memories are dropped. */
  generation(): number;
  /** Reads the users file again now (SIGHUP); a bad file keeps the last good users and is logged. */
  reload(): Promise<void>;
  /** Releases everything, the users file watch included. */
  close(): Promise<void>;
}

/**
 * Builds a service's authenticator chain from its options, in the order requests are tried:
 * Basic (users file, behind the brute-force limiter), bearer JWT, client certificate, then the
 * caller's own authenticators. The header schemes come first: a caller that sends an
 * Authorization header means it, even on a connection that also carries a certificate.
 */
export async function buildServiceAuth(opts: AuthChainOptions, owner: EventOwner): Promise<ServiceAuth> {
  const closers: (() => Promise<void>)[] = [];
  try {
    return await buildChain(opts, owner, closers);
  } catch (error) {
    // E.g. the JWKS or the client CA failed after the users file was being watched: stop that.
    await Promise.all(closers.map((close) => close().catch(() => undefined)));
    throw error;
  }
}

async function buildChain(opts: AuthChainOptions, owner: EventOwner, closers: (() => Promise<void>)[]): Promise<ServiceAuth> {
  const authenticators: Authenticator[] = [];
  let users: UsersSource | undefined;
  if (opts.usersFile !== undefined) {
    const source = await watchUsersFile(opts.usersFile, { events: owner });
    users = source;
    closers.push(async () => source.close());
    const basic = createBasicAuthenticator({ users: source, realm: opts.realm });
    authenticators.push(
      opts.loginLimits === false
        ? basic
        : createLimitedAuthenticator(basic, { limits: opts.loginLimits ?? {}, attemptOf: basicAttempt, users: source }),
    );
  }
  if (opts.jwt !== undefined) {
    const jwt = await jwtAuthenticator(opts.jwt, opts.realm, owner);
    authenticators.push(jwt);
    closers.push(() => jwt.close());
  }
  let clientCertificates: ServiceAuth['clientCertificates'];
  if (opts.clientCertificates !== undefined) {
    const { ca, required, ...mapping } = opts.clientCertificates;
    authenticators.push(createCertificateAuthenticator(mapping));
    // With certificates the only way in, a caller without one is turned away at the handshake.
    const onlyWay = authenticators.length === 1 && opts.authenticators === undefined;
    clientCertificates = { ca, required: required ?? onlyWay };
  }
  authenticators.push(...(opts.authenticators ?? []));
  return {
    authenticators,
    ...(clientCertificates ? { clientCertificates } : {}),
    generation: () => users?.generation ?? 0,
    reload: async () => {
      await users?.reload();
    },
    close: async () => {
      await Promise.all(closers.map((close) => close()));
    },
  };
}

async function jwtAuthenticator(jwt: JwtOptions, realm: string, owner: EventOwner): Promise<JwtAuthenticator> {
  const { caFile, ...rest } = jwt;
  const ca = rest.jwksUrl !== undefined && caFile !== undefined ? await loadCaBundle(caFile) : undefined;
  const remote = rest.jwksUrl !== undefined
    ? {
        ...(ca !== undefined ? { ca } : {}),
        onKeysError: (error: Error) => {
          if (channels.authKeysError.hasSubscribers) channels.authKeysError.publish({ owner, error: eventError(error) });
        },
      }
    : {};
  return createJwtAuthenticator({ ...remote, ...rest, realm });
}
