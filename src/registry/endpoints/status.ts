/** /v1/status/: the leader and peers of a single-server cluster (this registry). */
import { checkDatacenter } from '../query-params.js';
import type { EndpointContext, ParsedRequest, Route } from './route.js';

export function statusRoutes(ctx: EndpointContext): Route[] {
  // Both go through the servers' RPC, so ?dc= of another datacenter is Consul's 500.
  const answer = (value: () => unknown) => (req: ParsedRequest) => {
    checkDatacenter(req.query, ctx.catalog.node.datacenter);
    return ctx.json(200, value());
  };
  return [
    { prefix: '/v1/status/leader', exact: true, method: 'GET', handler: answer(() => ctx.serverAddress) },
    { prefix: '/v1/status/peers', exact: true, method: 'GET', handler: answer(() => [ctx.serverAddress]) },
  ];
}
