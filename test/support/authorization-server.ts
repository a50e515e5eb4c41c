/**
 * A real OAuth2 authorization server for tests: oidc-provider (a certified OpenID provider) over
 * HTTPS on 127.0.0.1, with a certificate from a test CA, issuing JWT access tokens through the
 * client_credentials grant.
 *
 *   const as = await startAuthorizationServer({ accessTokenTtlSec: 60 });
 *   const [client] = as.clients;            // client_secret_basic; as.clients[1] uses client_secret_post
 *   const token = await as.issueToken();    // or let a CredentialProvider ask as.tokenEndpoint
 *   // verify with jose: createRemoteJWKSet(new URL(as.jwksUri), { [customFetch]: as.fetch })
 *   await as.rotateKeys();                  // new tokens carry a new kid; the JWKS serves both keys
 *   await as.stop();
 *
 * oidc-provider's configuration lives in one place (providerConfiguration); the HTTPS server is
 * made once and keeps its port, and every change of keys or clients swaps in a freshly built
 * Provider behind it (oidc-provider fixes its keys and static clients at construction).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import type * as OidcProvider from 'oidc-provider';
import { Agent, fetch as undiciFetch, request } from 'undici';
import { createCertificateAuthority, issueCertificate, type PemPair } from '../../src/pki/index.js';

export const DEFAULT_AUDIENCE = 'https://orders.service.consul';
export const DEFAULT_SCOPES = ['orders:read', 'orders:write'] as const;
export const DEFAULT_ACCESS_TOKEN_TTL_SEC = 300;

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';
export type SigningAlg = 'ES256' | 'RS256';

/** A client registered at the authorization server, allowed the client_credentials grant only. */
export interface AuthorizationServerClient {
  clientId: string;
  clientSecret: string;
  /** How the client must authenticate at the token endpoint. */
  authMethod: ClientAuthMethod;
  /** The scopes it may be granted (space-separated); default every scope of the server. */
  scope?: string;
}

/** A client to register: clientSecret defaults to a random one, authMethod to client_secret_basic. */
export type ClientSpec = Omit<AuthorizationServerClient, 'clientSecret' | 'authMethod'> &
  Partial<Pick<AuthorizationServerClient, 'clientSecret' | 'authMethod'>>;

export interface AuthorizationServerOptions {
  /**
   * The resource server tokens are for when a client names none: its RFC 8707 resource indicator,
   * which is also the tokens' `aud`. Default 'https://orders.service.consul'.
   */
  audience?: string;
  /** More resource indicators a client may ask for with `resource` (each becomes the `aud`). Others: invalid_target. */
  otherAudiences?: string[];
  /** Scopes the resource servers know; a token carries the requested ones among them. Default orders:read orders:write. */
  scopes?: string[];
  /** Lifetime of access tokens (expires_in and exp - iat), whole seconds. Default 300. */
  accessTokenTtlSec?: number;
  /** Default 'ES256'. */
  alg?: SigningAlg;
  /**
   * Default: 'orders-client' (client_secret_basic) and 'orders-client-post' (client_secret_post),
   * with random secrets. A client without clientSecret gets a random one; authMethod defaults to basic.
   */
  clients?: ClientSpec[];
  /** Issue the server certificate from this CA (default: a fresh one, returned as `ca`). */
  ca?: PemPair;
}

export interface SigningKeyInfo {
  kid: string;
  alg: SigningAlg;
  /** The public JWK, as the JWKS endpoint serves it. */
  publicJwk: JWK;
}

export interface RotateKeysOptions {
  /**
   * What happens to the keys signing so far. 'keep' (default): every earlier key stays in the JWKS
   * (after the new one), so tokens they signed keep verifying until they expire. 'drop': only the new
   * key is served, so those tokens stop verifying (the emergency rotation after a key leak).
   * Either way the JWKS changes at once: a verifier caching it (jose's createRemoteJWKSet waits
   * cooldownDuration, 30 s by default, before refetching on an unknown kid) sees the new key late.
   */
  previous?: 'keep' | 'drop';
}

export interface IssueTokenOptions {
  /** Default: the first client. */
  client?: AuthorizationServerClient;
  scope?: string;
  resource?: string;
}

export interface RunningAuthorizationServer {
  /** https://127.0.0.1:<port>, exactly as the tokens' `iss` and the discovery documents carry it. */
  readonly issuer: string;
  /** PEM of the CA that signed the server's certificate (trust it to reach the server). */
  readonly ca: string;
  /** ${issuer}/token */
  readonly tokenEndpoint: string;
  /** ${issuer}/jwks */
  readonly jwksUri: string;
  /** ${issuer}/.well-known/openid-configuration (the RFC 8414 document is served too). */
  readonly discoveryUrl: string;
  /** The default `aud` of tokens. */
  readonly audience: string;
  /** The registered clients, in registration order (clients[0] basic, clients[1] post by default). */
  readonly clients: readonly AuthorizationServerClient[];
  /** The key new tokens are signed with (its kid is in every new token's header). */
  readonly currentKey: SigningKeyInfo;
  /** The keys the JWKS endpoint serves, newest first. */
  readonly servedKeys: readonly SigningKeyInfo[];
  /** Requests that reached the token endpoint since start (or resetCounters), refused ones included. */
  readonly tokenRequests: number;
  /** Requests that reached the JWKS endpoint since start (or resetCounters). */
  readonly jwksRequests: number;
  /** Errors oidc-provider reported as server_error (a test can assert there were none). */
  readonly serverErrors: readonly unknown[];
  /** An undici Agent that trusts `ca` (verification on), for requests from tests. Closed by stop(). */
  readonly agent: Agent;
  /** A fetch that trusts `ca`, e.g. for jose's createRemoteJWKSet({ [customFetch]: as.fetch }). */
  readonly fetch: typeof globalThis.fetch;
  /** Registers one more client (secret random unless given) and returns it. */
  addClient(client: ClientSpec): Promise<AuthorizationServerClient>;
  /** Makes a new signing key current; see RotateKeysOptions for the old ones. Returns the new key. */
  rotateKeys(opts?: RotateKeysOptions): Promise<SigningKeyInfo>;
  /** Changes the lifetime of tokens issued from now on. */
  setAccessTokenTtl(seconds: number): void;
  /** Asks the token endpoint for a token, as a client would; rejects unless it answers 200. */
  issueToken(opts?: IssueTokenOptions): Promise<{ accessToken: string; expiresIn: number; scope?: string }>;
  /**
   * Signs any claims with the current key (or another served key): tokens the server would never
   * issue (expired, wrong aud or iss...), for tests of the verifying side. iss defaults to the issuer.
   */
  signToken(claims: JWTPayload, opts?: { kid?: string; typ?: string }): Promise<string>;
  resetCounters(): void;
  /** An outage: closes the listener and every connection, so connections are refused; keeps the port. */
  suspend(): Promise<void>;
  /** Ends the outage: listens again on the same port, same keys and clients. */
  resume(): Promise<void>;
  /** Shuts everything down (listener, connections, agent). Idempotent. */
  stop(): Promise<void>;
}

interface SigningKey extends SigningKeyInfo {
  privateJwk: JWK;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
}

/**
 * oidc-provider's notices this fixture accepts on purpose: Node 20 is below its supported runtime
 * (it works), and the in-memory adapter is exactly what a test wants. Any other notice still shows.
 */
const ACCEPTED_NOTICES = [/^oidc-provider WARNING: Unsupported runtime/, /^oidc-provider WARNING: a quick start development-only in-memory adapter/];

function withoutAcceptedNotices<T>(run: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!ACCEPTED_NOTICES.some((notice) => notice.test(String(args[0])))) warn(...args);
  };
  let result: T;
  try {
    result = run();
  } catch (error) {
    console.warn = warn;
    throw error;
  }
  if (result instanceof Promise) {
    result.finally(() => (console.warn = warn)).catch(() => undefined);
  } else console.warn = warn;
  return result;
}

type OidcProviderModule = typeof OidcProvider;
let oidcProvider: Promise<OidcProviderModule> | undefined;

/** Imported on first use, so its import-time runtime notice can be held back. */
function loadOidcProvider(): Promise<OidcProviderModule> {
  oidcProvider ??= withoutAcceptedNotices(() => import('oidc-provider'));
  return oidcProvider;
}

let keyCounter = 0;

async function newSigningKey(alg: SigningAlg): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  keyCounter += 1;
  const kid = `test-key-${keyCounter}-${randomBytes(4).toString('hex')}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { kid, alg, publicJwk, privateJwk, privateKey };
}

function randomSecret(): string {
  return randomBytes(24).toString('base64url');
}

function completeClient(spec: ClientSpec): AuthorizationServerClient {
  return {
    clientId: spec.clientId,
    clientSecret: spec.clientSecret ?? randomSecret(),
    authMethod: spec.authMethod ?? 'client_secret_basic',
    ...(spec.scope === undefined ? {} : { scope: spec.scope }),
  };
}

const DEFAULT_CLIENTS: ClientSpec[] = [
  { clientId: 'orders-client', authMethod: 'client_secret_basic' },
  { clientId: 'orders-client-post', authMethod: 'client_secret_post' },
];

export async function startAuthorizationServer(opts: AuthorizationServerOptions = {}): Promise<RunningAuthorizationServer> {
  const { Provider, errors: oidcErrors } = await loadOidcProvider();
  const audience = opts.audience ?? DEFAULT_AUDIENCE;
  const audiences = new Set([audience, ...(opts.otherAudiences ?? [])]);
  const scopes = [...(opts.scopes ?? DEFAULT_SCOPES)];
  const alg = opts.alg ?? 'ES256';
  let ttlSec = checkTtl(opts.accessTokenTtlSec ?? DEFAULT_ACCESS_TOKEN_TTL_SEC);
  const clients = (opts.clients ?? DEFAULT_CLIENTS).map(completeClient);
  let keys: SigningKey[] = [await newSigningKey(alg)];

  const authority = opts.ca ?? (await createCertificateAuthority({ commonName: 'Farol test authorization server CA' }));
  const leaf = await issueCertificate(authority, { commonName: '127.0.0.1', usage: 'server', ipAddresses: ['127.0.0.1'] });

  const counters = { token: 0, jwks: 0 };
  const serverErrors: unknown[] = [];
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/token') counters.token += 1;
    if (path === '/jwks') counters.jwks += 1;
    if (handle) handle(req, res);
    else res.writeHead(503).end();
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Handshakes a test makes fail on purpose (an untrusted CA) are not the server's business.
  server.on('tlsClientError', () => undefined);

  const port = await listen(server, 0);
  const issuer = `https://127.0.0.1:${port}`;

  function providerConfiguration(): OidcProvider.Configuration {
    const current = keys[0]!;
    return {
      clients: clients.map((client) => ({
        client_id: client.clientId,
        client_secret: client.clientSecret,
        token_endpoint_auth_method: client.authMethod,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        ...(client.scope === undefined ? {} : { scope: client.scope }),
      })),
      jwks: { keys: keys.map((key) => key.privateJwk) },
      clientDefaults: { id_token_signed_response_alg: alg, grant_types: ['client_credentials'], response_types: [] },
      scopes,
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => audience,
          getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
            if (!audiences.has(indicator)) throw new oidcErrors.InvalidTarget(`unknown resource server ${indicator}`);
            return {
              scope: scopes.join(' '),
              audience: indicator,
              accessTokenTTL: ttlSec,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: current.alg, kid: current.kid } },
            };
          },
        },
      },
      ttl: {
        ClientCredentials: () => ttlSec,
        AccessToken: () => ttlSec,
      },
      // Cookies are for interactive logins, which these tests never make; a fixed key keeps oidc-provider quiet.
      cookies: { keys: ['farol-test-cookie-key'] },
    };
  }

  function rebuild(): void {
    const provider: OidcProvider.Provider = withoutAcceptedNotices(() => new Provider(issuer, providerConfiguration()));
    provider.proxy = false; // nothing in front of it: ctx.secure comes from the TLS socket itself
    provider.on('server_error', (_ctx: unknown, error: unknown) => serverErrors.push(error));
    handle = provider.callback();
  }
  rebuild();

  const agent = new Agent({ connect: { ca: authority.certPem } });
  const trustingFetch = ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher: agent })) as unknown as typeof globalThis.fetch;
  let listening = true;
  let stopped = false;

  const publicInfo = (key: SigningKey): SigningKeyInfo => ({ kid: key.kid, alg: key.alg, publicJwk: key.publicJwk });

  async function suspend(): Promise<void> {
    if (!listening) return;
    listening = false;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  }

  return {
    issuer,
    ca: authority.certPem,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    audience,
    clients,
    get currentKey() {
      return publicInfo(keys[0]!);
    },
    get servedKeys() {
      return keys.map(publicInfo);
    },
    get tokenRequests() {
      return counters.token;
    },
    get jwksRequests() {
      return counters.jwks;
    },
    serverErrors,
    agent,
    fetch: trustingFetch,
    async addClient(spec) {
      if (clients.some((client) => client.clientId === spec.clientId)) throw new Error(`client ${spec.clientId} is already registered`);
      const client = completeClient(spec);
      clients.push(client);
      rebuild();
      return client;
    },
    async rotateKeys(rotation = {}) {
      const fresh = await newSigningKey(alg);
      keys = rotation.previous === 'drop' ? [fresh] : [fresh, ...keys];
      rebuild();
      return publicInfo(fresh);
    },
    setAccessTokenTtl(seconds) {
      ttlSec = checkTtl(seconds);
    },
    async issueToken(issue = {}) {
      const client = issue.client ?? clients[0]!;
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (issue.scope !== undefined) form.set('scope', issue.scope);
      if (issue.resource !== undefined) form.set('resource', issue.resource);
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (client.authMethod === 'client_secret_post') {
        form.set('client_id', client.clientId);
        form.set('client_secret', client.clientSecret);
      } else {
        const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
        headers.authorization = `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
      }
      const response = await request(`${issuer}/token`, { method: 'POST', headers, body: form.toString(), dispatcher: agent });
      const body = (await response.body.json()) as { access_token?: string; expires_in?: number; scope?: string; error?: string; error_description?: string };
      if (response.statusCode !== 200 || typeof body.access_token !== 'string') {
        const reason = body.error === undefined ? 'no access_token' : `${body.error}${body.error_description ? ` (${body.error_description})` : ''}`;
        throw new Error(`the token endpoint answered ${response.statusCode}: ${reason}`);
      }
      return { accessToken: body.access_token, expiresIn: body.expires_in ?? 0, ...(body.scope ? { scope: body.scope } : {}) };
    },
    async signToken(claims, signing = {}) {
      const key = signing.kid === undefined ? keys[0]! : keys.find((candidate) => candidate.kid === signing.kid);
      if (!key) throw new Error(`no served key has kid ${signing.kid}`);
      return new SignJWT({ iss: issuer, ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: signing.typ ?? 'at+jwt' })
        .sign(key.privateKey);
    },
    resetCounters() {
      counters.token = 0;
      counters.jwks = 0;
    },
    suspend,
    async resume() {
      if (listening || stopped) return;
      await listen(server, port);
      listening = true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await suspend();
      await agent.close();
    },
  };
}

function checkTtl(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new Error(`accessTokenTtlSec must be a positive whole number, got ${seconds}`);
  return seconds;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
