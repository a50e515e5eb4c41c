export type { PemPair, CertificateUsage } from './types.js';
export { createCertificateAuthority } from './ca.js';
export type { CreateCertificateAuthorityOptions } from './ca.js';
export { issueCertificate } from './issue.js';
export type { IssueCertificateOptions } from './issue.js';
export { serverSubjectAltNames, clientSubjectAltNames, CLIENT_TRUST_DOMAIN } from './subject-alt-names.js';
export { CERT_FILE_NAMES, clientCertFileNames } from './file-names.js';
export { initCertificates } from './init.js';
export type { InitCertificatesOptions, InitCertificatesResult } from './init.js';
export { loadServerTls, loadCaBundle, loadCaSource, loadCaSourceSync, loadKeyPairSource, loadKeyPairSourceSync, checkCaPem, checkKeyPairPem } from './load.js';
export type { TlsMaterial, ServerTlsFiles, LoadedCa, LoadedKeyPair, KeyPairProblem } from './load.js';
export { caSourceSchema, keyPairSourceSchema, isCaSource, isKeyPairSource, sourceFiles, toCaSource } from './sources.js';
export type { CaSource, KeyPairSource } from './sources.js';
export { createServerTlsProvider, createClientTlsProvider, DEFAULT_TLS_POLL_INTERVAL_MS, DEFAULT_TLS_SETTLE_MS } from './tls-provider.js';
export type { TlsProvider, TlsProviderOptions, TlsReloadOutcome, ServerTlsState, ClientTlsState } from './tls-provider.js';
export { loadCertificateAuthority } from './ca.js';
export type { LoadedCertificateAuthority } from './ca.js';
export { issueLeaf } from './issue-files.js';
export type { IssueLeafOptions, IssueLeafResult } from './issue-files.js';
export { renewLeaves, DEFAULT_RENEW_WITHIN_MS } from './renew.js';
export type { RenewLeavesOptions, RenewLeavesResult, RenewedLeaf, LeftLeaf } from './renew.js';
export { describeCertificate, describeCertificateFile, NO_SUBJECT_ALT_NAMES_WARNING } from './describe.js';
export type { CertificateDescription } from './describe.js';
export { expiryWarning, msUntilNextExpiryCheck, EXPIRY_THRESHOLDS } from './expiry.js';
export type { ExpiryThreshold, ExpiryWarning } from './expiry.js';
export { leafFileNames } from './file-names.js';
export {
  TLS_POLICY,
  TLS_MIN_VERSION,
  TLS12_CIPHER_SUITES,
  TLS13_CIPHER_SUITES,
  TLS_GROUPS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  serverSecureContext,
  serverTimeoutOptions,
  clientTlsPolicy,
} from './tls-policy.js';
export type { TlsPolicyOptions, ServerTimeouts } from './tls-policy.js';
