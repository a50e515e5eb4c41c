/**
 * The `metrics` and `tracing` options of createService and createClient: which subscribers to
 * attach to one owner's events, and how to detach them on close.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { EventOwner } from './channels.js';
import { ownedBy, resolveRegistry, subscribeClientMetrics, subscribeServiceMetrics } from './metrics.js';
import { traceEventsOf } from './tracing.js';

/**
 * `true`: prom-client's default registry; a Registry: that one; `{ registry, instanceLabels }` on a
 * client: also label each try with the instance id (one series per instance: opt-in).
 */
export type MetricsOption = boolean | Registry | { registry?: Registry | true; instanceLabels?: boolean };

export interface ObserveOptions {
  metrics?: MetricsOption | undefined;
  /** OpenTelemetry spans through @opentelemetry/api; default true (free until an SDK is registered). */
  tracing?: boolean | undefined;
}

export interface Observation {
  /** The registry metrics go to, if any. */
  readonly registry: Registry | undefined;
  close(): void;
}

export function observeService(owners: { owner: EventOwner; others?: Array<EventOwner | undefined> }, options: ObserveOptions): Observation {
  return observe('service', owners, options);
}

export function observeClient(owners: { owner: EventOwner; others?: Array<EventOwner | undefined> }, options: ObserveOptions): Observation {
  return observe('client', owners, options);
}

function observe(kind: 'service' | 'client', owners: { owner: EventOwner; others?: Array<EventOwner | undefined> }, options: ObserveOptions): Observation {
  const offs: Array<() => void> = [];
  const option = options.metrics;
  const detailed = typeof option === 'object' && option !== null && !isRegistry(option) ? option : undefined;
  const registry = resolveRegistry(detailed ? (detailed.registry ?? true) : (option as boolean | Registry | undefined));
  if (registry) {
    const owns = ownedBy(owners.owner, ...(owners.others ?? []));
    const version = packageVersion();
    offs.push(
      kind === 'service'
        ? subscribeServiceMetrics({ registry, owns, version })
        : subscribeClientMetrics({ registry, owns, version, instanceLabels: detailed?.instanceLabels === true }),
    );
  }
  if (options.tracing !== false) offs.push(traceEventsOf(owners.owner, packageVersion()));
  let closed = false;
  return {
    registry,
    close() {
      if (closed) return;
      closed = true;
      for (const off of offs) off();
    },
  };
}

function isRegistry(value: object): value is Registry {
  return typeof (value as Partial<Registry>).metrics === 'function';
}

let cachedVersion: string | undefined;

/** Farol's version for farol_build_info and the tracer. Walks up because src/ and dist/src/ sit at different depths (events may not import service/version.ts). */
function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'farol' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // no package.json at this level
    }
    dir = dirname(dir);
  }
  return (cachedVersion = 'unknown');
}

/** Throws CONFIG_INVALID for a bad `metrics` option, before anything is opened. */
export function checkMetricsOption(option: MetricsOption | undefined): void {
  const detailed = typeof option === 'object' && option !== null && !isRegistry(option) ? option : undefined;
  resolveRegistry(detailed ? (detailed.registry ?? true) : (option as boolean | Registry | undefined));
}
