/** /v1/health/: the instances of a service with their checks, as blocking reads. */
import { queryFlag } from '../decode-query.js';
import { RegistryHttpError } from '../http-error.js';
import { readFilter, type QueryFilter } from '../query-params.js';
import { healthServiceBody } from '../views.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

export function healthRoutes(ctx: EndpointContext): Route[] {
  const healthService = (req: ParsedRequest): Promise<ApiResponse> => {
    const name = req.rest;
    const tags = req.query.getAll('tag');
    const passing = (): boolean => queryFlag(req.query, 'passing', 'Invalid value for ?passing');
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(
      req,
      () => ctx.catalog.healthIndex(name),
      (filtered) => {
        const onlyPassing = passing();
        return filtered ? [] : healthServiceBody(ctx.catalog, name, { passing: onlyPassing, tags, ...(filter ? { keep: filter.keep } : {}) });
      },
      () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
      false,
      // A blocking read is served by Consul's streaming backend, whose filter errors have no prefix.
      () => (filter = readFilter(req.query, 'health/service', { streaming: Number(req.query.get('index') ?? '0') > 0 })),
    );
  };

  return [{ prefix: '/v1/health/service/', exact: false, method: 'GET', handler: healthService }];
}
