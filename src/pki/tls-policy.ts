/**
 * Farol's one TLS policy: Mozilla's "intermediate" profile (https://wiki.mozilla.org/Security/Server_Side_TLS,
 * configuration 5.7), narrowed to ECDHE key exchange. Every Farol TLS server (the service listener,
 * its health listener) takes its options from here; clients may too.
 */
import type { SecureContextOptions, TlsOptions } from 'node:tls';

export const TLS_MIN_VERSION = 'TLSv1.2' as const;

/** TLS 1.3 suites (OpenSSL's names; Node routes the `TLS_` ones to SSL_CTX_set_ciphersuites). */
export const TLS13_CIPHER_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;

/**
 * TLS 1.2 suites: ECDHE with AEAD only (AES-GCM, ChaCha20-Poly1305). Mozilla's DHE-RSA suites are
 * left out: they would need finite-field groups, which this policy does not offer.
 */
export const TLS12_CIPHER_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** Key exchange groups, in preference order (TLS 1.2 ECDHE curves and TLS 1.3 key shares alike). */
export const TLS_GROUPS = ['X25519', 'P-256', 'P-384'] as const;

/** The policy as Node's secure-context options. */
export interface TlsPolicyOptions {
  minVersion: typeof TLS_MIN_VERSION;
  ciphers: string;
  ecdhCurve: string;
  /** Mozilla intermediate: the client chooses, since every offered suite is strong. */
  honorCipherOrder: false;
}

export const TLS_POLICY: Readonly<TlsPolicyOptions> = Object.freeze({
  minVersion: TLS_MIN_VERSION,
  ciphers: [...TLS13_CIPHER_SUITES, ...TLS12_CIPHER_SUITES].join(':'),
  ecdhCurve: TLS_GROUPS.join(':'),
  honorCipherOrder: false,
});

/** Default bound on a TLS handshake and on receiving a request's headers. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 15_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 15_000;

export interface ServerTimeouts {
  /** A connection that has not finished its TLS handshake after this long is dropped. */
  handshakeTimeoutMs: number;
  /** A request whose headers have not all arrived after this long is dropped (408 or a reset). */
  headersTimeoutMs: number;
}

/**
 * Node's HTTP(S) server options that enforce `timeouts`. Node only looks for expired requests every
 * `connectionsCheckingInterval` (default 30 s), which would let a slow-headers client hold a socket
 * for twice the bound; checking at a quarter of the bound keeps the overshoot small.
 */
export function serverTimeoutOptions(timeouts: ServerTimeouts): {
  handshakeTimeout: number;
  headersTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    handshakeTimeout: timeouts.handshakeTimeoutMs,
    headersTimeout: timeouts.headersTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeouts.headersTimeoutMs / 4))),
  };
}

/**
 * The secure context a Farol server uses for `material`: the key pair (and, for mTLS, the CA that
 * verifies client certificates) under the policy. Used both at creation and for
 * `server.setSecureContext()`, which replaces the whole context, so a swap keeps the policy.
 */
export function serverSecureContext(material: { key: string; cert: string; ca?: string }): SecureContextOptions & TlsOptions {
  return { ...TLS_POLICY, key: material.key, cert: material.cert, ...(material.ca !== undefined ? { ca: material.ca } : {}) };
}

/** The policy for a client: the same versions, suites and groups (pass into tls.connect or undici's `connect`). */
export function clientTlsPolicy(): Pick<TlsPolicyOptions, 'minVersion' | 'ciphers' | 'ecdhCurve'> {
  return { minVersion: TLS_POLICY.minVersion, ciphers: TLS_POLICY.ciphers, ecdhCurve: TLS_POLICY.ecdhCurve };
}
