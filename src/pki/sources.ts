import { z } from 'zod';

/**
 * Where trusted CA certificates come from: PEM text (one bundle, or several), or a PEM file that
 * may hold several certificates. A file is read again when it changes (see the TLS providers).
 */
export type CaSource = { pem: string | string[] } | { file: string };

/**
 * A certificate (optionally followed by its intermediates) and its private key: PEM text, or the
 * two files holding them. `PemPair` ({ certPem, keyPem }) is one of these.
 */
export type KeyPairSource = { certPem: string; keyPem: string } | { certFile: string; keyFile: string };

const nonEmpty = z.string().min(1, { error: 'must not be empty' });

export const caSourceSchema = z.union(
  [z.strictObject({ pem: z.union([nonEmpty, z.array(nonEmpty).min(1)]) }), z.strictObject({ file: nonEmpty })],
  { error: 'must be { pem } (PEM text) or { file } (a PEM file)' },
);

export const keyPairSourceSchema = z.union(
  [z.strictObject({ certPem: nonEmpty, keyPem: nonEmpty }), z.strictObject({ certFile: nonEmpty, keyFile: nonEmpty })],
  { error: 'must be { certPem, keyPem } (PEM text) or { certFile, keyFile } (files)' },
);

export function isCaSource(value: unknown): value is CaSource {
  return caSourceSchema.safeParse(value).success;
}

export function isKeyPairSource(value: unknown): value is KeyPairSource {
  return keyPairSourceSchema.safeParse(value).success;
}

/** The files a source is read from (none for PEM text, which never changes). */
export function sourceFiles(source: CaSource | KeyPairSource): string[] {
  if ('file' in source) return [source.file];
  if ('certFile' in source) return [source.certFile, source.keyFile];
  return [];
}

/** Reads an earlier option shape: PEM text is `{ pem }`, `{ caFile }` is `{ file }`. */
export function toCaSource(value: CaSource | string | string[] | { caFile: string }): CaSource {
  if (typeof value === 'string' || Array.isArray(value)) return { pem: value };
  if ('caFile' in value) return { file: value.caFile };
  return value;
}
