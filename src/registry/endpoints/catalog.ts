/** /v1/catalog/: services and the instances of one service, as blocking reads. */
import { RegistryHttpError } from '../http-error.js';
import { readFilter, type QueryFilter } from '../query-params.js';
import { catalogServiceEntries } from '../views.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

export function catalogRoutes(ctx: EndpointContext): Route[] {
  const catalogServices = (req: ParsedRequest): Promise<ApiResponse> => {
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(
      req,
      () => ctx.catalog.servicesIndex(),
      (filtered) => (filtered ? {} : filter ? filteredServiceNames(ctx, filter) : ctx.catalog.serviceNames()),
      undefined,
      true,
      () => (filter = readFilter(req.query, 'catalog/services')),
    );
  };

  const catalogService = (req: ParsedRequest): Promise<ApiResponse> => {
    const name = req.rest;
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(
      req,
      () => ctx.catalog.serviceIndex(name),
      (filtered) => (filtered ? [] : (filter?.apply ?? ((e) => e))(catalogServiceEntries(ctx.catalog, name, req.query.getAll('tag')))),
      () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
      true,
      () => (filter = readFilter(req.query, 'catalog/service')),
    );
  };

  return [
    { prefix: '/v1/catalog/services', exact: true, method: 'GET', handler: catalogServices },
    { prefix: '/v1/catalog/service/', exact: false, method: 'GET', handler: catalogService },
  ];
}

/** catalog/services with ?filter=: the names and tag unions of the instances (ServiceNode records) that pass. */
function filteredServiceNames(ctx: EndpointContext, filter: QueryFilter): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of Object.keys(ctx.catalog.serviceNames())) {
    const kept = filter.apply(catalogServiceEntries(ctx.catalog, name));
    if (kept.length === 0) continue;
    out[name] = [...new Set(kept.flatMap((e) => e.ServiceTags as string[]))].sort();
  }
  return out;
}
