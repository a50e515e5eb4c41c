import { hostPort, instancesFromEntries } from '../client/index.js';
import type { HealthCheck, ServiceEntry } from '../consul/index.js';

/** Consul's structs.NodeMaint: the check `consul maint -enable` (node maintenance) adds to a node. */
export const NODE_MAINTENANCE_CHECK = '_node_maintenance';
/** Consul's structs.ServiceMaintPrefix: the check service maintenance adds, `_service_maintenance:<id>`. */
export const SERVICE_MAINTENANCE_PREFIX = '_service_maintenance:';

/** What Consul says of one instance, worst first: maintenance outranks a failing check. */
export type InstanceHealth = 'passing' | 'warning' | 'critical' | 'node-maintenance' | 'maintenance';

export interface InstanceVerdict {
  id: string;
  /** host:port a client connects to (the node's address when the service has none). */
  address: string;
  node: string;
  health: InstanceHealth;
  /** What a Farol client does with it: call it (it is in Consul's passing set) or skip it. */
  client: 'call' | 'skip';
  /** Why it is skipped: the check that keeps it out, and what that check said. Empty when called. */
  reason: string;
  checks: { id: string; name: string; status: string; output: string }[];
  tags: string[];
  meta: Record<string, string>;
}

const RANK: Record<InstanceHealth, number> = { passing: 0, warning: 1, critical: 2, 'node-maintenance': 3, maintenance: 4 };

function healthOf(check: HealthCheck): InstanceHealth {
  if (check.CheckID === NODE_MAINTENANCE_CHECK) return 'node-maintenance';
  if (check.CheckID.startsWith(SERVICE_MAINTENANCE_PREFIX)) return 'maintenance';
  if (check.Status === 'passing') return 'passing';
  return check.Status === 'warning' ? 'warning' : 'critical';
}

function oneLine(text: string, max = 120): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function reasonFor(health: InstanceHealth, check: HealthCheck | undefined): string {
  if (check === undefined) return '';
  const said = oneLine(check.Notes || check.Output);
  if (health === 'maintenance') return `service in maintenance${said ? `: ${said}` : ''}`;
  if (health === 'node-maintenance') return `node ${check.Node} in maintenance${said ? `: ${said}` : ''}`;
  return `check '${check.Name || check.CheckID}' is ${check.Status}${said ? `: ${said}` : ''}`;
}

/**
 * What a Farol client would do with each instance Consul reports. The client asks Consul for
 * `?passing` instances, which leaves out every instance with any check (its own or its node's)
 * not passing: a warning, a critical check, node or service maintenance (maintenance is a
 * critical check). This applies the same rule to the full list, so the command can show what is
 * left out and why. Sorted by id, as the client sorts its instances.
 */
export function instanceVerdicts(entries: readonly ServiceEntry[]): InstanceVerdict[] {
  const instances = instancesFromEntries(entries);
  const byId = new Map(entries.map((entry) => [entry.Service.ID, entry]));
  return instances.map((instance) => {
    const entry = byId.get(instance.id);
    const checks = entry?.Checks ?? [];
    let worst: InstanceHealth = 'passing';
    let blamed: HealthCheck | undefined;
    for (const check of checks) {
      const health = healthOf(check);
      if (RANK[health] > RANK[worst]) {
        worst = health;
        blamed = check;
      }
    }
    return {
      id: instance.id,
      address: hostPort(instance),
      node: entry?.Node.Node ?? '',
      health: worst,
      client: worst === 'passing' ? 'call' : 'skip',
      reason: reasonFor(worst, blamed),
      checks: checks.map((c) => ({ id: c.CheckID, name: c.Name, status: c.Status, output: oneLine(c.Notes || c.Output) })),
      tags: instance.tags,
      meta: instance.meta,
    };
  });
}

export type VerdictChange =
  | { kind: 'added'; now: InstanceVerdict }
  | { kind: 'changed'; before: InstanceVerdict; now: InstanceVerdict }
  | { kind: 'removed'; before: InstanceVerdict };

/** A change worth a line: where it is, how healthy, and what a client does with it. */
function signature(verdict: InstanceVerdict): string {
  return `${verdict.address} ${verdict.health} ${verdict.client} ${verdict.reason}`;
}

/** The changes from one list of verdicts to the next, one per instance that appeared, changed or left, by id. */
export function verdictChanges(before: readonly InstanceVerdict[], after: readonly InstanceVerdict[]): VerdictChange[] {
  const old = new Map(before.map((v) => [v.id, v]));
  const changes: VerdictChange[] = [];
  for (const now of after) {
    const was = old.get(now.id);
    old.delete(now.id);
    if (was === undefined) changes.push({ kind: 'added', now });
    else if (signature(was) !== signature(now)) changes.push({ kind: 'changed', before: was, now });
  }
  for (const was of old.values()) changes.push({ kind: 'removed', before: was });
  return changes;
}

function verdictText(v: InstanceVerdict): string {
  return `${v.health}, ${v.client === 'call' ? 'a client calls it' : `a client skips it (${v.reason})`}`;
}

/** One line per change, for `farol instances --watch`. */
export function formatChange(change: VerdictChange): string {
  switch (change.kind) {
    case 'added':
      return `+ ${change.now.id} at ${change.now.address}: ${verdictText(change.now)}`;
    case 'removed':
      return `- ${change.before.id} at ${change.before.address}: deregistered`;
    case 'changed':
      return `~ ${change.now.id} at ${change.now.address}: ${change.before.health} -> ${verdictText(change.now)}`;
  }
}

/** The table `farol instances` prints: a header line, then one row per instance. */
export function formatVerdictTable(service: string, verdicts: readonly InstanceVerdict[]): string {
  const called = verdicts.filter((v) => v.client === 'call').length;
  const head = `service ${service}: ${verdicts.length} instance${verdicts.length === 1 ? '' : 's'}, ${called} called by a client, ${verdicts.length - called} skipped\n`;
  if (verdicts.length === 0) return head;
  const rows = [['INSTANCE', 'ADDRESS', 'NODE', 'HEALTH', 'CLIENT', 'WHY'], ...verdicts.map((v) => [v.id, v.address, v.node, v.health, v.client, v.reason])];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return head + rows.map((row) => row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ').trimEnd()).join('\n') + '\n';
}
