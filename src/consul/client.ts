import type { EventOwner } from '../events/channels.js';
import type { Logger } from '../log/logger.js';
import { AgentApi } from './agent.js';
import { CatalogApi } from './catalog.js';
import { HealthApi } from './health.js';
import { ConsulHttp } from './http.js';
import type { ConsulClientOptions } from './options.js';
import { StatusApi } from './status.js';

/**
 * A thin typed client of Consul's HTTP API, grouped like Consul's Go `api` package.
 * One client keeps one keep-alive connection pool per agent address: share it.
 */
export class ConsulClient {
  readonly agent: AgentApi;
  readonly health: HealthApi;
  readonly catalog: CatalogApi;
  readonly status: StatusApi;
  readonly logger: Logger;
  readonly #http: ConsulHttp;

  constructor(opts: ConsulClientOptions = {}) {
    this.#http = new ConsulHttp(opts);
    this.logger = this.#http.logger;
    this.agent = new AgentApi(this.#http);
    this.health = new HealthApi(this.#http);
    this.catalog = new CatalogApi(this.#http);
    this.status = new StatusApi(this.#http);
  }

  /** Whose events this client publishes (see ConsulClientOptions.events). */
  get owner(): EventOwner {
    return this.#http.owner;
  }

  /** Whether requests carry an ACL token (the token itself is never exposed). */
  get hasToken(): boolean {
    return this.#http.hasToken;
  }

  /** The agent address in use (it changes after a failover), for messages. */
  get address(): string {
    return this.#http.address;
  }

  /** Ends blocking queries in flight and closes connections. The client cannot be used afterwards. */
  close(): Promise<void> {
    return this.#http.close();
  }
}
