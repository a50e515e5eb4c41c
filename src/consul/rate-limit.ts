/**
 * A token bucket that paces a blocking-query loop. Consul's "Blocking Queries" docs: clients
 * "should instead rate limit the loop so that in the happy case they proceed without waiting,
 * but when values start to churn quickly they degrade into polling at a reasonable rate [...]
 * a token bucket with burst of 2 is a simple way to achieve this."
 * Pure: the clock is a parameter.
 */
export interface TokenBucketOptions {
  /** Requests allowed back to back. */
  burst: number;
  /** One token comes back every `intervalMs`. */
  intervalMs: number;
}

export class TokenBucket {
  readonly #burst: number;
  readonly #intervalMs: number;
  #tokens: number;
  #updatedAt: number | undefined;

  constructor(options: TokenBucketOptions) {
    this.#burst = Math.max(1, options.burst);
    this.#intervalMs = Math.max(0, options.intervalMs);
    this.#tokens = this.#burst;
  }

  /**
   * Takes a token at time `now` (ms) and returns how long to wait before acting on it: 0 when
   * one was available, otherwise the time until it arrives. Tokens taken while waiting are
   * owed, so a caller that keeps asking is held to one request per `intervalMs`.
   */
  take(now: number): number {
    if (this.#intervalMs === 0) return 0;
    if (this.#updatedAt !== undefined && now > this.#updatedAt) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) / this.#intervalMs);
    }
    this.#updatedAt = Math.max(this.#updatedAt ?? now, now);
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens * this.#intervalMs);
  }
}
