/** /v1/health/: the instances of a service with their checks, as blocking reads. */
import { RegistryHttpError } from '../decode.js';
import { healthServiceBody } from '../views.js';
import { parseBool, type ApiResponse, type EndpointContext, type ParsedRequest, type Route } from './route.js';

export function healthRoutes(ctx: EndpointContext): Route[] {
  const healthService = (req: ParsedRequest): Promise<ApiResponse> => {
    const name = req.rest;
    const tags = req.query.getAll('tag');
    const passing = (): boolean => {
      if (!req.query.has('passing')) return false;
      const value = req.query.get('passing') ?? '';
      const parsed = value === '' ? true : parseBool(value);
      if (parsed === undefined) throw new RegistryHttpError(400, 'Invalid value for ?passing');
      return parsed;
    };
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
