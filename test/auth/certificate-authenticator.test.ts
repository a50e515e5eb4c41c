import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthenticator, type CertificateAuthenticatorOptions } from '../../src/auth/certificate-authenticator.js';
import type { AuthResult, PeerTls } from '../../src/auth/principal.js';
import { peerTlsOf } from '../../src/auth/peer-tls.js';
import { isFarolError } from '../../src/errors.js';
import { createCertificateAuthority, issueCertificate, serverSubjectAltNames, type IssueCertificateOptions, type PemPair } from '../../src/pki/index.js';
import { clientSubjectAltNames } from '../../src/pki/subject-alt-names.js';
import { waitFor } from '../pki/pki-test-support.js';

const DAY_MS = 86_400_000;

/** The two ways a service asks for client certificates: required (refused in the handshake) or optional (the authenticator decides). */
type ClientCertificateMode = 'required' | 'optional';

interface TlsServer {
  port: number;
  /** What the TLS layer reported for each connection it completed, as the service hands it to the authenticator. */
  peers: PeerTls[];
  /** Handshakes the server refused. */
  clientErrors: Error[];
  close: () => Promise<void>;
}

/** A plain TLS server on 127.0.0.1 that verifies client certificates against `ca` and records each peer's verdict. */
async function startTlsServer(server: PemPair, ca: PemPair, mode: ClientCertificateMode): Promise<TlsServer> {
  // Either way the chain is verified against `ca`; 'optional' only defers refusing an untrusted peer to the authenticator.
  const refuseUntrustedInHandshake = mode === 'required';
  const listener = tls.createServer({
    cert: server.certPem,
    key: server.keyPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: refuseUntrustedInHandshake,
  });
  const peers: PeerTls[] = [];
  const clientErrors: Error[] = [];
  listener.on('secureConnection', (socket) => {
    peers.push(peerTlsOf(socket));
    socket.end('welcome\n');
  });
  listener.on('tlsClientError', (error) => clientErrors.push(error));
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (listener.address() as AddressInfo).port,
    peers,
    clientErrors,
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
  };
}

interface ClientOutcome {
  secureConnect: boolean;
  received: string;
  error?: NodeJS.ErrnoException;
}

/** Connects with full verification of the server (never disabled), optionally presenting a client certificate. */
function connect(port: number, ca: PemPair, client?: PemPair, maxVersion?: tls.SecureVersion): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const outcome: ClientOutcome = { secureConnect: false, received: '' };
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: ca.certPem,
      servername: 'localhost',
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
      ...(maxVersion ? { maxVersion } : {}),
    });
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
    socket.on('secureConnect', () => (outcome.secureConnect = true));
    socket.on('data', (chunk: string) => (outcome.received += chunk));
    socket.on('error', (error) => (outcome.error = error));
    socket.on('close', () => resolve(outcome));
  });
}

describe('certificate authenticator: verdicts of a real TLS handshake (client certificate optional)', () => {
  let ca: PemPair;
  let otherCa: PemPair;
  let server: TlsServer;
  const authenticator = createCertificateAuthenticator();

  /** Connects presenting `client` and returns what the TLS layer reported about it. */
  const peerOf = async (client?: PemPair): Promise<PeerTls> => {
    const before = server.peers.length;
    const outcome = await connect(server.port, ca, client);
    assert.equal(outcome.received, 'welcome\n', 'the optional mode completes the handshake');
    await waitFor(() => server.peers.length > before);
    const peer = server.peers[before];
    assert.ok(peer);
    return peer;
  };

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'Farol test CA' });
    otherCa = await createCertificateAuthority({ commonName: 'Stranger CA' });
    const serverPair = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames([]) });
    server = await startTlsServer(serverPair, ca, 'optional');
  });

  after(async () => {
    await server.close();
  });

  it('accepts a client certificate from the CA, identified by its SPIFFE URI', async () => {
    const alice = await issueCertificate(ca, { commonName: 'alice', usage: 'client', ...clientSubjectAltNames('alice') });
    const peer = await peerOf(alice);
    assert.equal(peer.authorized, true);
    assert.deepEqual(await authenticator.authenticate({ headers: {}, tls: peer }), {
      outcome: 'authenticated',
      principal: { kind: 'certificate', id: 'spiffe://farol.local/client/alice' },
    });
  });

  it("accepts a certificate issued with usage 'both'", async () => {
    const worker = await issueCertificate(ca, { commonName: 'worker', usage: 'both' });
    const result = await authenticator.authenticate({ headers: {}, tls: await peerOf(worker) });
    assert.deepEqual(result, { outcome: 'authenticated', principal: { kind: 'certificate', id: 'worker' } });
  });

  it('refuses a certificate from another CA with 401, naming the verification error', async () => {
    const mallory = await issueCertificate(otherCa, { commonName: 'mallory', usage: 'client', ...clientSubjectAltNames('mallory') });
    const peer = await peerOf(mallory);
    assert.equal(peer.authorized, false);
    assert.deepEqual(await authenticator.authenticate({ headers: {}, tls: peer }), {
      outcome: 'rejected',
      status: 401,
      reason: 'client certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      challenge: '',
    });
  });

  it('refuses an expired and a not yet valid client certificate', async () => {
    const expired = await issueCertificate(ca, { commonName: 'old', usage: 'client', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
    const early = await issueCertificate(ca, { commonName: 'early', usage: 'client', notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 2 * DAY_MS) });
    assert.deepEqual(await authenticator.authenticate({ headers: {}, tls: await peerOf(expired) }), {
      outcome: 'rejected',
      status: 401,
      reason: 'client certificate not trusted: CERT_HAS_EXPIRED',
      challenge: '',
    });
    const result = await authenticator.authenticate({ headers: {}, tls: await peerOf(early) });
    assert.equal(result.outcome === 'rejected' && result.reason, 'client certificate not trusted: CERT_NOT_YET_VALID');
  });

  it("refuses a server-only certificate (OpenSSL's purpose check)", async () => {
    const serverOnly = await issueCertificate(ca, { commonName: 'impostor', usage: 'server' });
    const result = await authenticator.authenticate({ headers: {}, tls: await peerOf(serverOnly) });
    assert.equal(result.outcome === 'rejected' && result.reason, 'client certificate not trusted: INVALID_PURPOSE');
  });

  it('answers absent when the client sent no certificate, or the listener asked for none', async () => {
    const peer = await peerOf();
    assert.equal(peer.peerCertificate, undefined);
    assert.deepEqual(await authenticator.authenticate({ headers: {}, tls: peer }), { outcome: 'absent' });
    assert.deepEqual(await authenticator.authenticate({ headers: { authorization: 'Basic YTpi' } }), { outcome: 'absent' });
  });
});

describe('certificate authenticator: a required client certificate', () => {
  let ca: PemPair;
  let otherCa: PemPair;
  let server: TlsServer;

  before(async () => {
    ca = await createCertificateAuthority();
    otherCa = await createCertificateAuthority();
    const serverPair = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames([]) });
    server = await startTlsServer(serverPair, ca, 'required');
  });

  after(async () => {
    await server.close();
  });

  it('lets a certificate from the CA through the handshake', async () => {
    const alice = await issueCertificate(ca, { commonName: 'alice', usage: 'client' });
    const outcome = await connect(server.port, ca, alice);
    assert.equal(outcome.received, 'welcome\n');
    await waitFor(() => server.peers.length > 0);
    assert.equal(server.peers[0]?.authorized, true);
  });

  // TLS 1.3: the client finishes its side of the handshake before the server has checked the
  // client certificate, so it sees secureConnect and then the connection dropped, with nothing
  // received. TLS 1.2: the client fails before secureConnect. Either way the server never
  // completes the connection, so no request (and no authenticator) ever sees this caller.
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`refuses a certificate from another CA in the handshake (${maxVersion})`, async () => {
      const peersBefore = server.peers.length;
      const errorsBefore = server.clientErrors.length;
      const mallory = await issueCertificate(otherCa, { commonName: 'mallory', usage: 'client' });
      const outcome = await connect(server.port, ca, mallory, maxVersion);
      assert.equal(outcome.received, '');
      if (maxVersion === 'TLSv1.2') {
        assert.equal(outcome.secureConnect, false);
        assert.ok(outcome.error, 'the client gets an error');
      }
      await waitFor(() => server.clientErrors.length > errorsBefore);
      assert.equal(server.peers.length, peersBefore, 'the server never completed the connection');
    });
  }
});

describe('certificate authenticator: its own checks and the principal', () => {
  let ca: PemPair;
  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'Farol test CA' });
  });

  /** A real certificate, with the TLS layer's verdict given (the defensive checks must hold whatever that verdict). */
  const issue = async (opts: Partial<IssueCertificateOptions> = {}): Promise<X509Certificate> =>
    new X509Certificate((await issueCertificate(ca, { commonName: 'alice', usage: 'client', ...opts })).certPem);
  const login = (certificate: X509Certificate, opts?: CertificateAuthenticatorOptions, peer: Partial<PeerTls> = {}): Promise<AuthResult> =>
    createCertificateAuthenticator(opts).authenticate({ headers: {}, tls: { authorized: true, peerCertificate: certificate, ...peer } });
  const reasonOf = (result: AuthResult): string | undefined => (result.outcome === 'rejected' ? result.reason : undefined);
  const idOf = (result: AuthResult): string | undefined => (result.outcome === 'authenticated' ? result.principal.id : undefined);

  it("refuses a certificate the TLS layer did not authorize, whatever it is, and never echoes a reason that is not OpenSSL's", async () => {
    const alice = await issue();
    assert.equal(reasonOf(await login(alice, {}, { authorized: false })), 'client certificate not trusted: unknown verification error');
    assert.equal(
      reasonOf(await login(alice, {}, { authorized: false, authorizationError: 'evil\r\nSet-Cookie: x' })),
      'client certificate not trusted: unknown verification error',
    );
    assert.equal(reasonOf(await login(alice, {}, { authorized: false, authorizationError: 'CERT_REVOKED' })), 'client certificate not trusted: CERT_REVOKED');
  });

  it('refuses a certificate without the clientAuth extended key usage even when the TLS layer let it through', async () => {
    const serverOnly = await issue({ usage: 'server' });
    assert.deepEqual(await login(serverOnly), { outcome: 'rejected', status: 401, reason: 'client certificate is not for client authentication', challenge: '' });
  });

  it('accepts a certificate that has no extended key usage extension at all (any purpose)', async () => {
    const caCertificate = new X509Certificate(ca.certPem);
    assert.equal(caCertificate.keyUsage, undefined);
    assert.equal(idOf(await login(caCertificate)), 'Farol test CA');
  });

  it('checks validity by its own clock', async () => {
    const alice = await issue({ validityDays: 1 });
    const validTo = new Date(alice.validTo).getTime();
    const validFrom = new Date(alice.validFrom).getTime();
    assert.equal(idOf(await login(alice, { now: () => validTo })), 'alice');
    assert.equal(reasonOf(await login(alice, { now: () => validTo + 1_000 })), 'client certificate has expired');
    assert.equal(reasonOf(await login(alice, { now: () => validFrom - 1_000 })), 'client certificate is not yet valid');
  });

  it('takes the id from the first SAN URI, else the first SAN DNS name, else the subject CN', async () => {
    const everything = await issue({ uris: ['spiffe://farol.local/client/alice', 'https://example.com/alice'], dnsNames: ['alice.client.farol', 'b.example'] });
    assert.equal(idOf(await login(everything)), 'spiffe://farol.local/client/alice');
    assert.equal(idOf(await login(await issue({ dnsNames: ['alice.client.farol', 'b.example'] }))), 'alice.client.farol');
    assert.equal(idOf(await login(await issue({ dnsNames: ['*.client.farol'] }))), 'alice', 'a wildcard is nobody');
    assert.equal(idOf(await login(await issue({ ipAddresses: ['10.0.0.1'] }))), 'alice');
    assert.equal(idOf(await login(everything, { identity: ['cn'] })), 'alice');
    assert.equal(idOf(await login(everything, { identity: ['dns', 'uri'] })), 'alice.client.farol');
  });

  it('refuses a certificate that has no usable name in the chosen sources', async () => {
    const cnOnly = await issue();
    assert.deepEqual(await login(cnOnly, { identity: ['uri', 'dns'] }), { outcome: 'rejected', status: 401, reason: 'client certificate carries no usable identity', challenge: '' });
    const controlCharacters = await issue({ commonName: 'alice\u0007\nadmin' });
    assert.equal(reasonOf(await login(controlCharacters)), 'client certificate carries no usable identity');
  });

  it("gives the subject's organizational units as groups, unless told not to", async () => {
    const ops = await issue({ organizationalUnits: ['ops', 'billing'], ...clientSubjectAltNames('alice') });
    assert.deepEqual(await login(ops), {
      outcome: 'authenticated',
      principal: { kind: 'certificate', id: 'spiffe://farol.local/client/alice', groups: ['ops', 'billing'] },
    });
    assert.deepEqual(await login(ops, { groups: 'none' }), { outcome: 'authenticated', principal: { kind: 'certificate', id: 'spiffe://farol.local/client/alice' } });
  });

  it('lets through only allowed identities: exact ids, "*" prefixes or a predicate', async () => {
    const alice = await issue(clientSubjectAltNames('alice'));
    const bob = await issue({ commonName: 'bob', ...clientSubjectAltNames('bob') });
    const byPrefix = { allow: ['spiffe://farol.local/client/a*'] };
    assert.equal(idOf(await login(alice, byPrefix)), 'spiffe://farol.local/client/alice');
    assert.deepEqual(await login(bob, byPrefix), { outcome: 'rejected', status: 401, reason: 'client certificate identity is not allowed', challenge: '' });
    assert.equal(idOf(await login(bob, { allow: ['spiffe://farol.local/client/bob'] })), 'spiffe://farol.local/client/bob');
    assert.equal(reasonOf(await login(bob, { allow: ['spiffe://farol.local/client/bo'] })), 'client certificate identity is not allowed', 'exact means exact');
    assert.equal(reasonOf(await login(alice, { allow: (principal) => principal.groups?.includes('ops') === true })), 'client certificate identity is not allowed');
  });

  it('refuses bad options at creation with CONFIG_INVALID', () => {
    const bad: CertificateAuthenticatorOptions[] = [{ identity: [] }, { identity: ['email' as 'cn'] }, { allow: [''] }, { allow: ['*'] }];
    for (const opts of bad) {
      assert.throws(() => createCertificateAuthenticator(opts), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), JSON.stringify(opts));
    }
  });

  it("names its scheme mTLS and has no HTTP challenge (TLS client authentication has none)", () => {
    const authenticator = createCertificateAuthenticator();
    assert.equal(authenticator.scheme, 'mTLS');
    assert.equal(authenticator.challenge(), '');
  });
});
