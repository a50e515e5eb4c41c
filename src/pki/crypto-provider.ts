import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as X509Module from '@peculiar/x509';

/** @peculiar/x509's types; its code is loaded by loadX509() on first use. */
export type * as X509 from '@peculiar/x509';

const require = createRequire(import.meta.url);
let x509: typeof X509Module | undefined;

/**
 * The configured @peculiar/x509 namespace, loaded (synchronously, from its CommonJS build) the
 * first time it is needed. Code in Farol gets x509 from here, never from the package directly, so
 * the crypto provider (and the Reflect polyfill it needs) is always in place.
 *
 * Why lazily: with reflect-metadata, tsyringe and asn1js it costs a process ≈ 4 MB of memory and
 * ≈ 8 MB of start-up garbage, and a running instance needs none of it (its TLS material goes
 * through node:crypto): only issuing or describing certificates and reading client certificates
 * (mTLS) use it. Through require() rather than import(): the functions using it stay synchronous,
 * and every caller shares the one (CommonJS) copy of its classes.
 */
export function loadX509(): typeof X509Module {
  if (x509 === undefined) {
    // @peculiar/x509 v2 resolves algorithms through tsyringe, which needs the Reflect metadata polyfill first.
    require('reflect-metadata');
    const loaded = require('@peculiar/x509') as typeof X509Module;
    loaded.cryptoProvider.set(webcrypto);
    x509 = loaded;
  }
  return x509;
}

export const subtle = webcrypto.subtle;

/** ECDSA on P-256 with SHA-256: the default for every key Farol creates. */
export const EC_P256_SHA256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
