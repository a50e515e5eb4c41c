/**
 * The query parameters every endpoint group checks the way Consul 1.15.4 (OSS) does, in one place:
 * - Enterprise-only scoping: `?ns=` / `X-Consul-Namespace` and `?partition=` / `X-Consul-Partition`
 *   with a non-empty value are refused with 400 (namespaces first) by the endpoints that read them;
 *   catalog/nodes and agent/members read only the partition; agent/self, status/* and
 *   catalog/datacenters read neither (ENTERPRISE_SCOPES).
 * - `?dc=` naming another datacenter: 500 "No path to datacenter" on the endpoints that go through
 *   the servers (catalog, health, kv, status); the agent endpoints ignore it.
 * - `?filter=`: go-bexpr over the endpoint's Consul type; a bad expression or selector is a 500
 *   whose text is go-bexpr's, prefixed "Failed to create boolean expression evaluator: " except
 *   where Consul validates lazily (agent/checks, against the first check it filters) or through the
 *   streaming backend (a blocking health/service read).
 */
import { RegistryHttpError } from './http-error.js';
import { bindFilter, FilterExpressionError, parseFilterExpression, type BoundFilter, type FilterDataType } from './filter/index.js';

export type EnterpriseScope = 'namespace' | 'partition' | 'none';

/** Path prefixes and the Enterprise parameters Consul OSS refuses there; the longest prefix wins. */
export const ENTERPRISE_SCOPES: ReadonlyArray<readonly [string, EnterpriseScope]> = [
  ['/v1/agent/', 'namespace'],
  ['/v1/agent/self', 'none'],
  ['/v1/agent/members', 'partition'],
  ['/v1/catalog/', 'namespace'],
  ['/v1/catalog/nodes', 'partition'],
  ['/v1/catalog/datacenters', 'none'],
  ['/v1/health/', 'namespace'],
  ['/v1/kv/', 'namespace'],
  ['/v1/status/', 'none'],
];

export function enterpriseScope(path: string): EnterpriseScope {
  let best: readonly [string, EnterpriseScope] | undefined;
  for (const entry of ENTERPRISE_SCOPES) if (path.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  return best?.[1] ?? 'none';
}

type Headers = Record<string, string | string[] | undefined>;

function headerValue(headers: Headers, name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** Consul OSS's 400 for Enterprise parameters (agent/http_oss.go parseEntMeta), or nothing. */
export function checkEnterpriseParams(path: string, query: URLSearchParams, headers: Headers): void {
  const scope = enterpriseScope(path);
  if (scope === 'none') return;
  if (scope === 'namespace') {
    if (headerValue(headers, 'x-consul-namespace') !== '') {
      throw new RegistryHttpError(400, 'Invalid header: "X-Consul-Namespace" - Namespaces are a Consul Enterprise feature');
    }
    if ((query.get('ns') ?? '') !== '') throw new RegistryHttpError(400, 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature');
  }
  if (headerValue(headers, 'x-consul-partition') !== '') {
    throw new RegistryHttpError(400, 'Invalid header: "X-Consul-Partition" - Partitions are a Consul Enterprise feature');
  }
  if ((query.get('partition') ?? '') !== '') {
    throw new RegistryHttpError(400, 'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature');
  }
}

/** `?dc=` of a datacenter other than ours (compared case-sensitively, as Consul does): 500. */
export function checkDatacenter(query: URLSearchParams, datacenter: string): void {
  const dc = query.get('dc') ?? '';
  if (dc !== '' && dc !== datacenter) throw new RegistryHttpError(500, 'No path to datacenter');
}

/** The Consul type each filtering endpoint runs ?filter= over (agent/consul/*_endpoint.go). */
export const FILTER_TYPES = {
  'health/service': 'CheckServiceNode',
  'health/checks': 'HealthCheck',
  'health/state': 'HealthCheck',
  'health/node': 'HealthCheck',
  'catalog/services': 'ServiceNode',
  'catalog/service': 'ServiceNode',
  'catalog/nodes': 'Node',
  'catalog/node': 'NodeService',
  'agent/services': 'AgentService',
  'agent/checks': 'HealthCheck',
} as const satisfies Record<string, FilterDataType>;

export type FilteringEndpoint = keyof typeof FILTER_TYPES;

/** A request's ?filter=, ready to run over the endpoint's records. */
export interface QueryFilter {
  /** Whether a record passes; throws RegistryHttpError (500) where Consul validates lazily. */
  keep(record: unknown): boolean;
  /** The records that pass, in order. */
  apply<T>(records: readonly T[]): T[];
}

const PREFIX = 'Failed to create boolean expression evaluator: ';

const KEEP_ALL: QueryFilter = { keep: () => true, apply: (records) => [...records] };

/**
 * Reads `?filter=` for an endpoint. An empty or absent filter keeps everything. Throws
 * RegistryHttpError(500, Consul's text) for an expression that does not parse or does not fit.
 * `streaming`: a blocking health/service read (Consul's streaming backend prints no prefix).
 */
export function readFilter(query: URLSearchParams, endpoint: FilteringEndpoint, opts: { streaming?: boolean } = {}): QueryFilter {
  const text = query.get('filter') ?? '';
  if (text === '') return KEEP_ALL;
  const prefix = opts.streaming ? '' : PREFIX;
  let expression;
  try {
    expression = parseFilterExpression(text);
  } catch (error) {
    if (error instanceof FilterExpressionError) throw new RegistryHttpError(500, `${prefix}${error.message}`);
    throw error;
  }
  const type = FILTER_TYPES[endpoint];
  const bind = (): BoundFilter => {
    try {
      return bindFilter(expression, type);
    } catch (error) {
      if (error instanceof FilterExpressionError) throw new RegistryHttpError(500, `${endpoint === 'agent/checks' ? '' : prefix}${error.message}`);
      throw error;
    }
  };
  // agent/checks creates its filter without a type: selectors are checked against the first check it meets.
  let bound = endpoint === 'agent/checks' ? undefined : bind();
  const keep = (record: unknown): boolean => {
    bound ??= bind();
    return bound.matches(record);
  };
  return { keep, apply: (records) => records.filter((r) => keep(r)) };
}
