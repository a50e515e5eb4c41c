import type { HealthCheck } from './types.js';

/** What the shared change detector keeps of one /v1/health/state/any answer. Pure data. */
export interface ChecksSnapshot {
  /** ModifyIndex by check (node + check id). */
  readonly checks: ReadonlyMap<string, { node: string; service: string; modifyIndex: number }>;
}

/** The snapshot of a /v1/health/state/any body (null or a list of checks). */
export function checksSnapshot(checks: readonly HealthCheck[] | null | undefined): ChecksSnapshot {
  const map = new Map<string, { node: string; service: string; modifyIndex: number }>();
  for (const check of checks ?? []) {
    map.set(`${check.Node}\u0000${check.CheckID}`, { node: check.Node, service: check.ServiceName, modifyIndex: check.ModifyIndex });
  }
  return { checks: map };
}

/**
 * The services whose passing set may have changed between two snapshots of every check: those
 * with a check added, removed or modified (ModifyIndex moved), and, for a node check (ServiceName
 * ""; e.g. serfHealth), every service with a check on that node in either snapshot, since a
 * failing node check fails every instance on the node.
 */
export function changedServices(before: ChecksSnapshot, after: ChecksSnapshot): Set<string> {
  const changed = new Set<string>();
  const nodes = new Set<string>();
  const note = (entry: { node: string; service: string }): void => {
    if (entry.service === '') nodes.add(entry.node);
    else changed.add(entry.service);
  };
  for (const [key, entry] of after.checks) {
    const previous = before.checks.get(key);
    if (previous === undefined || previous.modifyIndex !== entry.modifyIndex || previous.service !== entry.service) {
      note(entry);
      if (previous !== undefined) note(previous);
    }
  }
  for (const [key, entry] of before.checks) if (!after.checks.has(key)) note(entry);
  if (nodes.size > 0) {
    for (const snapshot of [before, after]) {
      for (const entry of snapshot.checks.values()) if (entry.service !== '' && nodes.has(entry.node)) changed.add(entry.service);
    }
  }
  return changed;
}
