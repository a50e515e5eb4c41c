import { FarolError } from '../errors.js';
import type { Principal } from './principal.js';

/**
 * What a route demands of an authenticated caller. Every listed condition must hold:
 * - `scopes`: the principal holds all of them (OAuth2 scopes, from a token: users and
 *   certificates hold none, so a scope-protected route refuses them);
 * - `principals`: the principal's id is one of them (e.g. a user name or a SPIFFE id);
 * - `groups`: the principal belongs to at least one of them (e.g. a certificate's OU);
 * - `kinds`: the principal authenticated in one of these ways (e.g. only 'certificate').
 */
export interface AccessRequirement {
  scopes?: readonly string[];
  principals?: readonly string[];
  groups?: readonly string[];
  kinds?: readonly Principal['kind'][];
}

export type AccessDecision =
  | { allowed: true }
  /** `reason` is safe for the audit log; `missingScopes` feeds RFC 6750's insufficient_scope challenge. */
  | { allowed: false; reason: string; missingScopes: string[] };

// RFC 6749 section 3.3 scope-token: printable ASCII except space, '"' and '\'.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const PRINCIPAL_KINDS: readonly Principal['kind'][] = ['user', 'token', 'certificate'];

/**
 * Checks a requirement once, when a service or route is configured, so a typo in a scope fails
 * at startup instead of refusing every request. Returns it with duplicates removed.
 */
export function accessRequirement(requirement: AccessRequirement): AccessRequirement {
  const { scopes, principals, groups, kinds } = requirement;
  for (const scope of scopes ?? []) {
    if (!SCOPE_TOKEN.test(scope)) {
      throw new FarolError('CONFIG_INVALID', `required scope ${JSON.stringify(scope)} is not an OAuth2 scope`, {
        hint: 'a scope is printable ASCII without spaces, quotes or backslashes, e.g. orders:read',
      });
    }
  }
  if ([...(principals ?? []), ...(groups ?? [])].includes('')) {
    throw new FarolError('CONFIG_INVALID', 'an allowed principal or group is empty', {
      hint: 'list user names, token subjects, certificate identities or group names',
    });
  }
  for (const kind of kinds ?? []) {
    if (!PRINCIPAL_KINDS.includes(kind)) {
      throw new FarolError('CONFIG_INVALID', `principal kind ${JSON.stringify(kind)} does not exist`, {
        hint: `use ${PRINCIPAL_KINDS.join(', ')}`,
      });
    }
  }
  return {
    ...(scopes ? { scopes: [...new Set(scopes)] } : {}),
    ...(principals ? { principals: [...new Set(principals)] } : {}),
    ...(groups ? { groups: [...new Set(groups)] } : {}),
    ...(kinds ? { kinds: [...new Set(kinds)] } : {}),
  };
}

/**
 * Pure: may this principal use a route? Every requirement given (typically the service's and the
 * route's own) must be met; the first unmet one decides. Authenticated but not allowed is a 403.
 */
export function authorize(principal: Principal, ...requirements: (AccessRequirement | undefined)[]): AccessDecision {
  for (const requirement of requirements) {
    if (requirement === undefined) continue;
    const decision = meets(principal, requirement);
    if (!decision.allowed) return decision;
  }
  return { allowed: true };
}

function meets(principal: Principal, requirement: AccessRequirement): AccessDecision {
  if (requirement.kinds && !requirement.kinds.includes(principal.kind)) {
    return { allowed: false, reason: `a ${principal.kind} principal may not use this route`, missingScopes: [] };
  }
  if (requirement.principals && !requirement.principals.includes(principal.id)) {
    return { allowed: false, reason: 'principal is not allowed on this route', missingScopes: [] };
  }
  if (requirement.groups && !requirement.groups.some((group) => principal.groups?.includes(group))) {
    return { allowed: false, reason: 'principal is in none of the groups allowed on this route', missingScopes: [] };
  }
  const held = new Set(principal.scopes ?? []);
  const missingScopes = (requirement.scopes ?? []).filter((scope) => !held.has(scope));
  if (missingScopes.length > 0) {
    return { allowed: false, reason: `missing scope ${missingScopes.join(' ')}`, missingScopes };
  }
  return { allowed: true };
}
