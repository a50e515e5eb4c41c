import { isIP } from 'node:net';
import { buildConnector, Pool } from 'undici';
import type { Instance } from './instance.js';
import { instanceOrigin } from './instance.js';
import { TlsAlerts } from './tls-alerts.js';

/**
 * The name the instance's certificate must carry. A template such as '{service}.service.consul'
 * wins; otherwise a host name address is checked as is. For an IP address there is no SNI
 * name, and Node checks the address against the certificate's IP SANs.
 */
export function serverNameFor(instance: Pick<Instance, 'service' | 'address'>, template?: string): string | undefined {
  if (template) return template.replaceAll('{service}', instance.service);
  return isIP(instance.address) === 0 ? instance.address : undefined;
}

export interface InstancePoolsOptions {
  /** PEM of the CA(s) that sign service certificates. Verification is always on. */
  ca: string;
  connectTimeoutMs: number;
  /** A client certificate (PEM) and its key, presented to instances that require mTLS. */
  clientCertificate?: { cert: string; key: string };
  /** Most connections open to one instance at once; further requests queue. Default unbounded. */
  connections?: number;
}

export interface PoolTarget {
  instance: Pick<Instance, 'address' | 'port'>;
  serverName: string | undefined;
}

/** One keep-alive undici Pool per instance origin (and TLS name), closed when it leaves the set. */
export class InstancePools {
  private readonly pools = new Map<string, Pool>();
  private readonly closing = new Set<Promise<void>>();
  private readonly alerts = new TlsAlerts();
  private closed = false;

  constructor(private opts: InstancePoolsOptions) {}

  /**
   * New TLS material (a CA bundle or client certificate that changed): the pools made so far stop
   * taking requests and close once their in-flight ones are done; new pools, with new
   * connections, use the new material.
   */
  setTls(tls: Pick<InstancePoolsOptions, 'ca' | 'clientCertificate'>): void {
    const { clientCertificate: _previous, ...rest } = this.opts;
    this.opts = { ...rest, ca: tls.ca, ...(tls.clientCertificate ? { clientCertificate: tls.clientCertificate } : {}) };
    for (const pool of this.pools.values()) this.track(pool.close());
    this.pools.clear();
  }

  get size(): number {
    return this.pools.size;
  }

  poolFor(target: PoolTarget): Pool {
    if (this.closed) throw new Error('instance pools are closed');
    const id = poolKey(target);
    let pool = this.pools.get(id);
    if (!pool) {
      const connector = buildConnector({
        ca: this.opts.ca,
        minVersion: 'TLSv1.2',
        timeout: this.opts.connectTimeoutMs,
        ...(this.opts.clientCertificate === undefined ? {} : { cert: this.opts.clientCertificate.cert, key: this.opts.clientCertificate.key }),
        ...(target.serverName === undefined ? {} : { servername: target.serverName }),
      });
      pool = new Pool(instanceOrigin(target.instance), {
        ...(this.opts.connections === undefined ? {} : { connections: this.opts.connections }),
        connect: (options, callback) =>
          connector(options, (error, socket) => {
            if (socket) this.alerts.watch(socket, this.opts.clientCertificate !== undefined);
            callback(error, socket as never);
          }),
      });
      this.pools.set(id, pool);
    }
    return pool;
  }

  /** Closes (after their in-flight requests) the pools of every target not in `targets`. */
  retainOnly(targets: Iterable<PoolTarget>): void {
    const keep = new Set<string>();
    for (const target of targets) keep.add(poolKey(target));
    for (const [id, pool] of this.pools) {
      if (!keep.has(id)) {
        this.pools.delete(id);
        this.track(pool.close());
      }
    }
  }

  /**
   * The TLS alert behind an undici "other side closed" error, if the instance sent one on that
   * connection: with TLS 1.3 a server rejects a missing or untrusted client certificate only after
   * the client's handshake is done, and undici then reports the close, not the alert.
   */
  tlsAlertBehind(error: unknown): Error | undefined {
    return this.alerts.behind(error);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) this.track(pool.close());
    this.pools.clear();
    await Promise.all([...this.closing]);
  }

  private track(closing: Promise<void>): void {
    const settled = closing.catch(() => undefined).finally(() => this.closing.delete(settled));
    this.closing.add(settled);
  }
}

function poolKey(target: PoolTarget): string {
  return `${instanceOrigin(target.instance)} ${target.serverName ?? ''}`;
}
