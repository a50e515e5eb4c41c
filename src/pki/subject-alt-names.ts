import { isIP } from 'node:net';
import { FarolError } from '../errors.js';
import { assertValidClientName } from './file-names.js';

export interface SubjectAltNames {
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
}

/** One entry of a subjectAltName extension, in @peculiar/x509's JSON form. */
export interface GeneralNameEntry {
  type: 'dns' | 'ip' | 'url';
  value: string;
}

const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

export function isValidDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  const [first, ...rest] = labels;
  if (first === '*' && rest.length >= 2) return rest.every((label) => DNS_LABEL.test(label));
  return labels.every((label) => DNS_LABEL.test(label));
}

/**
 * The names a Farol server certificate answers to: localhost and both loopback addresses, plus
 * `<service>.service.consul` for each service (Consul's DNS name for it).
 */
export function serverSubjectAltNames(services: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames = ['localhost'];
  for (const service of services) {
    if (!DNS_LABEL.test(service)) {
      throw new FarolError('CONFIG_INVALID', `Service name "${service}" cannot be used in a DNS name`, {
        hint: 'use letters, digits and hyphens only (at most 63 characters), as Consul DNS expects',
      });
    }
    const dnsName = `${service}.service.consul`;
    if (!dnsNames.includes(dnsName)) dnsNames.push(dnsName);
  }
  return { dnsNames, ipAddresses: ['127.0.0.1', '::1'] };
}

/** The SPIFFE trust domain in the identity of client certificates `farol certs init` issues. */
export const CLIENT_TRUST_DOMAIN = 'farol.local';

/**
 * The name a Farol client certificate carries as its identity: the URI
 * `spiffe://farol.local/client/<name>` (a SPIFFE ID, as in an X.509-SVID). A URI rather than a DNS
 * name, so the certificate claims no host name a TLS client could ever match, and so it has the
 * form service meshes (Consul Connect, Istio, SPIRE) already put in client certificates. A client
 * name's alphabet (letters, digits, ".", "_", "-"; no "." or ".." segment) is exactly what a
 * SPIFFE path segment allows, so the name goes in unchanged.
 */
export function clientSubjectAltNames(name: string): { uris: string[] } {
  assertValidClientName(name);
  return { uris: [`spiffe://${CLIENT_TRUST_DOMAIN}/client/${name}`] };
}

/** Rewrites an IPv6 address with a trailing dotted quad (::ffff:10.0.0.1) to pure hex groups. */
function withoutEmbeddedIpv4(address: string): string {
  const match = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (!match) return address;
  const octets = match.slice(2).map(Number);
  const group = (at: number) => (((octets[at] ?? 0) << 8) | (octets[at + 1] ?? 0)).toString(16);
  return `${match[1] ?? ''}${group(0)}:${group(2)}`;
}

function invalidName(kind: string, value: string, hint: string): FarolError {
  return new FarolError('CONFIG_INVALID', `Invalid ${kind} for a certificate: "${value}"`, { hint });
}

/** Validates and de-duplicates subject alternative names into extension entries (DNS, then IP, then URI). */
export function generalNames(names: SubjectAltNames): GeneralNameEntry[] {
  const entries: GeneralNameEntry[] = [];
  const add = (entry: GeneralNameEntry) => {
    if (!entries.some((existing) => existing.type === entry.type && existing.value === entry.value)) entries.push(entry);
  };
  for (const dnsName of names.dnsNames ?? []) {
    if (!isValidDnsName(dnsName)) throw invalidName('DNS name', dnsName, 'use a hostname such as api.service.consul (a leading "*." is allowed)');
    add({ type: 'dns', value: dnsName });
  }
  for (const address of names.ipAddresses ?? []) {
    if (isIP(address) === 0 || address.includes('%')) {
      throw invalidName('IP address', address, 'use a literal IPv4 or IPv6 address without a zone, such as 127.0.0.1 or ::1');
    }
    add({ type: 'ip', value: isIP(address) === 6 ? withoutEmbeddedIpv4(address) : address });
  }
  for (const uri of names.uris ?? []) {
    if (!URL.canParse(uri)) throw invalidName('URI', uri, 'use an absolute URI such as spiffe://farol/service/api');
    add({ type: 'url', value: uri });
  }
  return entries;
}
