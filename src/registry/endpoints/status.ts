/** /v1/status/: the leader and peers of a single-server cluster (this registry). */
import type { EndpointContext, Route } from './route.js';

export function statusRoutes(ctx: EndpointContext): Route[] {
  return [
    { prefix: '/v1/status/leader', exact: true, method: 'GET', handler: () => ctx.json(200, ctx.serverAddress) },
    { prefix: '/v1/status/peers', exact: true, method: 'GET', handler: () => ctx.json(200, [ctx.serverAddress]) },
  ];
}
