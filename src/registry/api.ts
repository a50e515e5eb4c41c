/**
 * The HTTP API as a function from a request (method, URL, headers, body text) to a response
 * (status, headers, body text), with Consul 1.15.4's routes, status codes, headers and texts.
 * No sockets: server.ts adapts node:http to it, and unit tests call it directly.
 */
import { createHash } from 'node:crypto';
import type { CheckUpdateStatus } from '../consul/types.js';
import { aclDecision, anonymousDenied, presentedToken, type AclDecision } from './acl.js';
import { blockingTimeoutMs, headerIndex, parseBlockingParams, type IndexWaiters } from './blocking.js';
import type { Catalog } from './catalog.js';
import type { CheckRunner } from './checks.js';
import { decodeCheckUpdate, decodeRegistrationBody, RegistryHttpError, type DecodeOptions } from './decode.js';
import { agentServiceView, catalogServiceEntries, checkView, healthServiceBody, RenderedJson } from './views.js';

export interface ApiRequest {
  method: string;
  /** Path and query, e.g. "/v1/health/service/web?passing". */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Aborted when the client goes away, so a parked blocking query is released. */
  signal?: AbortSignal;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** Text, or bytes already rendered (large health answers). */
  body: string | Buffer;
}

export interface RegistryApiOptions {
  catalog: Catalog;
  waiters: IndexWaiters;
  runner?: CheckRunner;
  token?: string;
  /** What status/leader and status/peers report, e.g. "127.0.0.1:8300". */
  serverAddress: string;
  random?: () => number;
  decode?: DecodeOptions;
}

const TEXT = 'text/plain; charset=utf-8';

type Handler = (req: ParsedRequest) => Promise<ApiResponse> | ApiResponse;

interface ParsedRequest extends ApiRequest {
  path: string;
  query: URLSearchParams;
  /** The rest of the path after the route prefix (an ID or a service name). */
  rest: string;
  token: string | undefined;
}

interface Route {
  prefix: string;
  exact: boolean;
  method: 'GET' | 'PUT';
  handler: Handler;
}

function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

export class RegistryApi {
  private readonly catalog: Catalog;
  private readonly waiters: IndexWaiters;
  private readonly runner: CheckRunner | undefined;
  private readonly token: string | undefined;
  private readonly serverAddress: string;
  private readonly random: () => number;
  private readonly decodeOptions: DecodeOptions;
  private readonly routes: Route[];

  constructor(opts: RegistryApiOptions) {
    this.catalog = opts.catalog;
    this.waiters = opts.waiters;
    this.runner = opts.runner;
    this.token = opts.token;
    this.serverAddress = opts.serverAddress;
    this.random = opts.random ?? Math.random;
    this.decodeOptions = opts.decode ?? {};
    this.routes = [
      { prefix: '/v1/agent/service/register', exact: true, method: 'PUT', handler: (r) => this.register(r) },
      { prefix: '/v1/agent/service/deregister/', exact: false, method: 'PUT', handler: (r) => this.deregister(r) },
      { prefix: '/v1/agent/service/maintenance/', exact: false, method: 'PUT', handler: (r) => this.serviceMaintenance(r) },
      // After the more specific /v1/agent/service/... routes, as Go's ServeMux prefers the longest pattern.
      { prefix: '/v1/agent/service/', exact: false, method: 'GET', handler: (r) => this.agentService(r) },
      { prefix: '/v1/agent/services', exact: true, method: 'GET', handler: (r) => this.agentServices(r) },
      { prefix: '/v1/agent/checks', exact: true, method: 'GET', handler: (r) => this.agentChecks(r) },
      { prefix: '/v1/agent/check/pass/', exact: false, method: 'PUT', handler: (r) => this.checkStatus(r, 'passing') },
      { prefix: '/v1/agent/check/warn/', exact: false, method: 'PUT', handler: (r) => this.checkStatus(r, 'warning') },
      { prefix: '/v1/agent/check/fail/', exact: false, method: 'PUT', handler: (r) => this.checkStatus(r, 'critical') },
      { prefix: '/v1/agent/check/update/', exact: false, method: 'PUT', handler: (r) => this.checkUpdate(r) },
      { prefix: '/v1/health/service/', exact: false, method: 'GET', handler: (r) => this.healthService(r) },
      { prefix: '/v1/catalog/services', exact: true, method: 'GET', handler: (r) => this.catalogServices(r) },
      { prefix: '/v1/catalog/service/', exact: false, method: 'GET', handler: (r) => this.catalogService(r) },
      { prefix: '/v1/status/leader', exact: true, method: 'GET', handler: () => this.json(200, this.serverAddress) },
      { prefix: '/v1/status/peers', exact: true, method: 'GET', handler: () => this.json(200, [this.serverAddress]) },
    ];
  }

  async handle(req: ApiRequest): Promise<ApiResponse> {
    const url = new URL(req.url, 'http://registry.invalid');
    const path = url.pathname;
    const route = this.routes.find((r) => (r.exact ? path === r.prefix : path.startsWith(r.prefix)));
    if (!route) {
      return { status: 404, headers: { 'content-type': TEXT }, body: 'Invalid URL path: not a recognized HTTP API endpoint\n' };
    }
    // Consul lists OPTIONS first, then the route's own methods (agent/http.go).
    const allow = `OPTIONS,${route.method}`;
    if (req.method === 'OPTIONS') return this.withCommon({ status: 200, headers: { allow }, body: '' });
    if (req.method !== route.method) {
      return this.withCommon({ status: 405, headers: { allow, 'content-type': TEXT }, body: `method ${req.method} not allowed` });
    }
    let rest: string;
    try {
      rest = decodeURIComponent(path.slice(route.prefix.length));
    } catch {
      return this.withCommon({ status: 400, headers: { 'content-type': TEXT }, body: `invalid URL escape in ${JSON.stringify(path)}` });
    }
    const parsed: ParsedRequest = {
      ...req,
      path,
      query: url.searchParams,
      rest,
      token: presentedToken(req.headers, url.searchParams),
    };
    try {
      return this.withCommon(await route.handler(parsed));
    } catch (error) {
      if (error instanceof RegistryHttpError) {
        return this.withCommon({ status: error.status, headers: { ...error.headers, 'content-type': TEXT }, body: error.body });
      }
      throw error;
    }
  }

  private withCommon(res: ApiResponse): ApiResponse {
    return {
      ...res,
      headers: { ...res.headers, vary: 'Accept-Encoding', 'x-consul-default-acl-policy': this.token === undefined ? 'allow' : 'deny' },
    };
  }

  private json(status: number, value: unknown, extra: Record<string, string> = {}): ApiResponse {
    // Consul in dev mode pretty-prints every JSON answer.
    const body = value instanceof RenderedJson ? value.bytes : `${JSON.stringify(value, null, 4)}\n`;
    return { status, headers: { 'content-type': 'application/json', ...extra }, body };
  }

  private empty(): ApiResponse {
    return { status: 200, headers: {}, body: '' };
  }

  private acl(req: ParsedRequest, access: 'read' | 'write', permission = '', resource = ''): AclDecision {
    const decision = aclDecision(this.token, req.token, access, permission, resource);
    if (decision.outcome === 'deny') throw new RegistryHttpError(decision.status, decision.body);
    return decision;
  }

  /** Agent endpoints resolve the token before anything else: an unknown token is refused even for an unknown ID. */
  private rejectUnknownToken(req: ParsedRequest): void {
    if (req.token !== undefined) this.acl(req, 'write');
  }

  /**
   * Parks the request until `index()` rises above ?index (if given), then answers with `build`.
   * `metaOnDenied`: the catalog endpoints set query metadata before the ACL check fails.
   */
  private async blockingRead(
    req: ParsedRequest,
    index: () => number,
    build: (filtered: boolean) => unknown,
    validate?: () => void,
    metaOnDenied = false,
  ): Promise<ApiResponse> {
    const params = parseBlockingParams(req.query);
    validate?.();
    let filtered: boolean;
    try {
      filtered = this.acl(req, 'read').outcome === 'filter';
    } catch (error) {
      if (!metaOnDenied || !(error instanceof RegistryHttpError)) throw error;
      throw new RegistryHttpError(error.status, error.body, {
        'x-consul-index': '1',
        'x-consul-knownleader': 'false',
        'x-consul-lastcontact': '0',
        'x-consul-query-backend': 'blocking-query',
      });
    }
    const timeout = blockingTimeoutMs(params.waitMs, this.random);
    await this.waiters.wait(() => headerIndex(index()), params.minIndex, timeout, req.signal);
    const meta = {
      'x-consul-effective-consistency': 'leader',
      'x-consul-index': String(headerIndex(index())),
      'x-consul-knownleader': 'true',
      'x-consul-lastcontact': '0',
      'x-consul-query-backend': 'blocking-query',
    };
    try {
      return this.json(200, build(filtered), meta);
    } catch (error) {
      // Consul validates some parameters only after the read, so its 400s carry the query metadata.
      if (error instanceof RegistryHttpError) throw new RegistryHttpError(error.status, error.body, { ...meta, ...error.headers });
      throw error;
    }
  }

  private register(req: ParsedRequest): ApiResponse {
    const decoded = decodeRegistrationBody(req.body, this.decodeOptions);
    this.rejectUnknownToken(req);
    const { service, checks } = decoded.validate();
    this.acl(req, 'write', 'service:write', service.name);
    const replace = req.query.has('replace-existing-checks') && parseBool(req.query.get('replace-existing-checks') || 'true') !== false;
    this.catalog.registerService(service, checks, { replaceExistingChecks: replace });
    // Consul restarts a service's checks (TTL timers included) on every registration, even an identical one.
    this.runner?.syncService(service.id);
    this.waiters.notify();
    return this.empty();
  }

  private deregister(req: ParsedRequest): ApiResponse {
    this.rejectUnknownToken(req);
    const service = this.catalog.getService(req.rest);
    if (!service) {
      throw new RegistryHttpError(404, `Unknown service ID ${JSON.stringify(req.rest)}. Ensure that the service ID is passed, not the service name.`);
    }
    this.acl(req, 'write', 'service:write', service.name);
    this.catalog.deregisterService(service.id);
    this.waiters.notify();
    return this.empty();
  }

  /**
   * PUT /v1/agent/service/maintenance/:id?enable=true|false&reason=... (Consul's
   * AgentServiceMaintenance): the parameters are checked before the token, the service after it.
   */
  private serviceMaintenance(req: ParsedRequest): ApiResponse {
    if (req.rest === '') throw new RegistryHttpError(400, 'Missing service ID');
    if (!req.query.has('enable')) throw new RegistryHttpError(400, 'Missing value for enable');
    const raw = req.query.get('enable') ?? '';
    const enable = parseBool(raw);
    if (enable === undefined) throw new RegistryHttpError(400, `Invalid value for enable: ${JSON.stringify(raw)}`);
    this.rejectUnknownToken(req);
    const service = this.catalog.getService(req.rest);
    if (!service) {
      throw new RegistryHttpError(404, `Unknown service ID ${JSON.stringify(req.rest)}. Ensure that the service ID is passed, not the service name.`);
    }
    this.acl(req, 'write', 'service:write', service.name);
    if (enable) this.catalog.enableServiceMaintenance(service.id, req.query.get('reason') ?? '');
    else this.catalog.disableServiceMaintenance(service.id);
    this.waiters.notify();
    return this.empty();
  }

  /**
   * GET /v1/agent/service/:id (Consul's AgentService): the agent's record of one service with a
   * ContentHash (also sent as X-Consul-ContentHash); `?hash=` blocks until the record's hash
   * differs from it, for `wait` (default 5m, at most 10m, plus jitter).
   */
  private async agentService(req: ParsedRequest): Promise<ApiResponse> {
    const params = parseBlockingParams(req.query);
    this.rejectUnknownToken(req);
    const id = req.rest;
    const current = (): { hash: string; view: Record<string, unknown> } | undefined => {
      const service = this.catalog.getService(id);
      if (!service) return undefined;
      const { Datacenter, ...view } = agentServiceView(service, this.catalog.node.datacenter);
      const hash = contentHash(view);
      return { hash, view: { ...view, ContentHash: hash, Datacenter } };
    };
    const hash = req.query.get('hash') ?? '';
    if (hash !== '') {
      const timeout = blockingTimeoutMs(params.waitMs, this.random);
      // IndexWaiters wakes when the index rises above 1: here, when the hash is no longer the one given.
      await this.waiters.wait(() => ((current()?.hash ?? '') === hash ? 1 : 2), 1, timeout, req.signal);
    }
    const found = current();
    if (!found) throw new RegistryHttpError(404, `unknown service ID: ${id}`);
    const service = this.catalog.getService(id)!;
    if (this.acl(req, 'read').outcome === 'filter') throw new RegistryHttpError(403, anonymousDenied('service:read', service.name));
    return this.json(200, found.view, { 'x-consul-contenthash': found.hash });
  }

  private agentServices(req: ParsedRequest): ApiResponse {
    const filtered = this.acl(req, 'read').outcome === 'filter';
    const out: Record<string, unknown> = {};
    if (!filtered) for (const s of this.catalog.listServices()) out[s.id] = agentServiceView(s, this.catalog.node.datacenter);
    return this.json(200, out);
  }

  private agentChecks(req: ParsedRequest): ApiResponse {
    const filtered = this.acl(req, 'read').outcome === 'filter';
    const out: Record<string, unknown> = {};
    if (!filtered) {
      for (const c of this.catalog.listChecks()) {
        out[c.checkId] = checkView(c, this.catalog.node.name, this.catalog.getService(c.serviceId)?.tags ?? [], 'agent');
      }
    }
    return this.json(200, out);
  }

  private setCheck(req: ParsedRequest, status: CheckUpdateStatus, output: string): ApiResponse {
    this.rejectUnknownToken(req);
    const check = this.catalog.getCheck(req.rest);
    if (!check) {
      throw new RegistryHttpError(404, `Unknown check ID ${JSON.stringify(req.rest)}. Ensure that the check ID is passed, not the check name.`);
    }
    this.acl(req, 'write', 'service:write', check.serviceName);
    if (check.type !== 'ttl') {
      throw new RegistryHttpError(500, `CheckID ${JSON.stringify(req.rest)} does not have associated TTL`);
    }
    this.catalog.updateCheck(check.checkId, status, output);
    this.runner?.ttlUpdated(check.checkId);
    this.waiters.notify();
    return this.empty();
  }

  private checkStatus(req: ParsedRequest, status: CheckUpdateStatus): ApiResponse {
    return this.setCheck(req, status, req.query.get('note') ?? '');
  }

  private checkUpdate(req: ParsedRequest): ApiResponse {
    const update = decodeCheckUpdate(req.body);
    return this.setCheck(req, update.status, update.output);
  }

  private healthService(req: ParsedRequest): Promise<ApiResponse> {
    const name = req.rest;
    const tags = req.query.getAll('tag');
    const passing = (): boolean => {
      if (!req.query.has('passing')) return false;
      const value = req.query.get('passing') ?? '';
      const parsed = value === '' ? true : parseBool(value);
      if (parsed === undefined) throw new RegistryHttpError(400, 'Invalid value for ?passing');
      return parsed;
    };
    return this.blockingRead(
      req,
      () => this.catalog.healthIndex(name),
      (filtered) => {
        const onlyPassing = passing();
        return filtered ? [] : healthServiceBody(this.catalog, name, { passing: onlyPassing, tags });
      },
      () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
    );
  }

  private catalogServices(req: ParsedRequest): Promise<ApiResponse> {
    return this.blockingRead(
      req,
      () => this.catalog.servicesIndex(),
      (filtered) => (filtered ? {} : this.catalog.serviceNames()),
      undefined,
      true,
    );
  }

  private catalogService(req: ParsedRequest): Promise<ApiResponse> {
    const name = req.rest;
    return this.blockingRead(
      req,
      () => this.catalog.serviceIndex(name),
      (filtered) => (filtered ? [] : catalogServiceEntries(this.catalog, name, req.query.getAll('tag'))),
      () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
      true,
    );
  }
}

/**
 * A hex digest of an agent service record. Consul hashes the Go struct (hashstructure) and
 * prints the uint64 with %x, so only the form matches: up to 16 hex digits, no leading zeros.
 */
function contentHash(view: Record<string, unknown>): string {
  const digest = createHash('sha256').update(JSON.stringify(view)).digest('hex').slice(0, 16);
  return BigInt(`0x${digest}`).toString(16);
}
