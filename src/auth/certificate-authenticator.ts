import type { X509Certificate } from 'node:crypto';
import { FarolError } from '../errors.js';
import { loadX509 } from '../pki/crypto-provider.js';
import type { AuthRequest, AuthResult, Authenticator, Principal } from './principal.js';

/** Where a certificate's identity may come from: its first SAN URI, its first SAN DNS name, its subject CN. */
export type CertificateIdentitySource = 'uri' | 'dns' | 'cn';

export interface CertificateAuthenticatorOptions {
  /**
   * Which names become the principal id, in order of preference; the first source the
   * certificate has a usable name for wins. Default ['uri', 'dns', 'cn']: a SPIFFE-style URI
   * (what `farol certs init --client` issues), else a DNS name, else the common name.
   */
  identity?: readonly CertificateIdentitySource[];
  /**
   * Which identities may authenticate at all (any trusted one when left out): exact ids, or
   * prefixes written with a trailing "*", e.g. 'spiffe://farol.local/client/*'; or a predicate.
   * Per-route rules belong in authorization (AccessRequirement); this is for a service that
   * shares its CA with callers it never wants to hear from.
   */
  allow?: readonly string[] | ((principal: Principal) => boolean);
  /** 'ou' (default): the subject's organizational units become the principal's groups. */
  groups?: 'ou' | 'none';
  /** Wall clock in milliseconds since the epoch, for tests. Default Date.now. */
  now?: () => number;
}

/** TLS client authentication has no HTTP auth-scheme; this is the name it goes by in Farol. */
export const CERTIFICATE_SCHEME = 'mTLS';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const IDENTITY_SOURCES: readonly CertificateIdentitySource[] = ['uri', 'dns', 'cn'];
// OpenSSL's verification error names (X509_V_ERR_* as Node reports them); anything else is not echoed.
const ERROR_CODE = /^[A-Z0-9_]{1,64}$/;
// An identity goes into principals, audit lines and authorization rules: printable, and of a sane length.
const MAX_IDENTITY_LENGTH = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** What the authenticator needs from a certificate, read once per certificate object. */
interface CertificateFacts {
  extendedKeyUsages: string[] | undefined;
  notBefore: number;
  notAfter: number;
  uris: string[];
  dnsNames: string[];
  commonNames: string[];
  organizationalUnits: string[];
}

function readFacts(certificate: X509Certificate): CertificateFacts {
  const x509 = loadX509();
  const parsed = new x509.X509Certificate(certificate.raw);
  const names = parsed.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const ofType = (type: string) => names.filter((name) => name.type === type).map((name) => name.value);
  return {
    extendedKeyUsages: parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String),
    notBefore: parsed.notBefore.getTime(),
    notAfter: parsed.notAfter.getTime(),
    uris: ofType('url'),
    // A wildcard names many hosts, never one caller.
    dnsNames: ofType('dns').filter((name) => !name.startsWith('*')),
    commonNames: parsed.subjectName.getField('CN'),
    organizationalUnits: parsed.subjectName.getField('OU'),
  };
}

function usable(name: string): boolean {
  return name.trim() !== '' && name.length <= MAX_IDENTITY_LENGTH && !CONTROL_CHARACTER.test(name);
}

function identityOf(facts: CertificateFacts, sources: readonly CertificateIdentitySource[]): string | undefined {
  const candidates: Record<CertificateIdentitySource, string[]> = { uri: facts.uris, dns: facts.dnsNames, cn: facts.commonNames };
  for (const source of sources) {
    const found = candidates[source].find(usable);
    if (found !== undefined) return found;
  }
  return undefined;
}

function invalidOption(message: string, hint: string): FarolError {
  return new FarolError('CONFIG_INVALID', message, { hint });
}

function allowRule(allow: CertificateAuthenticatorOptions['allow']): (principal: Principal) => boolean {
  if (allow === undefined) return () => true;
  if (typeof allow === 'function') return allow;
  if (allow.some((entry) => entry === '' || entry === '*')) {
    throw invalidOption('an allowed certificate identity is empty', 'list identities such as spiffe://farol.local/client/alice, or prefixes ending in "*"');
  }
  const exact = new Set(allow.filter((entry) => !entry.endsWith('*')));
  const prefixes = allow.filter((entry) => entry.endsWith('*')).map((entry) => entry.slice(0, -1));
  return (principal) => exact.has(principal.id) || prefixes.some((prefix) => principal.id.startsWith(prefix));
}

function identitySources(identity: CertificateAuthenticatorOptions['identity']): readonly CertificateIdentitySource[] {
  const sources = identity ?? IDENTITY_SOURCES;
  if (sources.length === 0 || sources.some((source) => !IDENTITY_SOURCES.includes(source))) {
    throw invalidOption(`certificate identity sources must be some of ${IDENTITY_SOURCES.join(', ')}, got [${sources.join(', ')}]`, "e.g. ['uri', 'dns', 'cn'] (the default) or ['cn']");
  }
  return sources;
}

/**
 * Authenticates the caller by its TLS client certificate (mutual TLS).
 *
 * The TLS layer has already verified the chain against the service's client CA (Node's
 * `authorized`, with OpenSSL's checks of signature, validity and the sslclient purpose); this
 * authenticator turns that verdict into a principal, and re-checks what it relies on itself:
 * - no TLS information, or no certificate sent: 'absent' (another authenticator may answer);
 * - a certificate the TLS layer did not authorize: rejected, 401, naming OpenSSL's reason
 *   (e.g. 'client certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE');
 * - an extended key usage extension without clientAuth: rejected (a server certificate is not a
 *   client's identity);
 * - outside its validity window by this authenticator's clock: rejected;
 * - no usable identity in the chosen sources, or an identity `allow` refuses: rejected.
 * Otherwise: `{ kind: 'certificate', id, groups? }`, the id from the first source in `identity`
 * that has a name, the groups from the subject's OUs.
 *
 * Challenge: TLS client authentication has no WWW-Authenticate scheme (RFC 9110 registers none,
 * and RFC 8120's "Mutual" is an unrelated password protocol), so `challenge()` and the rejections
 * carry ''. A service that also accepts a header scheme should put that scheme's challenge on
 * the 401; with certificates alone, there is nothing a client can be invited to send.
 */
export function createCertificateAuthenticator(opts: CertificateAuthenticatorOptions = {}): Authenticator {
  const sources = identitySources(opts.identity);
  const allowed = allowRule(opts.allow);
  const now = opts.now ?? Date.now;
  const withGroups = (opts.groups ?? 'ou') === 'ou';
  // A connection presents the same certificate object on every request (the service caches it per socket).
  const factsByCertificate = new WeakMap<X509Certificate, CertificateFacts | 'unreadable'>();
  const challenge = '';
  const reject = (reason: string): AuthResult => ({ outcome: 'rejected', status: 401, reason, challenge });

  const factsOf = (certificate: X509Certificate): CertificateFacts | 'unreadable' => {
    let facts = factsByCertificate.get(certificate);
    if (facts === undefined) {
      try {
        facts = readFacts(certificate);
      } catch {
        facts = 'unreadable';
      }
      factsByCertificate.set(certificate, facts);
    }
    return facts;
  };

  return {
    scheme: CERTIFICATE_SCHEME,
    challenge: () => challenge,
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const certificate = req.tls?.peerCertificate;
      if (req.tls === undefined || certificate === undefined) return { outcome: 'absent' };
      if (req.tls.authorized !== true) {
        const code = req.tls.authorizationError;
        return reject(`client certificate not trusted: ${typeof code === 'string' && ERROR_CODE.test(code) ? code : 'unknown verification error'}`);
      }
      const facts = factsOf(certificate);
      if (facts === 'unreadable') return reject('client certificate cannot be parsed');
      if (facts.extendedKeyUsages !== undefined && !facts.extendedKeyUsages.includes(CLIENT_AUTH)) {
        return reject('client certificate is not for client authentication');
      }
      const time = now();
      if (time < facts.notBefore) return reject('client certificate is not yet valid');
      if (time > facts.notAfter) return reject('client certificate has expired');
      const id = identityOf(facts, sources);
      if (id === undefined) return reject('client certificate carries no usable identity');
      const groups = withGroups ? facts.organizationalUnits.filter(usable) : [];
      const principal: Principal = { kind: 'certificate', id, ...(groups.length > 0 ? { groups } : {}) };
      if (!allowed(principal)) return reject('client certificate identity is not allowed');
      return { outcome: 'authenticated', principal };
    },
  };
}
