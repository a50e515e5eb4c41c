/**
 * Consul's JSON wire types live in src/consul-wire/types.ts (shared with the embedded registry);
 * this module re-exports them next to the client's own query options and metadata.
 */
export * from '../consul-wire/types.js';

/**
 * Consul's read consistency modes (Go: QueryOptions.AllowStale / RequireConsistent; Consul's
 * "Consistency Modes" docs):
 * - 'default': the leader answers (a small window of staleness while a new leader is elected);
 *   no leader, no answer.
 * - 'stale': any server answers from its own copy, leader or not: reads keep working while
 *   there is no leader, and X-Consul-LastContact says how far behind the answering server may be.
 * - 'consistent': the leader first confirms with a quorum that it still leads (one more round trip).
 */
export type ConsistencyMode = 'default' | 'stale' | 'consistent';

/** Options of a read; `index` + `wait` make it a blocking query. */
export interface QueryOptions {
  /** Read consistency (sent as ?stale or ?consistent). Default 'default', as in Go's api. */
  consistency?: ConsistencyMode;
  /**
   * With 'stale' (or no consistency): Consul's ?max_stale. A server whose last contact with the
   * leader is older than this does not answer from its own copy: the agent asks again with
   * 'default' consistency (so with no leader the read fails: "No cluster leader"). Positive
   * milliseconds; sent as a Go duration.
   */
  maxStaleMs?: number;
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
  /** X-Consul-Default-ACL-Policy: 'allow' or 'deny' when the agent has ACLs on; absent without ACLs. */
  defaultAclPolicy?: string;
  /**
   * X-Consul-Query-Backend: 'blocking-query' (answered by a server over RPC) or 'streaming' (a
   * client agent's materialized view, Consul's default for blocking /v1/health/service reads since
   * 1.10): a streamed answer carries no staleness, Consul sends lastContactMs 0 and knownLeader false.
   */
  queryBackend?: string;
  /** X-Consul-Effective-Consistency: how the answer was actually read ('leader', 'stale' or 'consistent'), when Consul says. */
  effectiveConsistency?: string;
}
