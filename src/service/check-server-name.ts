import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { FarolError } from '../errors.js';
import type { HealthCheckKind } from './options.js';

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
  const covered = isIP(host)
    ? cert.checkIP(host) !== undefined
    : cert.checkHost(host, { subject: 'never', partialWildcards: false }) !== undefined;
  if (covered) return { tlsServerName: host };
  const dnsName = dnsNamesOf(cert).find((name) => !name.includes('*'));
  if (dnsName !== undefined) return { tlsServerName: dnsName };
  return {
    warning:
      `the certificate names neither ${advertiseAddress} nor any DNS name in subjectAltName, so Consul's HTTPS check ` +
      'will fail to verify it; issue one with `farol certs issue --dir <CA dir> --host <name>` or use --check ttl',
  };
}

function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length));
}

/** The health check an instance registers, decided from what was asked and what Consul can verify. */
export type HealthCheckPlan =
  | { kind: 'https'; tlsServerName?: string }
  /** `warning`: Farol chose TTL because Consul could not verify the certificate; says what to do about it. */
  | { kind: 'ttl'; warning?: string };

/**
 * Decides the check before anything listens, so a certificate Consul cannot verify never leaves
 * an instance critical. Asked for nothing: https when Consul can verify the certificate, else
 * ttl with a warning (the original project's `openssl req -x509 -subj /CN=localhost` certificate
 * then works as it is). Asked for https explicitly: an error naming the flag to add, rather than
 * silently overriding the request or registering a check that can never pass.
 */
export function planHealthCheck(requested: HealthCheckKind | undefined, certPem: string, advertiseAddress: string): HealthCheckPlan {
  if (requested === 'ttl') return { kind: 'ttl' };
  const { tlsServerName } = checkServerName(certPem, advertiseAddress);
  if (tlsServerName !== undefined) return { kind: 'https', tlsServerName };
  const why =
    `the certificate's subjectAltName names neither ${advertiseAddress} nor any DNS name, and Consul verifies ` +
    'subjectAltName only (never the subject CN)';
  const fix = `a certificate whose subjectAltName names ${advertiseAddress} (farol certs issue --host ${advertiseAddress})`;
  if (requested === 'https') {
    throw new FarolError('CONFIG_INVALID', `Consul's HTTPS health check could never pass: ${why}`, {
      hint: `add --check ttl (option check.kind: 'ttl'), or serve ${fix}`,
    });
  }
  return {
    kind: 'ttl',
    warning: `health check: TTL heartbeats instead of HTTPS, because ${why}; to have Consul call /health, serve ${fix}`,
  };
}
