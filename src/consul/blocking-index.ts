/**
 * The index rules of Consul's blocking queries, from Consul's documentation
 * "Blocking Queries" > "Implementation Details"
 * (https://developer.hashicorp.com/consul/api-docs/features/blocking; website/content/api-docs/features/blocking.mdx
 * in the v1.15.4 source):
 *
 * - "Reset the index if it goes backwards. [...] Implementations must check to see if a
 *   returned index is lower than the previous value, and if it is, should reset index to 0 -
 *   effectively restarting their blocking loop."
 * - "Sanity check index is greater than zero. [...] It is always safe to use an index of 1 to
 *   wait for updates when the data being requested doesn't exist yet, so clients should sanity
 *   check that their index is at least 1 after each blocking response is handled to be sure
 *   they actually block on the next request."
 *
 * A missing or malformed X-Consul-Index is treated like 0, and so becomes 1.
 */
export interface BlockingIndexStep {
  /** The index to send with the next request; 0 means "answer at once" (after a reset). */
  index: number;
  /** The answer moved the index forward: its result is news and should be delivered. */
  changed: boolean;
  /** The index went backwards: the loop restarts from 0 and this answer is not delivered. */
  reset: boolean;
}

/** A returned X-Consul-Index after the sanity check: a positive integer. */
export function sanitizeIndex(returned: unknown): number {
  return typeof returned === 'number' && Number.isSafeInteger(returned) && returned >= 1 ? returned : 1;
}

/**
 * @param previous the index sent with the request that produced this answer (0 for the first)
 * @param returned the answer's X-Consul-Index, as parsed (anything; see sanitizeIndex)
 */
export function nextBlockingIndex(previous: number, returned: unknown): BlockingIndexStep {
  const index = sanitizeIndex(returned);
  if (index < previous) return { index: 0, changed: false, reset: true };
  return { index, changed: index !== previous, reset: false };
}
