/**
 * Consul's JSON wire types live in src/consul-wire/types.ts (shared with the embedded registry);
 * this module re-exports them next to the client's own query options and metadata.
 */
export * from '../consul-wire/types.js';

/** Options of a read; `index` + `wait` make it a blocking query. */
export interface QueryOptions {
  /** The X-Consul-Index of the previous answer; 0 or absent = answer immediately. */
  index?: number;
  /** Longest time to block, a Go duration ("30s", "5m"); Consul's default is 5m, its maximum 10m. */
  wait?: string;
  signal?: AbortSignal;
}

/** Response metadata of a read (Go: api.QueryMeta). */
export interface QueryMeta {
  /** X-Consul-Index; 0 when absent. */
  lastIndex: number;
  /** X-Consul-KnownLeader. */
  knownLeader: boolean;
  /** X-Consul-LastContact in milliseconds. */
  lastContactMs: number;
  /**
   * X-Consul-Results-Filtered-By-ACLs: some results were hidden because the token may not
   * read them. Consul answers reads that lack permission with 200 and fewer results, not 403.
   */
  resultsFilteredByAcls?: boolean;
}
