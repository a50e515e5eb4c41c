/**
 * npm run bench:discovery — a client watching 1, 100 and 500 services of a real Consul dev agent
 * with its default limits (http_max_conns_per_client 200), in a process of its own
 * (bench/fixtures/discovery-client.ts). Per row: connections from the client to the agent (from
 * /proc), 429 answers and failed queries, the time from a health change (a TTL check flipped) to
 * the client's update (p50 / max over --changes changes), the client's CPU per change, and its
 * resident memory. The last row watches the most services with one blocking query each (no bound):
 * the problem the bound solves.
 *
 * Flags: --sizes 1,100,500 --changes 20 --bound 64 --no-unbounded
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus } from 'node:os';
import { ConsulClient } from '../src/consul/index.js';
import { findConsulBinary, startConsulAgent } from '../test/support/consul-agent.js';
import { connectionsTo } from '../test/support/agent-connections.js';
import { ensureConsulBinary } from '../scripts/ensure-consul.js';
import { formatLoad, machineLoad, reproduceCommand, startFixture, stopAll, stopChild, type NodeChild } from './fixtures/harness.js';
import { procCpuUs, procRssBytes } from './fixtures/proc.js';

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}
const sizes = (flag('sizes') ?? '1,100,500').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const changes = Math.max(2, Number(flag('changes') ?? 20));
const bound = Math.max(2, Number(flag('bound') ?? 64));
const unbounded = !process.argv.includes('--no-unbounded');
const largest = Math.max(...sizes);
const names = Array.from({ length: largest }, (_, i) => `bench-${String(i).padStart(4, '0')}`);

interface Row {
  label: string;
  connections: number | undefined;
  status429: number;
  watchErrors: number;
  failedFirst: number;
  readyMs: number;
  p50: number;
  max: number;
  missed: number;
  /** Check flips the bench itself could not make (Consul refused this machine's connections). */
  adminRefused: number;
  cpuPerChangeMs: number;
  rssMb: number;
  errors: string[];
}

const quantile = (sorted: number[], q: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);

/**
 * Waits for the client's update of `service` with `passing` instances; undefined when it has not
 * come within 5 s. (The harness's own timeout would leave a waiter behind that swallows the next
 * message, so the client is pinged instead and its pong ends the wait.)
 */
async function updateOf(client: NodeChild, service: string, passing: number): Promise<number | undefined> {
  const ping = setTimeout(() => client.tell('ping'), 5000);
  try {
    for (;;) {
      const message = await client.messages.next(60_000, `the update of ${service}`);
      if (message.pong === true) return undefined;
      if (message.change === service && message.passing === passing) return message.at as number;
    }
  } finally {
    clearTimeout(ping);
  }
}

async function measure(label: string, agentAddress: string, port: number, admin: ConsulClient, size: number, maxConnections: number): Promise<Row> {
  const client = startFixture('discovery-client.ts', `client-${label}`, { consul: agentAddress, services: names.slice(0, size), maxConnections });
  try {
    let ready: Record<string, unknown>;
    do ready = await client.messages.next(120_000, 'every first answer');
    while (ready.ready !== true);
    await sleep(1000);
    // Updates printed since "ready" (none expected): skip them.
    client.tell('ping');
    for (;;) if ((await client.messages.next(10_000, 'its pong')).pong === true) break;
    const connections = connectionsTo(port, client.pid);
    const rssMb = procRssBytes(client.pid) / 2 ** 20;
    const latencies: number[] = [];
    let missed = 0;
    let adminRefused = 0;
    const cpuBefore = procCpuUs(client.pid);
    for (let i = 0; i < changes; i += 2) {
      const service = names[Math.floor(Math.random() * size)]!;
      for (const [status, passing] of [['critical', 1], ['passing', 2]] as const) {
        const at = performance.timeOrigin + performance.now();
        try {
          await admin.agent.updateTTL(`${service}-1-ttl`, status, 'bench');
        } catch (error) {
          // Consul counts connections per IP: past the limit, even this process's writes get 429s.
          adminRefused += 1;
          if (adminRefused === 1) console.error(`${label}: flipping a check failed: ${(error as Error).message}`);
          continue;
        }
        const seen = await updateOf(client, service, passing);
        if (seen === undefined) missed += 1;
        else latencies.push(seen - at);
      }
    }
    const cpuPerChangeMs = latencies.length === 0 ? NaN : (procCpuUs(client.pid) - cpuBefore) / 1000 / (latencies.length + missed);
    client.tell('stats');
    let stats: { status429: number; watchErrors: number; errors: string[] } | undefined;
    while (stats === undefined) {
      const message = await client.messages.next(10_000, 'its stats');
      if ('stats' in message) stats = message.stats as typeof stats;
    }
    latencies.sort((a, b) => a - b);
    return {
      label, connections, rssMb, cpuPerChangeMs, missed, adminRefused,
      status429: stats!.status429, watchErrors: stats!.watchErrors, errors: stats!.errors,
      failedFirst: ready.failed as number, readyMs: ready.ms as number,
      p50: quantile(latencies, 0.5), max: latencies.at(-1) ?? NaN,
    };
  } finally {
    await stopChild(client.child);
  }
}

const found = ensureConsulBinary() ? findConsulBinary() : { missing: 'a Consul binary (Go 1.21+ builds it)' };
if ('missing' in found) {
  console.error(`bench:discovery needs a real Consul agent: ${found.missing}`);
  process.exit(1);
}
const loadBefore = machineLoad();
// Consul's defaults: no `limits` override, so http_max_conns_per_client is 200.
const agent = await startConsulAgent();
const port = Number(agent.address.split(':').at(-1));
const admin = new ConsulClient({ address: agent.address });
const rows: Row[] = [];
try {
  let next = 0;
  const registrations = names.flatMap((name) => [1, 2].map((n) => ({ name, n })));
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < registrations.length) {
      const { name, n } = registrations[next++]!;
      await admin.agent.registerService({ ID: `${name}-${n}`, Name: name, Address: '127.0.0.1', Port: 10_000 + n, Check: { CheckID: `${name}-${n}-ttl`, TTL: '30m', Status: 'passing' } });
    }
  }));
  for (const size of sizes) rows.push(await measure(`${size} service(s), bound ${bound}`, agent.address, port, admin, size, bound));
  if (unbounded && largest > 1) rows.push(await measure(`${largest} services, one query each (no bound)`, agent.address, port, admin, largest, 1_000_000));
} finally {
  await admin.close();
  await stopAll();
  await agent.stop();
}

const ms = (value: number): string => (Number.isNaN(value) ? 'n/a' : `${Math.round(value)} ms`);
console.log('\n| client watching | connections to the agent | 429s / failed queries / failed first answers | first answers | change → update p50 / max | missed (> 5 s) / changes refused | client CPU per change | client RSS |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.label} | ${r.connections ?? 'n/a'} | ${r.status429} / ${r.watchErrors} / ${r.failedFirst} | ${r.readyMs} ms | ${ms(r.p50)} / ${ms(r.max)} | ${r.missed} / ${r.adminRefused} | ${Number.isNaN(r.cpuPerChangeMs) ? 'n/a' : `${r.cpuPerChangeMs.toFixed(2)} ms`} | ${r.rssMb.toFixed(0)} MB |`);
}
for (const r of rows) if (r.errors.length > 0) console.log(`\n${r.label}: e.g. ${r.errors.join(' | ')}`);
console.log(
  `\nConsul 1.15.4 dev agent, default limits (http_max_conns_per_client 200); ${changes} changes per row (TTL checks flipped critical/passing on random watched services).` +
    `\n${reproduceCommand('bench:discovery')}: Node ${process.version}, ${cpus().length} CPUs, load average before ${formatLoad(loadBefore)}, after ${formatLoad(machineLoad())}`,
);
