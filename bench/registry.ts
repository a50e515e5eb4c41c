/**
 * npm run bench:registry — the same workload against the embedded registry and a real Consul
 * dev agent, in one run, on loopback. Prints both and the ratio (embedded vs Consul; > 1 means
 * the embedded registry is better on that row).
 *
 * Workload, per target:
 *  1. registrations per second: N service instances registered with 32 requests in flight;
 *  2. GET /v1/health/service/<one service>?passing p50/p99 with 1,000 and then 10,000 instances
 *     registered in all (spread over 100 services, so the queried service has 10 / 100 entries);
 *  3. a health change (TTL check update) to the wake-up of 1,000 concurrent blocking queries, sent
 *     from four child processes, so that the figure measures the registries, not the load generator.
 *
 * Both registries run in processes of their own (the Consul agent, and bench/fixtures/registry-server.ts).
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { startConsulAgent, findConsulBinary } from '../test/support/consul-agent.js';
import { startFixture, stopChild, type NodeChild } from './fixtures/harness.js';
import { ensureConsulBinary } from '../scripts/ensure-consul.js';

interface Target {
  name: string;
  httpAddr: string;
  stop(): Promise<void>;
}

interface Row {
  label: string;
  unit: string;
  higherIsBetter: boolean;
  values: Record<string, number>;
}

const SERVICES = 100;
const QUERIES = 200;
const WATCHERS = 1000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function put(pool: Pool, path: string, body: unknown): Promise<void> {
  const response = await pool.request({ method: 'PUT', path, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`PUT ${path}: ${response.statusCode} ${text}`);
}

async function registerRange(pool: Pool, from: number, to: number): Promise<number> {
  const started = performance.now();
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await put(pool, '/v1/agent/service/register', {
        ID: `bench-${i}`,
        Name: `svc-${i % SERVICES}`,
        Address: '127.0.0.1',
        Port: 10_000 + (i % 50_000),
        Tags: ['bench'],
        Check: { CheckID: `check-${i}`, TTL: '10m', Status: 'passing' },
      });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return ((to - from) / (performance.now() - started)) * 1000;
}

async function queryLatencies(pool: Pool): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < QUERIES; i += 1) {
    const started = performance.now();
    const response = await pool.request({ method: 'GET', path: '/v1/health/service/svc-7?passing' });
    await response.body.arrayBuffer();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

/** Processes the blocking queries are spread over, so that no one process parses all the answers. */
const WATCHER_PROCESSES = 4;

/**
 * From a health change to the last of WATCHERS blocking queries answering. The queries come from
 * WATCHER_PROCESSES child processes and the change from this one, timed on the clock they share,
 * so the figure is the registry's (and the loopback's), not one load generator's event loop
 * working through a thousand answers.
 */
async function wakeUpTime(httpAddr: string): Promise<number> {
  const control = new Pool(httpAddr, { connections: 4 });
  const watchers: NodeChild[] = [];
  try {
    const first = await control.request({ method: 'GET', path: '/v1/health/service/svc-3' });
    await first.body.arrayBuffer();
    const index = String(first.headers['x-consul-index']);
    const share = Math.ceil(WATCHERS / WATCHER_PROCESSES);
    for (let i = 0; i < WATCHER_PROCESSES; i += 1) {
      watchers.push(startFixture('blocking-watchers.ts', `watchers-${i + 1}`, { httpAddr, path: '/v1/health/service/svc-3', index, count: share }));
    }
    for (const watcher of watchers) await watcher.messages.next(30_000, 'its queries sent');
    await sleep(2000); // let every query reach the server and block
    const changed = performance.timeOrigin + performance.now();
    await put(control, '/v1/agent/check/fail/check-3', {});
    const woken = await Promise.all(watchers.map((watcher) => watcher.messages.next(60_000, 'every query answered')));
    return Math.max(...woken.map((message) => Number(message.lastWakeMs))) - changed;
  } finally {
    await Promise.all(watchers.map((watcher) => stopChild(watcher.child)));
    await control.close();
  }
}

async function measure(target: Target, rows: Row[]): Promise<void> {
  const pool = new Pool(target.httpAddr, { connections: 32 });
  const set = (label: string, value: number): void => {
    const row = rows.find((r) => r.label === label);
    if (row) row.values[target.name] = value;
  };
  try {
    set('registrations/s (first 1,000)', await registerRange(pool, 0, 1_000));
    const small = await queryLatencies(pool);
    set('health?passing p50, 1,000 registered', small.p50);
    set('health?passing p99, 1,000 registered', small.p99);
    await registerRange(pool, 1_000, 10_000);
    const large = await queryLatencies(pool);
    set('health?passing p50, 10,000 registered', large.p50);
    set('health?passing p99, 10,000 registered', large.p99);
    set(`change → ${WATCHERS} blocking queries woken`, await wakeUpTime(target.httpAddr));
  } finally {
    await pool.close();
  }
}

function row(label: string, unit: string, higherIsBetter: boolean): Row {
  return { label, unit, higherIsBetter, values: {} };
}

const rows = [
  row('registrations/s (first 1,000)', '/s', true),
  row('health?passing p50, 1,000 registered', 'ms', false),
  row('health?passing p99, 1,000 registered', 'ms', false),
  row('health?passing p50, 10,000 registered', 'ms', false),
  row('health?passing p99, 10,000 registered', 'ms', false),
  row(`change → ${WATCHERS} blocking queries woken`, 'ms', false),
];

const loadBefore = loadavg();
const found = ensureConsulBinary() ? findConsulBinary() : { missing: 'a Consul binary (Go 1.21+ builds it)' };
if ('missing' in found) {
  console.error(`bench:registry needs the real Consul to compare against: ${found.missing}`);
  process.exit(1);
}

const consulAgent = await startConsulAgent({ extraConfig: { limits: { http_max_conns_per_client: WATCHERS * 2 } } });
await measure({ name: 'consul', httpAddr: consulAgent.httpAddr, stop: () => consulAgent.stop() }, rows);
await consulAgent.stop();

const registry = startFixture('registry-server.ts', 'embedded registry', {});
const { httpAddr } = (await registry.messages.next(30_000, 'its address')) as { httpAddr: string };
await measure({ name: 'embedded', httpAddr, stop: () => stopChild(registry.child) }, rows);
await stopChild(registry.child);

const format = (value: number | undefined, unit: string): string =>
  value === undefined || Number.isNaN(value) ? 'n/a' : unit === '/s' ? `${Math.round(value)}${unit}` : `${value.toFixed(2)} ${unit}`;
console.log(
  `\nnpm run bench:registry${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}: Node ${process.version}, ${cpus().length} CPUs, ` +
    `load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, after ${loadavg().map((v) => v.toFixed(2)).join(' ')}`,
);
console.log('\n| workload | Consul 1.15.4 dev agent | embedded registry | embedded vs Consul |');
console.log('|---|---|---|---|');
for (const r of rows) {
  const consul = r.values.consul;
  const embedded = r.values.embedded;
  const ratio = consul !== undefined && embedded !== undefined ? (r.higherIsBetter ? embedded / consul : consul / embedded) : NaN;
  console.log(`| ${r.label} | ${format(consul, r.unit)} | ${format(embedded, r.unit)} | ${Number.isNaN(ratio) ? 'n/a' : `${ratio.toFixed(2)}×`} |`);
}
console.log('\nratio > 1: the embedded registry is better (faster or more throughput) on that row.');
