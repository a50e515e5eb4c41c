/**
 * What the web UI's service list shows: one row per service name with its instances counted by
 * health. Consul's own UI reads GET /v1/internal/ui/services for this (one blocking query for the
 * whole list); the embedded registry answers the same path with Consul's ServiceSummary core fields
 * (Name, Datacenter, Tags, Nodes, InstanceCount, Checks*) and adds the instance counts its UI shows.
 * Pure: reads the catalog, no I/O.
 */
import type { Catalog, CheckState } from '../catalog.js';

export type InstanceHealth = 'passing' | 'warning' | 'critical';

export interface ServiceSummary {
  Name: string;
  Datacenter: string;
  Tags: string[];
  Nodes: string[];
  InstanceCount: number;
  ChecksPassing: number;
  ChecksWarning: number;
  ChecksCritical: number;
  /** Farol: instances by their aggregated health (the worst of their checks, node checks included). */
  InstancesPassing: number;
  InstancesWarning: number;
  InstancesCritical: number;
  /** Farol: instances in maintenance mode (counted as critical too, as Consul's health does). */
  InstancesInMaintenance: number;
}

const RANK: Record<string, number> = { passing: 0, warning: 1, critical: 2, maintenance: 2 };

/** Consul's AggregatedStatus: critical over warning over passing; no checks at all is passing. */
export function aggregatedHealth(statuses: readonly string[]): InstanceHealth {
  let worst = 0;
  for (const status of statuses) worst = Math.max(worst, RANK[status] ?? 2);
  return worst === 2 ? 'critical' : worst === 1 ? 'warning' : 'passing';
}

function isMaintenance(check: CheckState): boolean {
  return check.type === 'maintenance';
}

export function serviceSummaries(catalog: Catalog): ServiceSummary[] {
  const nodeChecks = [catalog.serfCheck()];
  const out: ServiceSummary[] = [];
  for (const [name, tags] of Object.entries(catalog.serviceNames())) {
    const summary: ServiceSummary = {
      Name: name,
      Datacenter: catalog.node.datacenter,
      Tags: tags,
      Nodes: [catalog.node.name],
      InstanceCount: 0,
      ChecksPassing: 0,
      ChecksWarning: 0,
      ChecksCritical: 0,
      InstancesPassing: 0,
      InstancesWarning: 0,
      InstancesCritical: 0,
      InstancesInMaintenance: 0,
    };
    for (const { checks } of catalog.instancesOf(name)) {
      const all = [...nodeChecks, ...checks];
      summary.InstanceCount += 1;
      for (const check of all) {
        if (check.status === 'passing') summary.ChecksPassing += 1;
        else if (check.status === 'warning') summary.ChecksWarning += 1;
        else summary.ChecksCritical += 1;
      }
      const health = aggregatedHealth(all.map((check) => check.status));
      if (health === 'passing') summary.InstancesPassing += 1;
      else if (health === 'warning') summary.InstancesWarning += 1;
      else summary.InstancesCritical += 1;
      if (checks.some(isMaintenance)) summary.InstancesInMaintenance += 1;
    }
    if (summary.InstanceCount > 0) out.push(summary);
  }
  return out;
}
