import { FarolError } from '../errors.js';
import type { QueryMeta } from './types.js';

/** The rules a caller's token needs to discover `service` (docs/consul.md explains each). */
export function readPolicyFor(service: string): string {
  return `service "${service}" { policy = "read" } and node_prefix "" { policy = "read" }`;
}

/**
 * Pure: when an empty answer about `service` may be empty because of ACLs, the error that says
 * so; undefined when nothing points at ACLs (the service is then simply not registered).
 *
 * Consul answers a read the token may not make with 200 and fewer results, not 403. It flags
 * that with X-Consul-Results-Filtered-By-ACLs, except for the anonymous token (a request without
 * a token), whose flag it always clears; for that case X-Consul-Default-ACL-Policy: deny is the
 * only sign, and the message says both explanations are possible.
 */
export function hiddenByAclError(
  service: string,
  answer: { entries: readonly unknown[]; meta: QueryMeta },
  client: { hasToken: boolean },
): FarolError | undefined {
  if (answer.entries.length > 0) return undefined;
  const details = { service, resultsFilteredByAcls: answer.meta.resultsFilteredByAcls === true };
  if (answer.meta.resultsFilteredByAcls === true) {
    return new FarolError('CONSUL_ACL_DENIED', `Consul hid the instances of '${service}' from this ACL token: your token may not read service ${service}`, {
      hint: `add to the token's policy ${readPolicyFor(service)} (see docs/consul.md)`,
      details,
    });
  }
  if (!client.hasToken && answer.meta.defaultAclPolicy === 'deny') {
    return new FarolError(
      'CONSUL_ACL_DENIED',
      `No instance of '${service}' is visible without an ACL token: Consul's ACLs deny by default, so either none is registered or the anonymous token may not read service ${service}`,
      { hint: `set CONSUL_HTTP_TOKEN (or the consul token option) to a token whose policy grants ${readPolicyFor(service)}`, details },
    );
  }
  return undefined;
}
