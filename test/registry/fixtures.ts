import { Catalog, type CheckDefinition, type ServiceDefinition } from '../../src/registry/catalog.js';

export function newCatalog(): Catalog {
  return new Catalog({ id: '00000000-0000-0000-0000-000000000001', name: 'node1', address: '127.0.0.1', datacenter: 'dc1' });
}

export function service(id: string, name: string, extra: Partial<ServiceDefinition> = {}): ServiceDefinition {
  return { id, name, tags: [], address: '', port: 8080, meta: {}, weights: { Passing: 1, Warning: 1 }, enableTagOverride: false, ...extra };
}

export function ttlCheck(checkId: string, extra: Partial<CheckDefinition> = {}): CheckDefinition {
  return {
    checkId,
    name: 'ttl',
    type: 'ttl',
    status: 'critical',
    notes: '',
    interval: '',
    timeout: '',
    intervalMs: 0,
    timeoutMs: 10_000,
    ttlMs: 10_000,
    deregisterCriticalAfterMs: 0,
    ...extra,
  };
}
