/**
 * The credentials stage: the Authorization header of each try, and one refresh when an instance
 * says the token itself is bad (RFC 6750 §3.1 error="invalid_token"), not that it is missing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CredentialProvider } from '../auth/index.js';

const INVALID_TOKEN = /\berror\s*=\s*"?invalid_token"?/i;

/** A 401 whose challenge says the token itself is bad (expired or revoked before its time). */
export function rejectsToken(status: number, headers: IncomingHttpHeaders): boolean {
  if (status !== 401) return false;
  const challenge = headers['www-authenticate'];
  const challenges = Array.isArray(challenge) ? challenge : challenge === undefined ? [] : [challenge];
  return challenges.some((value) => INVALID_TOKEN.test(value));
}

export class CredentialStage {
  constructor(private readonly provider: CredentialProvider | undefined) {}

  get active(): boolean {
    return this.provider !== undefined;
  }

  /** The Authorization value for the next try, or undefined without a provider. */
  authorization(): Promise<string | undefined> | undefined {
    return this.provider?.authorization();
  }

  /** Whether the provider can drop a token and fetch a fresh one after such a 401. */
  canRefresh(status: number, headers: IncomingHttpHeaders, authorization: string | undefined): boolean {
    return authorization !== undefined && this.provider?.invalidate !== undefined && rejectsToken(status, headers);
  }

  /** Drops `authorization` and fetches a fresh one. */
  async refresh(authorization: string): Promise<string | undefined> {
    this.provider?.invalidate?.(authorization);
    return this.provider?.authorization();
  }
}
