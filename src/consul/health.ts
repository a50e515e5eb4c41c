import type { ConsulHttp } from './http.js';
import type { HealthCheck, QueryMeta, QueryOptions, ServiceEntry } from './types.js';

export interface HealthServiceOptions extends QueryOptions {
  /** Only instances whose every check is passing (?passing). */
  passing?: boolean;
  tag?: string;
}

/** The health endpoints (Go: api.Health). */
export class HealthApi {
  readonly #http: ConsulHttp;

  constructor(http: ConsulHttp) {
    this.#http = http;
  }

  /** GET /v1/health/service/:service: instances with their node and checks. Supports blocking. */
  async service(name: string, opts: HealthServiceOptions = {}): Promise<{ entries: ServiceEntry[]; meta: QueryMeta }> {
    const { value, meta } = await this.#http.read<ServiceEntry[] | null>({
      path: `/v1/health/service/${encodeURIComponent(name)}`,
      params: { passing: opts.passing ? '1' : undefined, tag: opts.tag },
      query: opts,
    });
    return { entries: value ?? [], meta };
  }

  /** GET /v1/health/state/:state ('any' for every check): checks with their ModifyIndex. Supports blocking. */
  async state(state: 'any' | 'passing' | 'warning' | 'critical', opts: QueryOptions = {}): Promise<{ checks: HealthCheck[]; meta: QueryMeta }> {
    const { value, meta } = await this.#http.read<HealthCheck[] | null>({ path: `/v1/health/state/${state}`, query: opts });
    return { checks: value ?? [], meta };
  }
}
