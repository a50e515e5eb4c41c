import { FarolError } from '../errors.js';
import { formatGoDuration, goDurationMs, MAX_GO_DURATION_NS, msToGoDuration, NS_PER_MS, tryParseGoDuration } from '../consul-wire/duration.js';
import type { ConsistencyMode, QueryMeta, QueryOptions } from './types.js';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** Consul's limits on `wait`, from the "Blocking Queries" docs: default 5 minutes, at most 10. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

function header(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function unsignedInteger(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}

/** Response metadata, read like Go's api.parseQueryMeta. Header names are lower-case (undici). */
export function parseQueryMeta(headers: ResponseHeaders): QueryMeta {
  return {
    lastIndex: unsignedInteger(header(headers, 'x-consul-index')) ?? 0,
    knownLeader: header(headers, 'x-consul-knownleader') === 'true',
    lastContactMs: unsignedInteger(header(headers, 'x-consul-lastcontact')) ?? 0,
    resultsFilteredByAcls: header(headers, 'x-consul-results-filtered-by-acls') === 'true',
    ...optional('defaultAclPolicy', header(headers, 'x-consul-default-acl-policy')),
    ...optional('effectiveConsistency', header(headers, 'x-consul-effective-consistency')),
    ...optional('queryBackend', header(headers, 'x-consul-query-backend')),
  };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined || value === '' ? {} : ({ [key]: value } as Partial<Record<K, string>>);
}

/** The wait Consul applies: a wait of 0 or less is its default, 5m. */
function waitMs(wait: string | undefined): number {
  if (wait === undefined) return DEFAULT_WAIT_MS;
  const parsed = tryParseGoDuration(wait);
  if ('error' in parsed) {
    throw new FarolError('CONFIG_INVALID', `Invalid blocking-query wait "${wait}": ${parsed.error.message}`, {
      hint: 'use a Go duration such as "30s" or "5m" (Consul allows at most 10m)',
    });
  }
  const ms = goDurationMs(parsed.ns);
  return ms > 0 ? ms : DEFAULT_WAIT_MS;
}

/** Query-string parameters of a read, as Go's request.setQueryOptions sets them. */
export function queryParams(options: QueryOptions = {}): Record<string, string> {
  const params: Record<string, string> = {};
  if (options.index !== undefined && options.index !== 0) params.index = String(options.index);
  if (options.wait !== undefined) {
    waitMs(options.wait);
    params.wait = options.wait;
  }
  Object.assign(params, consistencyParams(options));
  return params;
}

const MAX_DURATION_MS = Number(MAX_GO_DURATION_NS / NS_PER_MS);

const CONSISTENCY_MODES: readonly ConsistencyMode[] = ['default', 'stale', 'consistent'];

/**
 * Checks a consistency mode and max-stale bound, throwing CONFIG_INVALID for what Consul would
 * refuse (?stale with ?consistent answers 400) or what makes no sense. `where` names the option.
 */
export function validateConsistency(options: { consistency?: unknown; maxStaleMs?: unknown }, where = 'consistency'): void {
  const { consistency, maxStaleMs } = options;
  if (consistency !== undefined && !CONSISTENCY_MODES.includes(consistency as ConsistencyMode)) {
    throw new FarolError('CONFIG_INVALID', `Invalid ${where} ${JSON.stringify(consistency)}`, {
      hint: `set ${where} to 'default', 'stale' or 'consistent'`,
    });
  }
  if (maxStaleMs === undefined) return;
  if (typeof maxStaleMs !== 'number' || !Number.isFinite(maxStaleMs) || maxStaleMs <= 0) {
    throw new FarolError('CONFIG_INVALID', `Invalid maxStaleMs ${String(maxStaleMs)}: it must be a positive number of milliseconds`, {
      hint: 'set maxStaleMs to a positive number of milliseconds, or leave it out for no bound',
    });
  }
  if (consistency !== undefined && consistency !== 'stale') {
    throw new FarolError('CONFIG_INVALID', `maxStaleMs bounds stale reads, but ${where} is '${String(consistency)}'`, {
      hint: `set ${where} to 'stale' to use maxStaleMs, or leave maxStaleMs out`,
    });
  }
}

/** ?stale, ?consistent and ?max_stale, as Go's setQueryOptions and Consul's parseConsistency read them. */
export function consistencyParams(options: { consistency?: ConsistencyMode; maxStaleMs?: number }): Record<string, string> {
  validateConsistency(options);
  const params: Record<string, string> = {};
  if (options.consistency === 'stale') params.stale = '';
  if (options.consistency === 'consistent') params.consistent = '';
  if (options.maxStaleMs !== undefined) {
    // Whole milliseconds, at least 1 (Consul reads "0s" as no bound), at most Go's longest duration.
    const ms = Math.max(1, Math.min(options.maxStaleMs, MAX_DURATION_MS));
    params.max_stale = formatGoDuration(msToGoDuration(ms));
  }
  return params;
}

/** True when Consul will hold this read open: an `index` is given. */
export function isBlocking(options: QueryOptions = {}): boolean {
  return options.index !== undefined && options.index !== 0;
}

/**
 * How long to give a read before timing out. A blocking query may legitimately take its
 * `wait` (capped at 10 minutes) plus the up-to-wait/16 jitter Consul adds, so the client
 * waits that long plus the ordinary per-request timeout as margin.
 */
export function requestTimeoutMs(options: QueryOptions, baseTimeoutMs: number): number {
  if (!isBlocking(options)) return baseTimeoutMs;
  const wait = Math.min(waitMs(options.wait), MAX_WAIT_MS);
  return Math.ceil(wait + wait / 16 + baseTimeoutMs);
}
