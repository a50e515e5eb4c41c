// @peculiar/x509 v2 resolves algorithms through tsyringe, which needs the Reflect metadata polyfill
// loaded first; ESM evaluates imports in order.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

/**
 * The configured @peculiar/x509 namespace. Code in Farol imports x509 from here, never from the
 * package directly, so the crypto provider (and the Reflect polyfill it needs) is always in place.
 */
export { x509 };

export const subtle = webcrypto.subtle;

/** ECDSA on P-256 with SHA-256: the default for every key Farol creates. */
export const EC_P256_SHA256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
