import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

export interface CheckServerName {
  /** The name Consul verifies the certificate against: the advertised address when the certificate names it. */
  tlsServerName?: string;
  /** Why Consul's HTTPS check cannot pass with this certificate, when it cannot. */
  warning?: string;
}

/**
 * Decides the TLSServerName of Consul's HTTPS check. It is always set: with
 * enable_agent_tls_for_checks (how an agent is told to trust the Farol CA), Consul verifies a check
 * without one against the agent's own node name, which no service certificate carries. Go checks
 * subjectAltName only, never the subject CN, so the name is the advertised address when the
 * certificate names it, else one of its DNS names; a certificate with no subjectAltName at all
 * (e.g. `openssl req -x509 -subj /CN=localhost`) cannot pass.
 */
export function checkServerName(certPem: string, advertiseAddress: string): CheckServerName {
  const cert = new X509Certificate(certPem);
  const host = advertiseAddress.replace(/^\[(.*)\]$/, '$1');
  const covered = isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host, { subject: 'never' }) !== undefined;
  if (covered) return { tlsServerName: host };
  const dnsName = dnsNamesOf(cert).find((name) => !name.includes('*'));
  if (dnsName !== undefined) return { tlsServerName: dnsName };
  return {
    warning:
      `the certificate names neither ${advertiseAddress} nor any DNS name in subjectAltName, so Consul's HTTPS check ` +
      'will fail to verify it; issue one with `farol certs init` or use --check ttl',
  };
}

function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length));
}
