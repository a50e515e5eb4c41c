/** A certificate and its private key, both PEM. The key is PKCS#8 ("-----BEGIN PRIVATE KEY-----"). */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** Which extended key usages a leaf certificate carries: TLS server, TLS client, or both. */
export type CertificateUsage = 'server' | 'client' | 'both';
