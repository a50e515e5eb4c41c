import type { ServiceEntry } from '../consul/index.js';

/** One reachable copy of a service, as the client sees it. */
export interface Instance {
  id: string;
  service: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

/** The parts of a Consul health entry an instance is made from. */
export interface InstanceSource {
  Node: Pick<ServiceEntry['Node'], 'Address'>;
  Service: Pick<ServiceEntry['Service'], 'ID' | 'Service' | 'Address' | 'Port' | 'Tags' | 'Meta'>;
}

/**
 * Turns Consul health entries into instances, sorted by id so that balancers see a stable
 * order whatever order Consul answers in. A service registered without an address is
 * reachable at its node's address, as Consul's own DNS interface does it.
 */
export function instancesFromEntries(entries: readonly InstanceSource[]): Instance[] {
  return entries
    .map((entry) => ({
      id: entry.Service.ID,
      service: entry.Service.Service,
      address: entry.Service.Address || entry.Node.Address,
      port: entry.Service.Port,
      tags: [...(entry.Service.Tags ?? [])],
      meta: { ...(entry.Service.Meta ?? {}) },
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** host:port, with brackets around an IPv6 address. */
export function hostPort(instance: Pick<Instance, 'address' | 'port'>): string {
  return instance.address.includes(':') ? `[${instance.address}]:${instance.port}` : `${instance.address}:${instance.port}`;
}

/** The https origin of an instance, e.g. https://127.0.0.1:4443. */
export function instanceOrigin(instance: Pick<Instance, 'address' | 'port'>): string {
  return `https://${hostPort(instance)}`;
}
