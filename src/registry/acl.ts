/**
 * The registry's ACL, reduced to what a single configured token means in Consul with
 * default_policy "deny": the token may do anything; a request with another token is refused
 * with 403 "ACL not found"; a request with no token is the anonymous token, whose reads
 * answer 200 with the forbidden results filtered out and whose writes are refused with 403
 * "Permission denied: anonymous token lacks permission ...". Pure decisions, no I/O.
 */
import { timingSafeEqual } from 'node:crypto';

export type AclAccess = 'read' | 'write';

export type AclDecision =
  | { outcome: 'allow' }
  /** Anonymous read: answer, but with every protected result filtered out. */
  | { outcome: 'filter' }
  | { outcome: 'deny'; status: 403; body: string };

export const ACL_NOT_FOUND = 'ACL not found';

/** Consul's acl.PermissionDeniedError text for the anonymous token. */
export function anonymousDenied(permission: string, resource: string): string {
  return (
    `Permission denied: anonymous token lacks permission '${permission}' on ${JSON.stringify(resource)}. ` +
    'The anonymous token is used implicitly when a request does not specify a token.'
  );
}

/** The token a request presents: X-Consul-Token, then Authorization: Bearer, then ?token=, as Consul's parseToken. */
export function presentedToken(headers: Record<string, string | string[] | undefined>, query: URLSearchParams): string | undefined {
  const header = headers['x-consul-token'];
  const consulToken = Array.isArray(header) ? header[0] : header;
  if (consulToken) return consulToken;
  const authorization = headers.authorization;
  const auth = Array.isArray(authorization) ? authorization[0] : authorization;
  if (auth) {
    const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (match?.[1]) return match[1].trim();
  }
  const fromQuery = query.get('token');
  return fromQuery ? fromQuery : undefined;
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * What to do with a request. `configured` undefined = ACLs off. `permission`/`resource` name the
 * rule a write needs, e.g. 'service:write' on "web".
 */
export function aclDecision(
  configured: string | undefined,
  presented: string | undefined,
  access: AclAccess,
  permission = '',
  resource = '',
): AclDecision {
  if (configured === undefined) return { outcome: 'allow' };
  if (presented !== undefined) {
    return sameToken(configured, presented) ? { outcome: 'allow' } : { outcome: 'deny', status: 403, body: ACL_NOT_FOUND };
  }
  if (access === 'read') return { outcome: 'filter' };
  return { outcome: 'deny', status: 403, body: anonymousDenied(permission, resource) };
}
