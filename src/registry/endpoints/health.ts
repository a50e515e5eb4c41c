/** /v1/health/: the instances of a service with their checks, as blocking reads. */
import { queryFlag } from '../decode-query.js';
import { RegistryHttpError } from '../http-error.js';
import { readFilter, type QueryFilter } from '../query-params.js';
import type { CheckState } from '../catalog.js';
import { catalogCheckViews, healthServiceBody } from '../views.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

const STATES = new Set(['passing', 'warning', 'critical']);

export function healthRoutes(ctx: EndpointContext): Route[] {
  const healthService = (req: ParsedRequest): Promise<ApiResponse> => {
    const name = req.rest;
    const tags = req.query.getAll('tag');
    const passing = (): boolean => queryFlag(req.query, 'passing', 'Invalid value for ?passing');
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(req, {
      index: () => ctx.catalog.healthIndex(name),
      build: (filtered) => {
        const onlyPassing = passing();
        return filtered ? [] : healthServiceBody(ctx.catalog, name, { passing: onlyPassing, tags, ...(filter ? { keep: filter.keep } : {}) });
      },
      validate: () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
      // A blocking read is served by Consul's streaming backend, whose filter errors have no prefix.
      afterAcl: () => (filter = readFilter(req.query, 'health/service', { streaming: Number(req.query.get('index') ?? '0') > 0 })),
    });
  };

  /** A read of checks (the checks table's index), `missing` the 400 text for an empty path rest. */
  const checksRead = (req: ParsedRequest, missing: string, select: (rest: string) => CheckState[]): Promise<ApiResponse> => {
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(req, {
      index: () => ctx.catalog.checksIndex(),
      build: (filtered) => (filtered ? [] : (filter?.apply ?? ((c) => c))(catalogCheckViews(ctx.catalog, select(req.rest)))),
      validate: () => {
        if (req.rest === '') throw new RegistryHttpError(400, missing);
      },
      // Unlike health/service (streamed), these set query metadata before an unknown token is refused.
      metaOnDenied: true,
      // health/checks, health/state and health/node all filter HealthCheck records.
      afterAcl: () => (filter = readFilter(req.query, 'health/checks')),
    });
  };

  const serviceChecks = (req: ParsedRequest) =>
    checksRead(req, 'Missing service name', (name) => ctx.catalog.catalogChecks().filter((c) => c.serviceName === name && c.serviceId !== ''));

  /** any, passing, warning or critical; Consul 1.15.4 answers any other state with an empty list, not an error. */
  const checksInState = (req: ParsedRequest) =>
    checksRead(req, 'Missing check state', (state) => ctx.catalog.catalogChecks().filter((c) => state === 'any' || (STATES.has(state) && c.status === state)));

  const nodeChecks = (req: ParsedRequest) =>
    checksRead(req, 'Missing node name', (node) => (node === ctx.catalog.node.name ? ctx.catalog.catalogChecks() : []));

  return [
    { prefix: '/v1/health/service/', exact: false, method: 'GET', handler: healthService },
    { prefix: '/v1/health/checks/', exact: false, method: 'GET', handler: serviceChecks },
    { prefix: '/v1/health/state/', exact: false, method: 'GET', handler: checksInState },
    { prefix: '/v1/health/node/', exact: false, method: 'GET', handler: nodeChecks },
  ];
}
