/**
 * Query parameters read as Consul's HTTP handlers read them (agent/http.go parseWait, the
 * handlers' strconv.ParseBool), with Consul's 400 texts. Pure: a URLSearchParams in.
 */
import { goDurationMs, tryParseGoDuration } from '../consul-wire/duration.js';
import { RegistryHttpError } from './http-error.js';

const UINT64_MAX = 18446744073709551615n;

/** Go's strconv.ParseBool. */
export function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/**
 * A flag such as `?passing`: absent = false, present without a value = true, otherwise Go's
 * ParseBool, and `invalidText` (Consul's 400 text) when that fails.
 */
export function queryFlag(query: URLSearchParams, name: string, invalidText: string): boolean {
  if (!query.has(name)) return false;
  const value = query.get(name) ?? '';
  const parsed = value === '' ? true : parseBool(value);
  if (parsed === undefined) throw new RegistryHttpError(400, invalidText);
  return parsed;
}

export interface BlockingParams {
  /** 0 = answer at once. */
  minIndex: number;
  /** The requested wait in ms, or undefined if `wait` was absent. */
  waitMs: number | undefined;
}

function parseSignedDuration(text: string): number | undefined {
  const parsed = tryParseGoDuration(text);
  return 'ns' in parsed ? goDurationMs(parsed.ns) : undefined;
}

/** `wait` and `index` from a query string, with Consul's 400 texts. */
export function parseBlockingParams(query: URLSearchParams): BlockingParams {
  let waitMs: number | undefined;
  const wait = query.get('wait');
  if (wait !== null && wait !== '') {
    waitMs = parseSignedDuration(wait);
    if (waitMs === undefined) throw new RegistryHttpError(400, 'Invalid wait time');
  }
  let minIndex = 0;
  const index = query.get('index');
  if (index !== null && index !== '') {
    if (!/^\d+$/.test(index) || BigInt(index) > UINT64_MAX) throw new RegistryHttpError(400, 'Invalid index');
    minIndex = Number(index);
  }
  return { minIndex, waitMs };
}
