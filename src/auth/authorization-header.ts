import type { AuthRequest } from './principal.js';

/**
 * An Authorization header value, classified. `name` on a malformed result is the auth-scheme as
 * sent, when one could be read, so the authenticator for that scheme can answer for it.
 */
export type ParsedAuthorization =
  | { scheme: 'basic'; username: string; password: string }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'other'; name: string }
  | { scheme: 'malformed'; reason: string; name?: string };

/** Longer values are refused unread: no legitimate credential comes near it. */
export const MAX_AUTHORIZATION_LENGTH = 8192;

// RFC 9110 token (the auth-scheme), anchored at the start only: the rest is examined separately.
const SCHEME_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
// RFC 4648 section 4 base64 with mandatory padding, as RFC 7617 requires.
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// RFC 6750 b64token.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function malformed(reason: string, name?: string): ParsedAuthorization {
  return name === undefined ? { scheme: 'malformed', reason } : { scheme: 'malformed', reason, name };
}

function isOws(char: string | undefined): boolean {
  return char === ' ' || char === '\t';
}

/**
 * Parses an Authorization header value (RFC 7235 credentials; Basic per RFC 7617, Bearer per
 * RFC 6750). Pure and total: any string yields a result, `undefined` only for an absent header.
 * The scheme is case-insensitive and may be followed by one or more spaces. Basic credentials
 * must be padded, canonical base64 of valid UTF-8 containing a ':'; the user name may be empty
 * (RFC 7617 allows it) and everything after the first ':' is the password.
 */
export function parseAuthorization(value: string | undefined): ParsedAuthorization | undefined {
  if (value === undefined) return undefined;
  // Index loops rather than regexes for trimming: a regex like /[ \t]+$/ is quadratic on long runs of spaces.
  let start = 0;
  while (isOws(value[start])) start += 1;
  if (value.length > MAX_AUTHORIZATION_LENGTH) {
    return malformed(`header is longer than ${MAX_AUTHORIZATION_LENGTH} characters`, SCHEME_TOKEN.exec(value.slice(start, start + 64))?.[0]);
  }
  let end = value.length;
  while (end > start && isOws(value[end - 1])) end -= 1;
  const field = value.slice(start, end);
  if (field === '') return malformed('header is empty');

  const name = SCHEME_TOKEN.exec(field)?.[0];
  if (name === undefined) return malformed('header does not start with an authentication scheme');
  let credentialsStart = name.length;
  if (credentialsStart < field.length && field[credentialsStart] !== ' ') {
    return malformed('expected a space after the authentication scheme', name);
  }
  while (field[credentialsStart] === ' ') credentialsStart += 1;
  const credentials = field.slice(credentialsStart);

  switch (name.toLowerCase()) {
    case 'basic':
      return parseBasicCredentials(credentials, name);
    case 'bearer':
      return parseBearerToken(credentials, name);
    default:
      return { scheme: 'other', name };
  }
}

function parseBasicCredentials(credentials: string, name: string): ParsedAuthorization {
  if (credentials === '') return malformed('Basic credentials are missing', name);
  if (/[ \t]/.test(credentials)) return malformed('unexpected text after the Basic credentials', name);
  if (!PADDED_BASE64.test(credentials)) return malformed('Basic credentials are not padded base64', name);
  const bytes = Buffer.from(credentials, 'base64');
  if (bytes.toString('base64') !== credentials) return malformed('Basic credentials are not canonical base64', name);
  let decoded: string;
  try {
    decoded = utf8.decode(bytes);
  } catch {
    return malformed('Basic credentials are not valid UTF-8', name);
  }
  const colon = decoded.indexOf(':');
  if (colon === -1) return malformed('Basic credentials have no ":" between user name and password', name);
  return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function parseBearerToken(credentials: string, name: string): ParsedAuthorization {
  if (credentials === '') return malformed('Bearer token is missing', name);
  if (!B64TOKEN.test(credentials)) return malformed('Bearer token is not a b64token (RFC 6750)', name);
  return { scheme: 'bearer', token: credentials };
}

/** The request's Authorization header values (header names match case-insensitively). */
export function authorizationValues(req: AuthRequest): string[] {
  const values: string[] = [];
  for (const [header, value] of Object.entries(req.headers)) {
    if (header.toLowerCase() !== 'authorization') continue;
    if (typeof value === 'string') values.push(value);
    else if (Array.isArray(value)) values.push(...value.filter((item): item is string => typeof item === 'string'));
  }
  return values;
}

// One request goes through a chain of authenticators (and the limiter around Basic), each asking
// for its Authorization header: it is parsed once per request.
const parsedByRequest = new WeakMap<AuthRequest, ParsedAuthorization | undefined>();

/**
 * The request's Authorization header, parsed. Header names match case-insensitively. More than
 * one Authorization value is ambiguous, so it is malformed (attributed to the first value's scheme).
 */
export function parseRequestAuthorization(req: AuthRequest): ParsedAuthorization | undefined {
  if (parsedByRequest.has(req)) return parsedByRequest.get(req);
  const parsed = parseValues(authorizationValues(req));
  parsedByRequest.set(req, parsed);
  return parsed;
}

function parseValues(values: string[]): ParsedAuthorization | undefined {
  const first = parseAuthorization(values[0]);
  if (values.length <= 1 || first === undefined) return first;
  const name = first.scheme === 'other' || first.scheme === 'malformed' ? first.name : first.scheme === 'basic' ? 'Basic' : 'Bearer';
  return malformed('more than one Authorization header', name);
}
