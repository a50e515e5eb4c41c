/** /v1/catalog/: services and the instances of one service, as blocking reads. */
import { RegistryHttpError } from '../http-error.js';
import { catalogServiceEntries } from '../views.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

export function catalogRoutes(ctx: EndpointContext): Route[] {
  const catalogServices = (req: ParsedRequest): Promise<ApiResponse> =>
    ctx.blockingRead(
      req,
      () => ctx.catalog.servicesIndex(),
      (filtered) => (filtered ? {} : ctx.catalog.serviceNames()),
      undefined,
      true,
    );

  const catalogService = (req: ParsedRequest): Promise<ApiResponse> => {
    const name = req.rest;
    return ctx.blockingRead(
      req,
      () => ctx.catalog.serviceIndex(name),
      (filtered) => (filtered ? [] : catalogServiceEntries(ctx.catalog, name, req.query.getAll('tag'))),
      () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
      true,
    );
  };

  return [
    { prefix: '/v1/catalog/services', exact: true, method: 'GET', handler: catalogServices },
    { prefix: '/v1/catalog/service/', exact: false, method: 'GET', handler: catalogService },
  ];
}
