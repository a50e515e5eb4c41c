/** /ui/ and the redirect from / (filled in by the web UI work of issue 14). */
import type { EndpointContext, Route } from './route.js';

export function uiRoutes(_ctx: EndpointContext): Route[] {
  return [];
}
