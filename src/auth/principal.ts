import type { X509Certificate } from 'node:crypto';

/** Who a request speaks for, once an authenticator has accepted its credentials. */
export interface Principal {
  kind: 'user' | 'token' | 'certificate';
  id: string;
  scopes?: string[];
  groups?: string[];
}

/** The parts of an incoming request an authenticator may look at. Header names are matched case-insensitively. */
export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  remoteAddress?: string;
  /** The TLS connection the request came on, when the listener asked for client certificates. */
  tls?: PeerTls;
}

/**
 * What the TLS layer knows about the caller. `authorized` is Node's own verdict on the chain
 * against the configured client CA (tls.TLSSocket#authorized); an authenticator must refuse a
 * certificate it did not authorize.
 */
export interface PeerTls {
  authorized: boolean;
  /** Node's reason when not authorized, e.g. CERT_HAS_EXPIRED or UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  authorizationError?: string;
  /** The leaf certificate the client presented; undefined when it sent none. */
  peerCertificate?: X509Certificate;
}

export type AuthResult =
  | { outcome: 'authenticated'; principal: Principal }
  /** The request carries no credentials of this authenticator's kind. */
  | { outcome: 'absent' }
  | {
      outcome: 'rejected';
      status: 400 | 401;
      /** Short and safe for logs: never contains a secret. */
      reason: string;
      /** A WWW-Authenticate value. */
      challenge: string;
      /** The user name the client tried, if it sent one. */
      username?: string;
    }
  /**
   * Refused unread: too many failed attempts came from this address or for this user name
   * (see limited-authenticator.ts). HTTP 429 with Retry-After: retryAfterSec.
   */
  | {
      outcome: 'limited';
      /** Whole seconds, at least 1. */
      retryAfterSec: number;
      /** Short and safe for logs. */
      reason: string;
    };

/**
 * One way of turning credentials into a principal (Basic today; bearer JWT and mTLS later).
 * `authenticate` never throws for anything a client can send: bad input is a 'rejected' result.
 * Cross-cutting policies (brute-force limiting) wrap an Authenticator rather than living inside one.
 */
export interface Authenticator {
  /** The auth-scheme this authenticator answers to, as written in a challenge (e.g. "Basic"). */
  readonly scheme: string;
  /** The WWW-Authenticate value that invites a client to use this scheme. */
  challenge(): string;
  authenticate(req: AuthRequest): Promise<AuthResult>;
}
