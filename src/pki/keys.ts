import { createPrivateKey, type webcrypto } from 'node:crypto';
import { EC_P256_SHA256, loadX509, subtle } from './crypto-provider.js';

export function generateEcKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return subtle.generateKey(EC_P256_SHA256, true, ['sign', 'verify']);
}

export async function exportPrivateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key);
  return loadX509().PemConverter.encode(der, 'PRIVATE KEY');
}

export interface SigningKey {
  key: webcrypto.CryptoKey;
  /** The signature algorithm that goes with the key, for certificates it signs. */
  algorithm: { name: string; hash: string; namedCurve?: string };
}

const hashForCurve: Record<string, string> = { 'prime256v1': 'SHA-256', 'secp384r1': 'SHA-384', 'secp521r1': 'SHA-512' };
const webCryptoCurve: Record<string, string> = { 'prime256v1': 'P-256', 'secp384r1': 'P-384', 'secp521r1': 'P-521' };

/**
 * Imports a CA private key for signing. Accepts any PEM form node:crypto reads (PKCS#8, SEC1 "EC PRIVATE KEY",
 * PKCS#1 "RSA PRIVATE KEY"), so a CA made elsewhere (e.g. by OpenSSL) can sign Farol's certificates.
 * Throws (a plain Error) for unsupported key types; callers turn that into a FarolError.
 */
export async function importSigningKey(keyPem: string): Promise<SigningKey> {
  const keyObject = createPrivateKey(keyPem);
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const type = keyObject.asymmetricKeyType;
  if (type === 'ec') {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve ?? '';
    const namedCurve = webCryptoCurve[curve];
    const hash = hashForCurve[curve];
    if (!namedCurve || !hash) throw new Error(`unsupported EC curve ${curve}`);
    const algorithm = { name: 'ECDSA', namedCurve, hash };
    return { key: await subtle.importKey('pkcs8', der, algorithm, false, ['sign']), algorithm };
  }
  if (type === 'rsa') {
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { key: await subtle.importKey('pkcs8', der, algorithm, false, ['sign']), algorithm };
  }
  throw new Error(`unsupported key type ${type ?? 'unknown'}`);
}
