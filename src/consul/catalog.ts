import type { ConsulHttp } from './http.js';
import type { CatalogService, QueryMeta, QueryOptions } from './types.js';

/** The catalog endpoints (Go: api.Catalog). */
export class CatalogApi {
  readonly #http: ConsulHttp;

  constructor(http: ConsulHttp) {
    this.#http = http;
  }

  /** GET /v1/catalog/services: every service name with its tags. Supports blocking. */
  async services(opts: QueryOptions = {}): Promise<{ services: Record<string, string[]>; meta: QueryMeta }> {
    const { value, meta } = await this.#http.read<Record<string, string[] | null>>({
      path: '/v1/catalog/services',
      query: opts,
    });
    const services: Record<string, string[]> = {};
    for (const [name, tags] of Object.entries(value ?? {})) services[name] = tags ?? [];
    return { services, meta };
  }

  /** GET /v1/catalog/service/:service: the nodes providing a service. Supports blocking. */
  async service(
    name: string,
    opts: QueryOptions & { tag?: string } = {},
  ): Promise<{ entries: CatalogService[]; meta: QueryMeta }> {
    const { value, meta } = await this.#http.read<CatalogService[] | null>({
      path: `/v1/catalog/service/${encodeURIComponent(name)}`,
      params: { tag: opts.tag },
      query: opts,
    });
    return { entries: value ?? [], meta };
  }
}
