/** /v1/catalog/: services and the instances of one service, as blocking reads. */
import { RegistryHttpError } from '../http-error.js';
import { readFilter, type QueryFilter } from '../query-params.js';
import { catalogServiceEntries, nodeServicesView, nodeView } from '../views.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

export function catalogRoutes(ctx: EndpointContext): Route[] {
  const catalogServices = (req: ParsedRequest): Promise<ApiResponse> => {
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(req, {
      index: () => ctx.catalog.servicesIndex(),
      build: (filtered) => (filtered ? {} : filter ? filteredServiceNames(ctx, filter) : ctx.catalog.serviceNames()),
      metaOnDenied: true,
      afterAcl: () => (filter = readFilter(req.query, 'catalog/services')),
    });
  };

  const catalogService = (req: ParsedRequest): Promise<ApiResponse> => {
    const name = req.rest;
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(req, {
      index: () => ctx.catalog.serviceIndex(name),
      build: (filtered) => (filtered ? [] : (filter?.apply ?? ((e) => e))(catalogServiceEntries(ctx.catalog, name, req.query.getAll('tag')))),
      validate: () => {
        if (name === '') throw new RegistryHttpError(400, 'Missing service name');
      },
      metaOnDenied: true,
      afterAcl: () => (filter = readFilter(req.query, 'catalog/service')),
    });
  };

  /**
   * Consul answers catalog/nodes with the nodes and services tables' index but watches the nodes
   * alone: a service registration does not wake it, and a wait that runs out answers the index
   * it started with. This registry's one node never changes.
   */
  const nodes = (req: ParsedRequest): Promise<ApiResponse> => {
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(req, {
      index: () => ctx.catalog.nodesIndex(),
      build: (filtered) => (filtered ? [] : (filter?.apply ?? ((n) => n))([nodeView(ctx.catalog)])),
      metaOnDenied: true,
      afterAcl: () => (filter = readFilter(req.query, 'catalog/nodes')),
      wakeIndex: () => ctx.catalog.nodeIndexes().modifyIndex,
    });
  };

  /** A node this registry does not know answers null with index 0 (sent as 1), as Consul's NodeServices. */
  const node = (req: ParsedRequest): Promise<ApiResponse> => {
    const known = req.rest === ctx.catalog.node.name;
    let filter: QueryFilter | undefined;
    return ctx.blockingRead(req, {
      index: () => (known ? ctx.catalog.nodesIndex() : 0),
      build: (filtered) => (filtered || !known ? null : filterNodeServices(nodeServicesView(ctx.catalog), filter)),
      validate: () => {
        if (req.rest === '') throw new RegistryHttpError(400, 'Missing node name');
      },
      metaOnDenied: true,
      afterAcl: () => (filter = readFilter(req.query, 'catalog/node')),
    });
  };

  /** Not a blocking read: no query metadata, no token needed. */
  const datacenters = (): ApiResponse => ctx.json(200, [ctx.catalog.node.datacenter]);

  return [
    { prefix: '/v1/catalog/datacenters', exact: true, method: 'GET', handler: datacenters },
    { prefix: '/v1/catalog/nodes', exact: true, method: 'GET', handler: nodes },
    { prefix: '/v1/catalog/node/', exact: false, method: 'GET', handler: node },
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

/** catalog/node/:node with ?filter=: Consul filters the node's Services map (NodeService records). */
function filterNodeServices(view: Record<string, unknown>, filter: QueryFilter | undefined): Record<string, unknown> {
  if (!filter) return view;
  const services = Object.fromEntries(Object.entries(view.Services as Record<string, unknown>).filter(([, service]) => filter.keep(service)));
  return { ...view, Services: services };
}
