/**
 * The HTTP API as a function from a request (method, URL, headers, body text) to a response
 * (status, headers, body text), with Consul 1.15.4's routes, status codes, headers and texts.
 * No sockets: server.ts adapts node:http to it, and unit tests call it directly.
 * The routes come from one file per endpoint group (endpoints/); this file only picks the route,
 * answers OPTIONS, 404 and 405, decodes the path and adds the headers every answer carries.
 */
import { presentedToken } from './acl.js';
import { checkEnterpriseParams } from './query-params.js';
import { RegistryHttpError } from './http-error.js';
import { agentRoutes } from './endpoints/agent.js';
import { catalogRoutes } from './endpoints/catalog.js';
import { healthRoutes } from './endpoints/health.js';
import { kvRoutes } from './endpoints/kv.js';
import { EndpointContext, TEXT, type ApiRequest, type ApiResponse, type EndpointOptions, type ParsedRequest, type Route } from './endpoints/route.js';
import { statusRoutes } from './endpoints/status.js';
import { uiRoutes } from './endpoints/ui.js';

export type { ApiRequest, ApiResponse, Route } from './endpoints/route.js';
export type RegistryApiOptions = EndpointOptions;

/** Every endpoint group, in the order Consul's docs list them. */
const GROUPS = [agentRoutes, catalogRoutes, healthRoutes, kvRoutes, statusRoutes, uiRoutes];

export class RegistryApi {
  private readonly ctx: EndpointContext;
  private readonly routes: Route[];

  constructor(opts: RegistryApiOptions) {
    this.ctx = new EndpointContext(opts);
    this.routes = GROUPS.flatMap((group) => group(this.ctx));
  }

  /**
   * The routes for a path: those with the longest matching prefix (Go's ServeMux prefers the
   * longest pattern, so /v1/agent/service/register wins over /v1/agent/service/), one per method.
   */
  private match(path: string): Route[] {
    let best: Route[] = [];
    for (const route of this.routes) {
      if (!(route.exact ? path === route.prefix : path.startsWith(route.prefix))) continue;
      if (best.length === 0 || route.prefix.length > best[0]!.prefix.length) best = [route];
      else if (route.prefix.length === best[0]!.prefix.length) best.push(route);
    }
    return best;
  }

  async handle(req: ApiRequest): Promise<ApiResponse> {
    const url = new URL(req.url, 'http://registry.invalid');
    const path = url.pathname;
    const candidates = this.match(path);
    if (candidates.length === 0) {
      return { status: 404, headers: { 'content-type': TEXT }, body: 'Invalid URL path: not a recognized HTTP API endpoint\n' };
    }
    // Consul lists OPTIONS first, then the route's own methods (agent/http.go).
    const allow = ['OPTIONS', ...candidates.map((r) => r.method)].join(',');
    if (req.method === 'OPTIONS') return this.withCommon({ status: 200, headers: { allow }, body: '' });
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
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
      // Consul OSS refuses ?ns= / ?partition= (and their headers) before anything else the handler reads.
      checkEnterpriseParams(path, parsed.query, req.headers);
      return this.withCommon(await route.handler(parsed));
    } catch (error) {
      if (error instanceof RegistryHttpError) {
        return this.withCommon({ status: error.status, headers: { ...error.headers, 'content-type': TEXT }, body: error.body });
      }
      throw error;
    }
  }

  /** Stops waking blocked queries on catalog changes (the registry's close). */
  close(): void {
    this.ctx.unfollow();
  }

  private withCommon(res: ApiResponse): ApiResponse {
    return {
      ...res,
      headers: { ...res.headers, vary: 'Accept-Encoding', 'x-consul-default-acl-policy': this.ctx.token === undefined ? 'allow' : 'deny' },
    };
  }
}
