import { FarolError } from '../errors.js';
import type { ConsistencyMode, QueryMeta } from './types.js';

/**
 * The consistency discovery reads with unless told otherwise: 'stale'.
 *
 * Why: a stale read is answered by whichever server the agent asks, leader or not, so discovery
 * keeps answering through a leader election and even while a cluster has lost its quorum (when
 * nothing can be written, so no server can know anything newer). A 'default' read needs a
 * leader: during an election or a quorum loss every refresh fails and callers fall back to the
 * last set they cached. Stale answers are generally within 50 ms of the leader (Consul's
 * "Consistency Modes"), X-Consul-LastContact says how far behind the answering server may be, and
 * `maxStaleMs` bounds it. Consul's own DNS interface makes the same choice (dns_config.allow_stale
 * defaults to true), and stale reads spread the load of many watches over every server.
 */
export const DEFAULT_DISCOVERY_CONSISTENCY: ConsistencyMode = 'stale';

/** Consul's freshness facts of one answer, as a watch update and the discovery events carry them. */
export interface Staleness {
  /** Milliseconds since the answering server last heard from the leader (0 when the leader answered). */
  lastContactMs: number;
  knownLeader: boolean;
  lastIndex: number;
  resultsFilteredByAcls: boolean;
  /** 'streaming' when a client agent answered from its materialized view: then lastContactMs and knownLeader say nothing. */
  queryBackend?: string;
}

export function stalenessOf(meta: QueryMeta): Staleness {
  return {
    lastContactMs: meta.lastContactMs,
    knownLeader: meta.knownLeader,
    lastIndex: meta.lastIndex,
    resultsFilteredByAcls: meta.resultsFilteredByAcls === true,
    ...(meta.queryBackend === undefined ? {} : { queryBackend: meta.queryBackend }),
  };
}

/**
 * Pure: the error to treat an answer as when it is staler than `maxStaleMs`, or undefined when it
 * may be used. Consul itself re-asks the leader when a server is behind ?max_stale; this check also
 * holds the bound against agents that ignore the parameter, so a stale answer past the bound is
 * always a failure (the caller keeps serving what it had, within its own staleness limit).
 */
export function tooStaleError(service: string, meta: QueryMeta, maxStaleMs: number | undefined): FarolError | undefined {
  if (maxStaleMs === undefined || meta.lastContactMs <= maxStaleMs) return undefined;
  const leader = meta.knownLeader ? 'a leader is known' : 'no leader is known';
  return new FarolError(
    'CONSUL_ERROR',
    `Consul's answer about '${service}' is ${meta.lastContactMs} ms stale (X-Consul-LastContact; ${leader}), beyond maxStaleMs ${maxStaleMs}`,
    {
      hint: 'wait for the Consul servers to elect a leader, raise maxStaleMs, or leave it out to accept any stale answer',
      details: { service, reason: 'stale', lastContactMs: meta.lastContactMs, knownLeader: meta.knownLeader, maxStaleMs },
    },
  );
}
