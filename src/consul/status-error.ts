import { FarolError } from '../errors.js';

/**
 * What a Consul error body says, read once here so that no other part of Farol matches
 * Consul's message text. The formats are Consul's own (acl/errors.go and agent/*_endpoint.go
 * in v1.15.4); older agents wrote shorter texts, which still parse to the same kinds.
 */
export type ConsulErrorReason =
  /**
   * 403 "Permission denied[: token with AccessorID '<id>' | : anonymous token] lacks permission
   * '<resource>:<level>' [on "<name>"]". Consul before 1.11 wrote only "Permission denied".
   */
  | { kind: 'permission-denied'; permission?: string; resource?: string; accessorId?: string; anonymous: boolean }
  /** 403 "ACL not found": the token itself is unknown (mistyped, deleted, expired, or created moments ago and not yet on every server). */
  | { kind: 'acl-not-found' }
  /** 401 "ACL support disabled": an ACL endpoint on an agent without ACLs. */
  | { kind: 'acl-disabled' }
  /** 404 'Unknown service ID "<id>". Ensure...' / "unknown service ID: <id>" (1.15); 500 "Unknown service <id>" (older). */
  | { kind: 'unknown-service'; id?: string }
  /** 404 "Unknown check ID \"<id>\"..." (1.15) / "Unknown check <id>" (older). */
  | { kind: 'unknown-check'; id?: string }
  /** 400 "Client sent an HTTP request to an HTTPS server." (Go's net/http): an http:// address for an HTTPS port. */
  | { kind: 'https-required' }
  /** 500 "No cluster leader": the read or write needed a leader and there is none. */
  | { kind: 'no-leader' }
  | { kind: 'other' };

const PERMISSION = /lacks permission '([a-z_-]+:[a-z]+)'(?: on "((?:[^"\\]|\\.)*)")?/;
const ACCESSOR = /token with AccessorID '([^']*)'/;

function unquote(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

function quotedOrWord(text: string): string | undefined {
  const match = /^\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/.exec(text);
  if (!match) return undefined;
  if (match[1] !== undefined) return unquote(match[1]);
  return match[2] ?? match[3];
}

/** Pure: the reason a Consul error body gives, from its status and text. Never throws. */
export function parseConsulErrorBody(status: number, body: string): ConsulErrorReason {
  const text = body.trim();
  if (/^Permission denied/i.test(text) || (status === 403 && /permission denied/i.test(text))) {
    const permission = PERMISSION.exec(text);
    const accessor = ACCESSOR.exec(text);
    const reason: ConsulErrorReason = { kind: 'permission-denied', anonymous: /anonymous token/i.test(text) };
    if (permission?.[1] !== undefined) reason.permission = permission[1];
    if (permission?.[2] !== undefined) reason.resource = unquote(permission[2]);
    if (accessor?.[1] !== undefined) reason.accessorId = accessor[1];
    return reason;
  }
  if (/ACL not found/i.test(text)) return { kind: 'acl-not-found' };
  if (/ACL support disabled/i.test(text)) return { kind: 'acl-disabled' };
  if (/No cluster leader/i.test(text)) return { kind: 'no-leader' };
  if (/HTTP request to an HTTPS server/i.test(text)) return { kind: 'https-required' };
  // 404 since Consul 1.11; older agents answered 500 with the same words.
  const service = /^(?:rpc error making call: )?unknown service(?: ID)?:?\s*(.*)$/is.exec(text);
  if (service) return withId('unknown-service', service[1]);
  const check = /^(?:rpc error making call: )?unknown check(?: ID)?:?\s*(.*)$/is.exec(text);
  if (check) return withId('unknown-check', check[1]);
  return { kind: 'other' };
}

function withId(kind: 'unknown-service' | 'unknown-check', rest: string | undefined): ConsulErrorReason {
  const id = rest === undefined ? undefined : quotedOrWord(rest);
  return id === undefined || id === '' ? { kind } : { kind, id };
}

/** Consul's error bodies are short plain text; keep them to one line in a message. */
export function summarizeBody(body: string, limit = 500): string {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > limit ? `${line.slice(0, limit)}…` : line;
}

export interface ConsulRequestFacts {
  method: string;
  path: string;
  address: string;
}

function aclHint(reason: ConsulErrorReason): string {
  if (reason.kind === 'acl-not-found') {
    return (
      'CONSUL_HTTP_TOKEN (or the token option) is not a token this Consul cluster knows: check it was not mistyped, deleted or expired; ' +
      'a token created moments ago may not have reached every Consul server yet (agents ask any server): try again in a few seconds'
    );
  }
  if (reason.kind === 'permission-denied' && reason.permission !== undefined) {
    const on = reason.resource === undefined ? '' : ` on "${reason.resource}"`;
    const who = reason.anonymous ? 'set CONSUL_HTTP_TOKEN (or the token option) to a token' : "add to the token's policy a rule";
    return `${who} that grants ${reason.permission}${on} (see docs/consul.md for the policy each service needs)`;
  }
  return 'set CONSUL_HTTP_TOKEN (or the token option) to an ACL token that grants this permission';
}

function otherHint(reason: ConsulErrorReason, request: ConsulRequestFacts): string {
  if (reason.kind === 'https-required') {
    return `${request.address} serves HTTPS: write https:// in CONSUL_HTTP_ADDR (or set CONSUL_HTTP_SSL=true) and CONSUL_CACERT to the CA of Consul's certificate`;
  }
  if (reason.kind === 'no-leader') return 'the Consul servers have no leader (an election or a lost quorum): wait, or read with consistency stale';
  return `check the request and the Consul agent at ${request.address}`;
}

/** Consul's own words stay in the message (they name the permission); the hint says what to change. */
function messageFor(status: number, text: string, request: ConsulRequestFacts): string {
  if (status === 403) return `Consul denied ${request.method} ${request.path}: ${text}`;
  return `Consul answered ${status} to ${request.method} ${request.path}: ${text}`;
}

/**
 * A non-2xx answer from Consul, like Go's api.StatusError: the status code and body, plus the
 * reason parsed from the body. Its code is CONSUL_ACL_DENIED for 403 and CONSUL_ERROR otherwise.
 * Code that reacts to Consul errors asks `status` and `reason`, never the message.
 */
export class ConsulStatusError extends FarolError {
  readonly status: number;
  /** Consul's body as sent (plain text, usually one line). */
  readonly body: string;
  readonly reason: ConsulErrorReason;
  readonly request: ConsulRequestFacts;

  constructor(response: { status: number; body: string }, request: ConsulRequestFacts) {
    const reason = parseConsulErrorBody(response.status, response.body);
    const text = summarizeBody(response.body) || '(empty body)';
    const denied = response.status === 403;
    const details: Record<string, unknown> = { status: response.status, address: request.address };
    if (reason.kind === 'permission-denied' && reason.permission !== undefined) {
      details.permission = reason.permission;
      if (reason.resource !== undefined) details.resource = reason.resource;
    }
    super(denied ? 'CONSUL_ACL_DENIED' : 'CONSUL_ERROR', messageFor(response.status, text, request), {
      hint: denied ? aclHint(reason) : otherHint(reason, request),
      details,
    });
    this.name = 'ConsulStatusError';
    this.status = response.status;
    this.body = response.body;
    this.reason = reason;
    this.request = request;
  }

  /** The permission a 403 names ("service:write"), when Consul said which. */
  get missingPermission(): { permission: string; resource?: string } | undefined {
    if (this.reason.kind !== 'permission-denied' || this.reason.permission === undefined) return undefined;
    return this.reason.resource === undefined ? { permission: this.reason.permission } : { permission: this.reason.permission, resource: this.reason.resource };
  }
}

/** True for a ConsulStatusError, optionally of one status code (Go: `errors.As(err, &api.StatusError{})`). */
export function isConsulStatusError(error: unknown, status?: number): error is ConsulStatusError {
  return error instanceof ConsulStatusError && (status === undefined || error.status === status);
}

/** Consul did not know the service ID (404 from /v1/agent/service/...; 500 from agents before 1.11). */
export function isUnknownServiceError(error: unknown): boolean {
  return isConsulStatusError(error) && error.reason.kind === 'unknown-service';
}

/** Consul did not know the check ID (404 from /v1/agent/check/update/... and friends). */
export function isUnknownCheckError(error: unknown): boolean {
  return isConsulStatusError(error) && error.reason.kind === 'unknown-check';
}
