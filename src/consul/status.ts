import type { ConsulHttp } from './http.js';

/** The status endpoints (Go: api.Status). */
export class StatusApi {
  readonly #http: ConsulHttp;

  constructor(http: ConsulHttp) {
    this.#http = http;
  }

  /** GET /v1/status/leader: the leader's RPC address ("127.0.0.1:8300"), or "" while there is none. */
  async leader(): Promise<string> {
    return (await this.#http.read<string>({ path: '/v1/status/leader' })).value;
  }

  /** GET /v1/status/peers: the RPC addresses of the Raft peers. */
  async peers(): Promise<string[]> {
    return (await this.#http.read<string[]>({ path: '/v1/status/peers' })).value;
  }
}
