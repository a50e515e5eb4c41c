/** Keys, tokens and a loopback HTTPS JWKS server (certificate from a test CA) for the JWT authenticator tests. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type PemPair } from '../../src/pki/index.js';

export const TEST_REALM = 'orders';
export const TEST_ISSUER = 'https://issuer.test';
export const TEST_AUDIENCE = 'https://orders.service.consul';
export const TEST_SUBJECT = 'billing-service';

export type TestAlg = 'ES256' | 'RS256' | 'PS256' | 'EdDSA';

export interface TestSigningKey {
  alg: TestAlg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** As a JWKS serves it: with kid, alg and use. */
  publicJwk: JWK;
  /** SPKI PEM ("-----BEGIN PUBLIC KEY-----"). */
  publicPem: string;
}

export async function makeSigningKey(alg: TestAlg = 'ES256', kid: string = randomUUID()): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    alg,
    kid,
    privateKey,
    publicKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
    publicPem: await exportSPKI(publicKey),
  };
}

export function jwksOf(...keys: TestSigningKey[]): JSONWebKeySet {
  return { keys: keys.map((key) => key.publicJwk) };
}

export const nowSec = (): number => Math.floor(Date.now() / 1000);

export interface TokenOptions {
  /** Merged over the defaults: iss, aud, sub, iat now, exp in 5 minutes. A claim set to undefined is left out. */
  claims?: Record<string, unknown>;
  /** Merged over { alg: key.alg, kid: key.kid, typ: 'JWT' }; kid: undefined leaves it out. */
  header?: Partial<JWTHeaderParameters>;
}

/** A token signed by `key` (or an HMAC secret, then `header.alg` must name the HS algorithm). */
export async function signToken(key: TestSigningKey | Uint8Array, opts: TokenOptions = {}): Promise<string> {
  const now = nowSec();
  const claims: Record<string, unknown> = { iss: TEST_ISSUER, aud: TEST_AUDIENCE, sub: TEST_SUBJECT, iat: now, exp: now + 300, ...opts.claims };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  const defaults = key instanceof Uint8Array ? { alg: 'HS256' } : { alg: key.alg, kid: key.kid };
  const header: Record<string, unknown> = { ...defaults, typ: 'JWT', ...opts.header };
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name];
  return new SignJWT(claims as JWTPayload)
    .setProtectedHeader(header as JWTHeaderParameters)
    .sign(key instanceof Uint8Array ? key : key.privateKey);
}

export function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A compact JWS assembled by hand, e.g. `{"alg":"none"}` with an empty signature. */
export function handmadeToken(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  return `${base64url(header)}.${base64url(payload)}.${signature}`;
}

export function bearer(token: string): { headers: { authorization: string } } {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** What the JWKS server answers with. */
export type JwksBehaviour =
  | { kind: 'jwks'; jwks: JSONWebKeySet }
  | { kind: 'raw'; status: number; body: string; contentType?: string }
  /** Accepts the request and never answers (until the server closes). */
  | { kind: 'hang' };

export interface RunningJwksServer {
  url: string;
  /** PEM of the test CA that issued the server's certificate. */
  caPem: string;
  /** Requests for the JWKS received so far. */
  readonly requests: number;
  serve(behaviour: JwksBehaviour): void;
  /** Serve this key set (what a rotation at the issuer looks like). */
  setKeys(jwks: JSONWebKeySet): void;
  close(): Promise<void>;
}

let sharedCa: Promise<{ ca: PemPair; leaf: PemPair }> | undefined;

/** One test CA and server certificate for every JWKS server of a test process (issuing is the slow part). */
function testCertificates(): Promise<{ ca: PemPair; leaf: PemPair }> {
  sharedCa ??= (async () => {
    const ca = await createCertificateAuthority({ commonName: 'Farol JWKS test CA' });
    const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['jwks']) });
    return { ca, leaf };
  })();
  return sharedCa;
}

/** A JWKS endpoint over HTTPS on 127.0.0.1 (ephemeral port) that counts its requests. */
export async function startJwksServer(initial: JwksBehaviour): Promise<RunningJwksServer> {
  const { ca, leaf } = await testCertificates();
  let behaviour = initial;
  let requests = 0;
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    if (request.url !== '/.well-known/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    requests += 1;
    const current = behaviour;
    if (current.kind === 'hang') return;
    if (current.kind === 'jwks') {
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(current.jwks));
      return;
    }
    response.writeHead(current.status, { 'content-type': current.contentType ?? 'application/json' }).end(current.body);
  };
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1.2' }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/.well-known/jwks.json`,
    caPem: ca.certPem,
    get requests() {
      return requests;
    },
    serve(next) {
      behaviour = next;
    },
    setKeys(jwks) {
      behaviour = { kind: 'jwks', jwks };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A CA that did not issue the JWKS server's certificate. */
export async function unrelatedCaPem(): Promise<string> {
  return (await createCertificateAuthority({ commonName: 'Unrelated CA' })).certPem;
}

/** Collects unhandled rejections while `run` runs (and a tick after), so a test can assert there were none. */
export async function unhandledRejectionsDuring(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await run();
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}
