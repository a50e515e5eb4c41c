/**
 * The web UI: `/` redirects to `/ui/` (as Consul's agent does), `/ui/` serves the static page
 * and its files, and /v1/internal/ui/services (the path Consul's own UI reads) answers the
 * service list as one blocking query. The page's other reads and writes are the public API.
 * The files need no token; everything they show comes through the API, which asks for it.
 */
import { RegistryHttpError } from '../http-error.js';
import { loadUiAssets, uiHeaders, type UiAsset } from '../ui/assets.js';
import { serviceSummaries } from '../ui/summary.js';
import { TEXT, type ApiResponse, type EndpointContext, type ParsedRequest, type Route } from './route.js';

function redirect(location: string): ApiResponse {
  return { status: 301, headers: { location, 'content-type': 'text/html; charset=utf-8' }, body: `<a href="${location}">Moved Permanently</a>.\n\n` };
}

export function uiRoutes(ctx: EndpointContext): Route[] {
  let assets: Promise<Map<string, UiAsset>> | undefined;

  const file = async (req: ParsedRequest): Promise<ApiResponse> => {
    assets ??= loadUiAssets().catch((error: unknown) => {
      assets = undefined; // a later request tries again
      throw error;
    });
    const name = req.rest === '' ? 'index.html' : req.rest;
    const asset = (await assets).get(name);
    if (!asset) return { status: 404, headers: { 'content-type': TEXT }, body: '404 page not found\n' };
    return { status: 200, headers: uiHeaders(asset, name), body: asset.body };
  };

  const services = (req: ParsedRequest): Promise<ApiResponse> =>
    ctx.blockingRead(req, {
      index: () => ctx.catalog.currentIndex(),
      build: (filtered) => (filtered ? [] : serviceSummaries(ctx.catalog)),
      validate: () => {
        if (req.query.has('dc') && req.query.get('dc') !== ctx.catalog.node.datacenter) {
          throw new RegistryHttpError(500, 'No path to datacenter');
        }
      },
    });

  return [
    { prefix: '/', exact: true, method: 'GET', handler: () => redirect('/ui/') },
    { prefix: '/ui', exact: true, method: 'GET', handler: () => redirect('/ui/') },
    { prefix: '/ui/', exact: false, method: 'GET', handler: file },
    { prefix: '/v1/internal/ui/services', exact: true, method: 'GET', handler: services },
  ];
}
