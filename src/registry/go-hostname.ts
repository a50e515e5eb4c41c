/**
 * Host name verification as Go's crypto/x509 does it (Certificate.VerifyHostname), which is what a
 * real Consul agent applies to an HTTPS check. Node's tls.checkServerIdentity differs: it falls
 * back to the subject CN when a certificate has no DNS names, so a certificate made with
 * `openssl req -x509 -subj /CN=localhost` would pass here and stay critical in Consul. Go looks
 * at subjectAltName only, and wildcards only as a whole leftmost label.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/** Go's HostnameError text for `host` against `cert`, or undefined when the certificate is valid for it. */
export function goHostnameError(host: string, cert: X509Certificate): string | undefined {
  const name = host.replace(/^\[(.*)\]$/, '$1');
  const sans = parseSubjectAltName(cert.subjectAltName);
  if (isIP(name)) {
    if (cert.checkIP(name) !== undefined) return undefined;
  } else if (cert.checkHost(name.replace(/\.$/, ''), { subject: 'never', partialWildcards: false, multiLabelWildcards: false }) !== undefined) {
    return undefined;
  }
  if (sans.length === 0 && cert.checkHost(name, { subject: 'always', partialWildcards: false }) !== undefined) {
    return 'x509: certificate relies on legacy Common Name field, use SANs instead';
  }
  let valid: string;
  if (isIP(name)) {
    const ips = sans.filter((san) => san.startsWith('IP Address:')).map((san) => san.slice('IP Address:'.length));
    if (ips.length === 0) return `x509: cannot validate certificate for ${name} because it doesn't contain any IP SANs`;
    valid = ips.join(', ');
  } else {
    valid = sans.filter((san) => san.startsWith('DNS:')).map((san) => san.slice('DNS:'.length)).join(', ');
  }
  if (valid === '') return `x509: certificate is not valid for any names, but wanted to match ${name}`;
  return `x509: certificate is valid for ${valid}, not ${name}`;
}

/**
 * A `checkServerIdentity` for tls.connect (and undici's `connect`) that verifies as Go does. The
 * error carries Node's code for a name mismatch and Go's text as `reason`.
 */
export function goCheckServerIdentity(host: string, peer: { raw: Buffer }): Error | undefined {
  const reason = goHostnameError(host, new X509Certificate(peer.raw));
  if (reason === undefined) return undefined;
  return Object.assign(new Error(`Hostname/IP does not match certificate's altnames: ${reason}`), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    reason,
    host,
  });
}

function parseSubjectAltName(text: string | undefined): string[] {
  return text === undefined || text === '' ? [] : text.split(', ');
}
