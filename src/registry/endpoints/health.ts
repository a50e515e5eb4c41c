/** /v1/health/: the instances of a service with their checks, as blocking reads. */
import { queryFlag } from '../decode-query.js';
import { RegistryHttpError } from '../http-error.js';
import { healthServiceBody } from '../views.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

export function healthRoutes(ctx: EndpointContext): Route[] {
  const healthService = (req: ParsedRequest): Promise<ApiResponse> => {
    const name = req.rest;
    const tags = req.query.getAll('tag');
    const passing = (): boolean => queryFlag(req.query, 'passing', 'Invalid value for ?passing');
    return ctx.blockingRead(
      req,
      () => ctx.catalog.healthIndex(name),
      (filtered) => {
        const onlyPassing = passing();
        return filtered ? [] : healthServiceBody(ctx.catalog, name, { passing: onlyPassing, tags });
      },
      () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
    );
  };

  return [{ prefix: '/v1/health/service/', exact: false, method: 'GET', handler: healthService }];
}
