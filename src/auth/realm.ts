import { FarolError } from '../errors.js';

// What a quoted-string may hold in a header Node will send: HTAB, visible ASCII, space, obs-text.
const HEADER_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;

/** True when `realm` can be written into a challenge (printable ASCII, tab, obs-text). */
export function isValidRealm(realm: string): boolean {
  return typeof realm === 'string' && HEADER_TEXT.test(realm);
}

/** An RFC 9110 quoted-string: `"` and `\` escaped with a backslash. The caller ensures the text is header-safe. */
export function quotedString(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The realm of a challenge, checked when an authenticator is created: it comes from configuration. */
export function checkRealm(scheme: string, realm: string): void {
  if (!isValidRealm(realm)) {
    throw new FarolError('CONFIG_INVALID', `the ${scheme} auth realm contains characters that cannot appear in an HTTP header`, {
      hint: 'use a realm of printable ASCII (the service name is the default)',
    });
  }
}
