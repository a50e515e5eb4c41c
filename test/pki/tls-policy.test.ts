/**
 * Farol's TLS policy (Mozilla "intermediate", ECDHE + AEAD only, groups X25519, P-256, P-384) as
 * the real listeners apply it: OpenSSL's own client enumerates what a service listener and a
 * health listener accept, and a caller that stalls before its headers are complete is dropped
 * within the configured bound.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import {
  clientTlsPolicy,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  serverTimeoutOptions,
  TLS12_CIPHER_SUITES,
  TLS13_CIPHER_SUITES,
  TLS_GROUPS,
  TLS_POLICY,
} from '../../src/pki/tls-policy.js';
import { resolveServiceOptions, type FarolService, type ServiceOptions } from '../../src/service/index.js';
import { issueTestPki, localServiceOptions, serviceStarter, tempDir, writeUsers, type TestPki } from '../service/fixtures.js';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';

interface CipherInfo {
  name: string;
  protocol: string;
  kx: string;
  mac: string;
}

/** `openssl ciphers -V ALL` (at security level 0, so the client offers everything it has). */
async function opensslCiphers(): Promise<CipherInfo[]> {
  const { stdout } = await run(OPENSSL, ['ciphers', '-V', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']);
  return stdout
    .split('\n')
    .map((line) => /^\s*0x[0-9A-F]{2},0x[0-9A-F]{2} - (\S+)\s+(\S+)\s+Kx=(\S+)\s+Au=\S+\s+Enc=\S+\s+Mac=(\S+)/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ name: match[1]!, protocol: match[2]!, kx: match[3]!, mac: match[4]! }));
}

interface Handshake {
  ok: boolean;
  protocol?: string;
  cipher?: string;
  tempKey?: string;
}

/** One `openssl s_client` handshake with verification on (the test CA, the server's IP), bounded to 5 s. */
async function handshake(port: number, caFile: string, args: string[]): Promise<Handshake> {
  const argv = ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-verify_return_error', '-verify_ip', '127.0.0.1', '-brief', ...args];
  const child = execFile(OPENSSL, argv, { timeout: 5000 });
  child.stdin?.end();
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(output)?.[1]?.trim();
  const ok = code === 0 && output.includes('CONNECTION ESTABLISHED');
  return {
    ok,
    ...(ok ? { protocol: field('Protocol version'), cipher: field('Ciphersuite'), tempKey: field('Server Temp Key') } : {}),
  } as Handshake;
}

/** The group OpenSSL reports as "Server Temp Key", in the names of this test's list. */
function groupOf(tempKey: string | undefined): string {
  if (tempKey === undefined) return '(none)';
  if (/^X25519\b/.test(tempKey)) return 'X25519';
  if (/^X448\b/.test(tempKey)) return 'X448';
  if (/prime256v1|P-256/.test(tempKey)) return 'P-256';
  if (/secp384r1|P-384/.test(tempKey)) return 'P-384';
  if (/secp521r1|P-521/.test(tempKey)) return 'P-521';
  const dh = /^DH, (\d+) bits/.exec(tempKey);
  if (dh) return `ffdhe${dh[1]}`;
  return tempKey;
}

const OFFERED_GROUPS = ['X25519', 'P-256', 'P-384', 'P-521', 'X448', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'];

/**
 * Everything in `candidates` the server accepts. One handshake offers all that are left; the
 * server picks one, which is then taken out, until a handshake fails: as many handshakes as
 * accepted items plus one, instead of one per candidate.
 */
async function accepted(candidates: string[], attempt: (offer: string[]) => Promise<string | undefined>): Promise<string[]> {
  const left = [...candidates];
  const found: string[] = [];
  while (left.length > 0 && found.length <= candidates.length) {
    const chosen = await attempt(left);
    if (chosen === undefined) break;
    found.push(chosen);
    const index = left.indexOf(chosen);
    if (index < 0) break; // the server chose something not offered: reported by the caller's assertions
    left.splice(index, 1);
  }
  return found;
}

interface Enumeration {
  tls12Ciphers: string[];
  tls13Ciphers: string[];
  tls12Groups: string[];
  tls13Groups: string[];
  tls11: boolean;
  tls10: boolean;
}

/**
 * `certCurve`: the curve of an ECDSA server certificate. In TLS 1.2 the offered groups also limit
 * which ECDSA certificate the server may use, so that curve is always offered, last; a server that
 * honours the client's order (Farol's does) picks it only when it takes none of the others. With
 * an RSA certificate nothing is added, and the enumeration holds whatever order the server prefers.
 */
async function enumerate(port: number, caFile: string, candidates: { tls12: string[]; tls13: string[] }, certCurve?: string): Promise<Enumeration> {
  const tls12Candidates = candidates.tls12;
  const tls13Candidates = candidates.tls13;
  const tls12Ciphers = await accepted(tls12Candidates, async (offer) => {
    const result = await handshake(port, caFile, ['-tls1_2', '-cipher', `${offer.join(':')}:@SECLEVEL=0`]);
    return result.ok ? result.cipher : undefined;
  });
  const tls13Ciphers = await accepted(tls13Candidates, async (offer) => {
    const result = await handshake(port, caFile, ['-tls1_3', '-ciphersuites', offer.join(':')]);
    return result.ok ? result.cipher : undefined;
  });
  const tls13Groups = await accepted(OFFERED_GROUPS, async (offer) => {
    const result = await handshake(port, caFile, ['-tls1_3', '-groups', offer.join(':')]);
    return result.ok ? groupOf(result.tempKey) : undefined;
  });
  const tls12Groups = await accepted(OFFERED_GROUPS, async (offer) => {
    const padded = certCurve === undefined || offer.includes(certCurve) ? offer : [...offer, certCurve];
    const result = await handshake(port, caFile, ['-tls1_2', '-cipher', 'ECDHE:DHE:@SECLEVEL=0', '-groups', padded.join(':')]);
    const group = result.ok ? groupOf(result.tempKey) : undefined;
    return group !== undefined && group === certCurve && !offer.includes(certCurve) ? undefined : group;
  });
  const tls11 = (await handshake(port, caFile, ['-tls1_1', '-cipher', 'ALL:@SECLEVEL=0'])).ok;
  const tls10 = (await handshake(port, caFile, ['-tls1', '-cipher', 'ALL:@SECLEVEL=0'])).ok;
  return { tls12Ciphers, tls13Ciphers, tls12Groups, tls13Groups, tls11, tls10 };
}

function assertPolicy(result: Enumeration, ciphers: CipherInfo[], expectedTls12: string[]): void {
  const info = new Map(ciphers.map((cipher) => [cipher.name, cipher]));
  for (const name of result.tls12Ciphers) {
    const cipher = info.get(name);
    assert.ok(cipher, `accepted ${name}, which OpenSSL does not list`);
    assert.equal(cipher.mac, 'AEAD', `accepted ${name}, not an AEAD suite (CBC)`);
    assert.equal(cipher.kx, 'ECDH', `accepted ${name}, whose key exchange is not ECDHE`);
  }
  assert.deepEqual([...result.tls12Ciphers].sort(), [...expectedTls12].sort());
  assert.deepEqual([...result.tls13Ciphers].sort(), [...TLS13_CIPHER_SUITES].sort());
  assert.deepEqual([...result.tls12Groups].sort(), ['P-256', 'P-384', 'X25519']);
  assert.deepEqual([...result.tls13Groups].sort(), ['P-256', 'P-384', 'X25519']);
  assert.equal(result.tls11, false, 'TLS 1.1 accepted');
  assert.equal(result.tls10, false, 'TLS 1.0 accepted');
}

describe('the TLS policy', () => {
  it("is Mozilla's intermediate profile narrowed to ECDHE: AEAD suites only, three groups, TLS 1.2 and up", () => {
    assert.equal(TLS_POLICY.minVersion, 'TLSv1.2');
    assert.equal(TLS_POLICY.honorCipherOrder, false);
    assert.equal(TLS_POLICY.ecdhCurve, 'X25519:P-256:P-384');
    assert.deepEqual([...TLS_GROUPS], ['X25519', 'P-256', 'P-384']);
    for (const suite of TLS12_CIPHER_SUITES) assert.match(suite, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    assert.equal(TLS_POLICY.ciphers.split(':').length, TLS12_CIPHER_SUITES.length + TLS13_CIPHER_SUITES.length);
    assert.doesNotMatch(TLS_POLICY.ciphers, /CBC|-SHA(:|$)|(^|:)DHE-|ffdhe/);
  });

  it('is offered to clients with the same versions, suites and groups', () => {
    assert.deepEqual(clientTlsPolicy(), { minVersion: 'TLSv1.2', ciphers: TLS_POLICY.ciphers, ecdhCurve: TLS_POLICY.ecdhCurve });
  });

  it('bounds handshakes and headers, and looks for expired requests often enough to honour the bound', () => {
    assert.deepEqual(serverTimeoutOptions({ handshakeTimeoutMs: 15_000, headersTimeoutMs: 15_000 }), {
      handshakeTimeout: 15_000,
      headersTimeout: 15_000,
      connectionsCheckingInterval: 1000,
    });
    assert.equal(serverTimeoutOptions({ handshakeTimeoutMs: 1000, headersTimeoutMs: 1000 }).connectionsCheckingInterval, 250);
    assert.equal(serverTimeoutOptions({ handshakeTimeoutMs: 100, headersTimeoutMs: 100 }).connectionsCheckingInterval, 100);
  });
});

describe('what the Farol listeners accept, enumerated with openssl s_client', () => {
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  let rsa: { certFile: string; keyFile: string };
  let ciphers: CipherInfo[];
  let candidates: { tls12: string[]; tls13: string[] };
  const running: FarolService[] = [];

  const start = serviceStarter(localServiceOptions(() => ({ pki, usersFile, dir })), running);

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir, ['api']);
    usersFile = await writeUsers(dir, { alice: 'correct horse battery staple' });
    // An RSA certificate, so the RSA suites (CBC ones included) can be tried too; self-signed, so it is its own CA.
    await mkdir(join(dir, 'rsa'));
    rsa = { certFile: join(dir, 'rsa', 'cert.pem'), keyFile: join(dir, 'rsa', 'key.pem') };
    await run(OPENSSL, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', rsa.keyFile, '-out', rsa.certFile, '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    ciphers = await opensslCiphers();
    candidates = {
      tls12: ciphers.filter((cipher) => cipher.protocol !== 'TLSv1.3').map((cipher) => cipher.name),
      tls13: [...new Set([...ciphers.filter((c) => c.protocol === 'TLSv1.3').map((c) => c.name), 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256'])],
    };
  });

  after(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('has OpenSSL list CBC suites and other groups to try, so the enumeration means something', () => {
    assert.ok(candidates.tls12.includes('ECDHE-ECDSA-AES128-SHA'), 'no CBC suite to try');
    assert.ok(candidates.tls12.includes('ECDHE-RSA-AES128-SHA'), 'no RSA CBC suite to try');
    assert.ok(candidates.tls12.length > 30, `only ${candidates.tls12.length} TLS 1.2 suites listed`);
  });

  it('service listener, ECDSA certificate: ECDHE-ECDSA AEAD suites, TLS 1.3, X25519/P-256/P-384, nothing else', async () => {
    const service = await start({});
    const result = await enumerate(service.port, pki.caFile, candidates, 'P-256');
    assertPolicy(result, ciphers, TLS12_CIPHER_SUITES.filter((suite) => suite.startsWith('ECDHE-ECDSA-')));
  });

  it('service listener, RSA certificate: ECDHE-RSA AEAD suites (no CBC), TLS 1.3, X25519/P-256/P-384, nothing else', async () => {
    const service = await start({ tls: rsa });
    const result = await enumerate(service.port, rsa.certFile, candidates);
    assertPolicy(result, ciphers, TLS12_CIPHER_SUITES.filter((suite) => suite.startsWith('ECDHE-RSA-')));
  });

  it('health listener of an mTLS service: the same policy', async () => {
    const service = await start({ tls: rsa, usersFile: undefined, clientCertificates: { caFile: pki.caFile } } as Partial<ServiceOptions>);
    assert.ok(service.healthPort !== undefined, 'no health listener');
    const result = await enumerate(service.healthPort, rsa.certFile, candidates);
    assertPolicy(result, ciphers, TLS12_CIPHER_SUITES.filter((suite) => suite.startsWith('ECDHE-RSA-')));
  });
});

describe('slow callers', () => {
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  const running: FarolService[] = [];

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir, ['api']);
    usersFile = await writeUsers(dir, { alice: 'correct horse battery staple' });
  });

  after(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  const start = serviceStarter(localServiceOptions(() => ({ pki, usersFile, dir })), running);

  it('bounds the handshake and the headers at 15 s by default', async () => {
    const resolved = resolveServiceOptions({ name: 'api', tls: { certFile: 'c.pem', keyFile: 'k.pem' }, usersFile: 'users.txt' });
    assert.deepEqual(resolved.timeouts, { handshakeMs: DEFAULT_HANDSHAKE_TIMEOUT_MS, headersMs: DEFAULT_HEADERS_TIMEOUT_MS });
    assert.equal(DEFAULT_HEADERS_TIMEOUT_MS, 15_000);
    assert.equal(DEFAULT_HANDSHAKE_TIMEOUT_MS, 15_000);
    const service = await start();
    assert.equal(service.app.server.headersTimeout, 15_000);
  });

  it('drops a verified TLS caller that sends half a request line and stalls, within the configured bound', async () => {
    const service = await start({ timeouts: { headersMs: 1000, handshakeMs: 1000 } });
    let handshakeDone = false;
    const result = await new Promise<{ ms: number; response: string }>((resolve, reject) => {
      let response = '';
      let began = 0;
      const socket = tlsConnect({ host: '127.0.0.1', port: service.port, ca: pki.caPem }, () => {
        handshakeDone = socket.authorized;
        began = performance.now();
        socket.write('GET / HT');
      });
      socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
      socket.once('error', reject);
      socket.once('close', () => resolve({ ms: performance.now() - began, response }));
      setTimeout(() => socket.destroy(new Error('still connected after 5 s')), 5000).unref();
    });
    assert.equal(handshakeDone, true, 'the server certificate was not verified');
    assert.ok(result.ms < 2500, `dropped after ${Math.round(result.ms)} ms`);
    assert.ok(result.ms >= 900, `dropped after ${Math.round(result.ms)} ms, before the bound`);
    assert.match(result.response, /^(HTTP\/1\.1 408|$)/);
  });

  it('drops a caller that never starts its TLS handshake, within the configured bound', async () => {
    const service = await start({ timeouts: { headersMs: 1000, handshakeMs: 1000 } });
    const ms = await new Promise<number>((resolve) => {
      const began = performance.now();
      const socket = tcpConnect({ host: '127.0.0.1', port: service.port });
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(performance.now() - began));
      setTimeout(() => socket.destroy(), 5000).unref();
    });
    assert.ok(ms < 2500, `dropped after ${Math.round(ms)} ms`);
  });
});
