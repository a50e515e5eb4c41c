import { isIP } from 'node:net';
import { Pool } from 'undici';
import type { Instance } from './instance.js';
import { instanceOrigin } from './instance.js';

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
  private closed = false;

  constructor(private readonly opts: InstancePoolsOptions) {}

  get size(): number {
    return this.pools.size;
  }

  poolFor(target: PoolTarget): Pool {
    if (this.closed) throw new Error('instance pools are closed');
    const id = poolKey(target);
    let pool = this.pools.get(id);
    if (!pool) {
      pool = new Pool(instanceOrigin(target.instance), {
        ...(this.opts.connections === undefined ? {} : { connections: this.opts.connections }),
        connect: {
          ca: this.opts.ca,
          minVersion: 'TLSv1.2',
          timeout: this.opts.connectTimeoutMs,
          ...(target.serverName === undefined ? {} : { servername: target.serverName }),
        },
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
