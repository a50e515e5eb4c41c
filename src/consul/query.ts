import { FarolError } from '../errors.js';
import { goDurationMs, tryParseGoDuration } from '../consul-wire/duration.js';
import type { QueryMeta, QueryOptions } from './types.js';

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
  };
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
