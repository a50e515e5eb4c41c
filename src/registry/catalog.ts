/**
 * The registry's state machine: one node (this agent), its services and checks, and a
 * raft-like index that rises by one on every change. No I/O and no clock: callers pass
 * validated definitions in and read Consul-shaped results out.
 *
 * Index rules, as Consul's state store applies them (agent/consul/state/catalog.go):
 * - every service and check remembers the index of its creation and of its last change;
 * - catalog/services answers with the index of the last registration or deregistration;
 * - catalog/service/:name answers with the last index that touched a service of that name;
 * - health/service/:name also counts changes to the checks of those services;
 * - a name never seen answers with the index of the whole services table.
 * Consul's agent syncs a check to the catalog at once when its status changes, but an
 * output-only change waits (check_update_interval, 5 min), so the catalog keeps the output
 * of the last status change while agent/checks shows the newest.
 */
import type { HealthStatus } from '../consul-wire/types.js';
import { RaftIndex } from './raft-index.js';

/** 'maintenance': the critical check service maintenance mode adds (nothing runs it). */
export type CheckType = 'ttl' | 'http' | 'tcp' | 'maintenance';

export interface ServiceDefinition {
  id: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: { Passing: number; Warning: number };
  enableTagOverride: boolean;
}

export interface CheckDefinition {
  checkId: string;
  name: string;
  type: CheckType;
  status: HealthStatus;
  notes: string;
  /** Go duration texts as given, echoed by agent/checks and health ("" when unset). */
  interval: string;
  timeout: string;
  intervalMs: number;
  timeoutMs: number;
  ttlMs: number;
  http?: string;
  method?: string;
  header?: Record<string, string[]>;
  body?: string;
  tlsServerName?: string;
  tcp?: string;
  /** 0 = never reap. */
  deregisterCriticalAfterMs: number;
  /** Consecutive results needed before a probe's status is recorded (0 = at once). */
  successBeforePassing?: number;
  failuresBeforeWarning?: number;
  failuresBeforeCritical?: number;
}

export interface ServiceState extends ServiceDefinition {
  createIndex: number;
  modifyIndex: number;
}

export interface CheckState extends CheckDefinition {
  serviceId: string;
  serviceName: string;
  /** The agent's latest output (agent/checks). */
  output: string;
  /** The output the catalog last saw (health endpoints). */
  syncedOutput: string;
  createIndex: number;
  modifyIndex: number;
}

export interface NodeIdentity {
  id: string;
  name: string;
  address: string;
  datacenter: string;
}

export type CatalogChange =
  | { kind: 'service-registered'; serviceId: string }
  | { kind: 'service-deregistered'; serviceId: string }
  | { kind: 'check-updated'; checkId: string };

export interface Indexed<T> {
  value: T;
  index: number;
}

/** Consul's structs.ServiceMaintPrefix: the maintenance check of service X is `_service_maintenance:X`. */
export const SERVICE_MAINTENANCE_PREFIX = '_service_maintenance:';
/** Consul's defaultServiceMaintReason (agent/agent.go), the Notes when no reason is given. */
export const DEFAULT_SERVICE_MAINTENANCE_REASON =
  'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.';

export function serviceMaintenanceCheckId(serviceId: string): string {
  return `${SERVICE_MAINTENANCE_PREFIX}${serviceId}`;
}

/** Consul's agent registers its own "consul" service in the catalog (not on the agent). */
const CONSUL_SERVICE_ID = 'consul';
const SERF_CHECK_ID = 'serfHealth';

export class Catalog {
  /** Shared with the KV store: one index across tables, one notification that wakes blocked queries. */
  readonly raftIndex: RaftIndex;
  private readonly nodeCreateIndex: number;
  private servicesTableIndex = 0;
  /** The index of the last change to any check (Consul's checks table), the serf check's creation at first. */
  private checksTableIndex = 0;
  private readonly services = new Map<string, ServiceState>();
  private readonly checks = new Map<string, CheckState>();
  /** Secondary indexes, so a health query costs the size of its answer, not of the catalog. */
  private readonly idsByName = new Map<string, Set<string>>();
  private readonly checkIdsByService = new Map<string, Set<string>>();
  private readonly serviceIndexByName = new Map<string, number>();
  private readonly healthIndexByName = new Map<string, number>();
  private readonly listeners = new Set<(change: CatalogChange) => void>();
  readonly node: NodeIdentity;
  readonly consulServicePort: number;

  constructor(node: NodeIdentity, opts: { consulServicePort?: number; raftIndex?: RaftIndex } = {}) {
    this.node = node;
    this.raftIndex = opts.raftIndex ?? new RaftIndex();
    this.consulServicePort = opts.consulServicePort ?? 8300;
    this.nodeCreateIndex = this.bump();
    this.checksTableIndex = this.nodeCreateIndex;
    const consulIndex = this.bump();
    this.servicesTableIndex = consulIndex;
    this.serviceIndexByName.set('consul', consulIndex);
    this.healthIndexByName.set('consul', consulIndex);
  }

  /** The index of the last change of any kind (catalog or KV). */
  currentIndex(): number {
    return this.raftIndex.current();
  }

  /** Takes the next shared index, for a write to another table (KV); announce it with `raftIndex.changed()`. */
  nextIndex(): number {
    return this.raftIndex.next();
  }

  /** Catalog changes only (services and checks), e.g. for the check runner and the log; blocked queries follow `raftIndex`. */
  onChange(listener: (change: CatalogChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getService(id: string): ServiceState | undefined {
    return this.services.get(id);
  }

  getCheck(id: string): CheckState | undefined {
    return this.checks.get(id);
  }

  listServices(): ServiceState[] {
    return [...this.services.values()].sort((a, b) => compare(a.id, b.id));
  }

  listChecks(): CheckState[] {
    return [...this.checks.values()].sort((a, b) => compare(a.checkId, b.checkId));
  }

  checksOfService(serviceId: string): CheckState[] {
    const ids = [...(this.checkIdsByService.get(serviceId) ?? [])].sort(compare);
    return ids.map((id) => this.checks.get(id) as CheckState);
  }

  /**
   * Adds or replaces a service. Checks named here are added or updated; an existing check
   * keeps its status and output (Consul snapshots check state across re-registration).
   * With `replaceExistingChecks`, the service's other checks are removed.
   * Returns the checks as they now are, for the check runner.
   */
  registerService(def: ServiceDefinition, checks: CheckDefinition[], opts: { replaceExistingChecks?: boolean } = {}): CheckState[] {
    const previous = this.services.get(def.id);
    if (previous && previous.name !== def.name) this.deregisterService(def.id);
    const existing = this.services.get(def.id);
    const serviceChanged = existing === undefined || !sameDefinition(existing, def);
    const stale = opts.replaceExistingChecks
      ? this.checksOfService(def.id).filter((c) => !checks.some((n) => n.checkId === c.checkId))
      : [];
    const checkChanges = checks.filter((c) => {
      const old = this.checks.get(c.checkId);
      return old === undefined || !sameCheck(old, c, def);
    });
    if (!serviceChanged && checkChanges.length === 0 && stale.length === 0) return this.checksOfService(def.id);

    const index = this.bump();
    if (serviceChanged) {
      this.services.set(def.id, { ...def, tags: [...def.tags], meta: { ...def.meta }, createIndex: existing?.createIndex ?? index, modifyIndex: index });
      addTo(this.idsByName, def.name, def.id);
      this.servicesTableIndex = index;
      this.serviceIndexByName.set(def.name, index);
    }
    for (const check of stale) this.removeCheck(check);
    for (const check of checkChanges) {
      const old = this.checks.get(check.checkId);
      if (old && old.serviceId !== def.id) this.removeCheck(old);
      addTo(this.checkIdsByService, def.id, check.checkId);
      this.checks.set(check.checkId, {
        ...check,
        status: old?.status ?? check.status,
        serviceId: def.id,
        serviceName: def.name,
        output: old?.output ?? '',
        syncedOutput: old?.syncedOutput ?? '',
        createIndex: old?.createIndex ?? index,
        modifyIndex: index,
      });
    }
    // A service's tags are copied into its checks (ServiceTags), so a tag change touches them too.
    if (serviceChanged && existing !== undefined) {
      for (const check of this.checksOfService(def.id)) check.modifyIndex = index;
    }
    if (stale.length > 0 || checkChanges.length > 0 || (serviceChanged && existing !== undefined && this.checksOfService(def.id).length > 0)) {
      this.checksTableIndex = index;
    }
    this.healthIndexByName.set(def.name, index);
    this.emit({ kind: 'service-registered', serviceId: def.id });
    return this.checksOfService(def.id);
  }

  /** False if no such service. */
  deregisterService(id: string): boolean {
    const service = this.services.get(id);
    if (!service) return false;
    const index = this.bump();
    this.services.delete(id);
    removeFrom(this.idsByName, service.name, id);
    const checks = this.checksOfService(id);
    for (const check of checks) this.removeCheck(check);
    if (checks.length > 0) this.checksTableIndex = index;
    this.servicesTableIndex = index;
    this.serviceIndexByName.set(service.name, index);
    this.healthIndexByName.set(service.name, index);
    this.emit({ kind: 'service-deregistered', serviceId: id });
    return true;
  }

  /**
   * Records a check result. A status change reaches the catalog (new index); an output-only
   * change stays on the agent, as Consul defers it. False if no such check.
   */
  updateCheck(checkId: string, status: HealthStatus, output: string): boolean {
    const check = this.checks.get(checkId);
    if (!check) return false;
    check.output = output;
    if (check.status === status) return true;
    const index = this.bump();
    check.status = status;
    check.syncedOutput = output;
    check.modifyIndex = index;
    this.checksTableIndex = index;
    this.healthIndexByName.set(check.serviceName, index);
    this.emit({ kind: 'check-updated', checkId });
    return true;
  }

  /**
   * Service maintenance mode on (Consul's Agent.EnableServiceMaintenance): adds the critical
   * `_service_maintenance:<id>` check, named "Service Maintenance Mode", with the reason as its
   * Notes. Already on: nothing changes (the first reason stays). False if no such service.
   */
  enableServiceMaintenance(serviceId: string, reason: string): boolean {
    const service = this.services.get(serviceId);
    if (!service) return false;
    const checkId = serviceMaintenanceCheckId(serviceId);
    if (this.checks.has(checkId)) return true;
    const index = this.bump();
    addTo(this.checkIdsByService, serviceId, checkId);
    this.checks.set(
      checkId,
      agentOwnedCheck({
        checkId,
        name: 'Service Maintenance Mode',
        type: 'maintenance',
        status: 'critical',
        notes: reason === '' ? DEFAULT_SERVICE_MAINTENANCE_REASON : reason,
        serviceId,
        serviceName: service.name,
        output: '',
        createIndex: index,
        modifyIndex: index,
      }),
    );
    this.checksTableIndex = index;
    this.healthIndexByName.set(service.name, index);
    this.emit({ kind: 'check-updated', checkId });
    return true;
  }

  /** Service maintenance mode off: removes the maintenance check (nothing if it is off). False if no such service. */
  disableServiceMaintenance(serviceId: string): boolean {
    const service = this.services.get(serviceId);
    if (!service) return false;
    const check = this.checks.get(serviceMaintenanceCheckId(serviceId));
    if (!check) return true;
    const index = this.bump();
    this.removeCheck(check);
    this.checksTableIndex = index;
    this.healthIndexByName.set(service.name, index);
    this.emit({ kind: 'check-updated', checkId: check.checkId });
    return true;
  }

  /** Index a blocking health/service query on `name` watches. */
  healthIndex(name: string): number {
    return this.healthIndexByName.get(name) ?? this.servicesTableIndex;
  }

  /** Index a blocking catalog/service query on `name` watches. */
  serviceIndex(name: string): number {
    return this.serviceIndexByName.get(name) ?? this.servicesTableIndex;
  }

  /**
   * Index a blocking catalog/nodes or catalog/node/:node query watches: Consul's catalogMaxIndex
   * over the nodes and services tables.
   */
  nodesIndex(): number {
    return Math.max(this.nodeCreateIndex, this.servicesTableIndex);
  }

  /** Index a blocking health/checks, health/state or health/node query watches (the checks table). */
  checksIndex(): number {
    return this.checksTableIndex;
  }

  /** Every check the catalog holds, the node's serf check included, sorted by check ID as Consul's checks table. */
  catalogChecks(): CheckState[] {
    return [this.serfCheck(), ...this.checks.values()].sort((a, b) => compare(a.checkId, b.checkId));
  }

  /** Index a blocking catalog/services query watches. */
  servicesIndex(): number {
    return this.servicesTableIndex;
  }

  /** Instances of `name` (with the built-in "consul" service), sorted by ID, with their checks. */
  instancesOf(name: string): { service: ServiceState; checks: CheckState[] }[] {
    const out: { service: ServiceState; checks: CheckState[] }[] = [];
    if (name === 'consul') out.push({ service: this.consulService(), checks: [] });
    for (const id of [...(this.idsByName.get(name) ?? [])].sort(compare)) {
      out.push({ service: this.services.get(id) as ServiceState, checks: this.checksOfService(id) });
    }
    return out;
  }

  /** Every service name with its tags (deduplicated, sorted), including "consul". */
  serviceNames(): Record<string, string[]> {
    const names = new Map<string, Set<string>>([['consul', new Set()]]);
    for (const service of this.services.values()) {
      const tags = names.get(service.name) ?? new Set<string>();
      for (const tag of service.tags) tags.add(tag);
      names.set(service.name, tags);
    }
    const out: Record<string, string[]> = {};
    for (const name of [...names.keys()].sort(compare)) out[name] = [...(names.get(name) as Set<string>)].sort(compare);
    return out;
  }

  /** The node's own serf check, always passing in a single-process registry. */
  serfCheck(): CheckState {
    return agentOwnedCheck({
      checkId: SERF_CHECK_ID,
      name: 'Serf Health Status',
      type: 'ttl',
      status: 'passing',
      notes: '',
      serviceId: '',
      serviceName: '',
      output: 'Agent alive and reachable',
      createIndex: this.nodeCreateIndex,
      modifyIndex: this.nodeCreateIndex,
    });
  }

  nodeIndexes(): { createIndex: number; modifyIndex: number } {
    return { createIndex: this.nodeCreateIndex, modifyIndex: this.nodeCreateIndex };
  }

  private consulService(): ServiceState {
    const index = this.nodeCreateIndex + 1;
    return {
      id: CONSUL_SERVICE_ID,
      name: 'consul',
      tags: [],
      address: '',
      port: this.consulServicePort,
      meta: {},
      weights: { Passing: 1, Warning: 1 },
      enableTagOverride: false,
      createIndex: index,
      modifyIndex: index,
    };
  }

  private removeCheck(check: CheckState): void {
    this.checks.delete(check.checkId);
    removeFrom(this.checkIdsByService, check.serviceId, check.checkId);
  }

  private bump(): number {
    return this.raftIndex.next();
  }

  private emit(change: CatalogChange): void {
    for (const listener of [...this.listeners]) listener(change);
    this.raftIndex.changed();
  }
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameDefinition(a: ServiceDefinition, b: ServiceDefinition): boolean {
  return (
    a.name === b.name &&
    a.address === b.address &&
    a.port === b.port &&
    a.enableTagOverride === b.enableTagOverride &&
    JSON.stringify(a.tags) === JSON.stringify(b.tags) &&
    JSON.stringify(a.meta) === JSON.stringify(b.meta) &&
    JSON.stringify(a.weights) === JSON.stringify(b.weights)
  );
}

function sameCheck(old: CheckState, def: CheckDefinition, service: ServiceDefinition): boolean {
  const { status: _ignored, ...rest } = def;
  const oldRest: Record<string, unknown> = { ...old };
  for (const [key, value] of Object.entries(rest)) {
    if (JSON.stringify(oldRest[key]) !== JSON.stringify(value)) return false;
  }
  return old.serviceName === service.name && old.serviceId === service.id;
}

/** A check the agent keeps itself (serf health, maintenance mode): nothing runs it, so it has no timings. */
function agentOwnedCheck(
  fields: Pick<CheckState, 'checkId' | 'name' | 'type' | 'status' | 'notes' | 'serviceId' | 'serviceName' | 'output' | 'createIndex' | 'modifyIndex'>,
): CheckState {
  return { ...fields, interval: '', timeout: '', intervalMs: 0, timeoutMs: 0, ttlMs: 0, deregisterCriticalAfterMs: 0, syncedOutput: fields.output };
}
