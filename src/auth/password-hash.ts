import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Salted scrypt password hashes, encoded in the PHC string format:
 *
 *   $scrypt$ln=14,r=8,p=1$<salt>$<hash>
 *
 * ln is log2 of the cost N, r the block size, p the parallelism; salt and hash are standard
 * base64 without padding. Verification reads the parameters from the string, so hashes made
 * with other costs keep working, within limits that stop a crafted entry from costing
 * gigabytes of memory or seconds of CPU per login.
 */
export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

export interface EncodedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = { logN: 14, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;

// Bounds on what verification accepts. The default (16 MiB, 2^17 work units) sits well inside.
const LIMITS = {
  logN: { min: 1, max: 20 },
  r: { min: 1, max: 32 },
  p: { min: 1, max: 16 },
  maxMemoryBytes: 256 * 1024 * 1024,
  maxWork: 2 ** 21, // N * r * p: 16 times the default
  salt: { min: 8, max: 64 },
  hash: { min: 16, max: 64 },
};

const ENCODED = /^\$scrypt\$ln=([0-9]{1,2}),r=([0-9]{1,2}),p=([0-9]{1,2})\$([A-Za-z0-9+/]{11,88})\$([A-Za-z0-9+/]{22,88})$/;

/** OpenSSL's scrypt memory need for these parameters (its V and B arrays), plus headroom. */
function maxmemFor({ logN, r, p }: ScryptParams): number {
  return 128 * r * (2 ** logN + p + 2) + 1024 * 1024;
}

function scryptOptions(params: ScryptParams): ScryptOptions {
  return { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: maxmemFor(params) };
}

function derive(password: string, salt: Buffer, length: number, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password, 'utf8'), salt, length, scryptOptions(params), (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

function withinLimits({ logN, r, p }: ScryptParams): boolean {
  const inRange = (value: number, range: { min: number; max: number }): boolean => value >= range.min && value <= range.max;
  if (!inRange(logN, LIMITS.logN) || !inRange(r, LIMITS.r) || !inRange(p, LIMITS.p)) return false;
  return maxmemFor({ logN, r, p }) <= LIMITS.maxMemoryBytes && 2 ** logN * r * p <= LIMITS.maxWork;
}

/** Canonical unpadded base64 decoding: returns undefined for anything that would not re-encode identically. */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === text ? bytes : undefined;
}

/** Parses an encoded hash; undefined if it is not one this module would verify (bad syntax or out-of-bounds cost). */
export function parseEncodedHash(encoded: string): EncodedHash | undefined {
  const match = ENCODED.exec(encoded);
  if (!match) return undefined;
  const [, ln, r, p, saltText, hashText] = match as unknown as [string, string, string, string, string, string];
  const params = { logN: Number(ln), r: Number(r), p: Number(p) };
  if (!withinLimits(params)) return undefined;
  const salt = decodeBase64(saltText);
  const hash = decodeBase64(hashText);
  if (!salt || !hash) return undefined;
  if (salt.length < LIMITS.salt.min || salt.length > LIMITS.salt.max) return undefined;
  if (hash.length < LIMITS.hash.min || hash.length > LIMITS.hash.max) return undefined;
  return { ...params, salt, hash };
}

export function encodeHash({ logN, r, p, salt, hash }: EncodedHash): string {
  const b64 = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${logN},r=${r},p=${p}$${b64(salt)}$${b64(hash)}`;
}

/** Hashes a password with a fresh random 16-byte salt and the default scrypt cost. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, HASH_BYTES, DEFAULT_SCRYPT_PARAMS);
  return encodeHash({ ...DEFAULT_SCRYPT_PARAMS, salt, hash });
}

/**
 * True when `password` matches `encoded`. Never throws: a malformed or out-of-bounds encoding is
 * simply false (and costs no scrypt). The comparison is constant-time.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseEncodedHash(encoded);
  if (!parsed) return false;
  try {
    const candidate = await derive(password, parsed.salt, parsed.hash.length, parsed);
    return timingSafeEqual(candidate, parsed.hash);
  } catch {
    return false;
  }
}
