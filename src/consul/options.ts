import type { CaSource, KeyPairSource } from '../pki/index.js';
import type { EventOwner } from '../events/channels.js';
import type { Logger } from '../log/logger.js';

/** TLS to Consul's HTTPS port. Verification is always on; there is no switch to turn it off. */
export interface ConsulTlsOptions {
  /** The CA that signed Consul's HTTPS certificate (CONSUL_CACERT is { file }); PEM text is { pem }. */
  ca?: CaSource | string;
  /** Certificate and key for agents with verify_incoming (CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY). */
  clientCertificate?: KeyPairSource;
  /** Name to verify Consul's certificate against, and to send as SNI (CONSUL_TLS_SERVER_NAME). */
  serverName?: string;
  /** @deprecated the same as ca: { file }. */
  caFile?: string;
  /** @deprecated with keyFile, the same as clientCertificate: { certFile, keyFile }. */
  certFile?: string;
  /** @deprecated see certFile. */
  keyFile?: string;
}

export interface ConsulClientOptions {
  /**
   * "127.0.0.1:8500", "http://h:p", "https://h:p" or "unix:///path"; default 127.0.0.1:8500.
   * Several addresses: a request that cannot connect moves on to the next one, and the
   * client then stays with the one that answered.
   */
  address?: string | string[];
  /** ACL token sent as X-Consul-Token. Never logged. */
  token?: string;
  tls?: ConsulTlsOptions;
  /** Per-request timeout for ordinary requests; blocking queries get wait + wait/16 + this. Default 10000. */
  timeoutMs?: number;
  /** Where this client's log lines go when it is made on its own (see `events`). */
  logger?: Logger;
  /** The owner to publish events under (a Farol client or service that made this Consul client); its logger writes the lines. */
  events?: EventOwner;
}
