/**
 * npm run bench — calling a fleet of three instances over verified TLS with basic auth, four
 * ways, in one run on loopback, with the same handler output, payload and concurrency:
 *
 *  1. baseline: an undici keep-alive Pool to one plain node:https server answering the same
 *     small JSON as the Farol route (no framework, auth or log: the ceiling for Node here);
 *  2. Farol: createClient (discovery from a real Consul dev agent, default balancer, basic auth,
 *     TLS verified against the Farol CA) to three createService instances;
 *  3. the original project's approach: for every request a Consul health query on a connection
 *     of its own, then a new TLS connection to one passing instance, closed after the request;
 *  4. HAProxy (Debian's package): TLS terminated with a certificate from the Farol CA, balancing
 *     round-robin over the same three instances over TLS (`verify required ca-file`), keep-alive
 *     on both sides, an undici keep-alive Pool in front. Installed with apt-get when missing and
 *     running as root; otherwise the row is skipped, saying what to install.
 *
 *  7. the fair ceiling: an undici BalancedPool to three plain node:https servers (row 1's server,
 *     three times): the same number of processes as row 2 without Consul, so Farol's throughput
 *     and CPU per request are compared with what three Node processes can do on this machine
 *     rather than with row 1's two (goals: ≥ 0.9× the throughput, ≤ 1.2× the CPU per request).
 *
 *  8. fetch through Farol's dispatcher to one instance against fetch with a plain undici Agent to
 *     the same plain node:https server (goal ≥ 0.9×): what the dispatcher's stages cost a fetch.
 *     It runs after the other rows, in this process (bench/fetch-dispatcher.ts, also runnable alone).
 *
 * Two more rows, informative only (not in the issue's goals), split row 2's cost in two:
 *
 *  5. an undici keep-alive Pool straight to one Farol instance (basic auth, no discovery): what a
 *     Farol instance costs compared with the bare node:https server of row 1;
 *  6. Farol's createClient to a service with that one instance: what the client adds on top.
 *
 * Rows 1 and 5 compare two processes each; rows 2 and 4 run five (a client, three instances, and
 * Consul or HAProxy) on the same CPUs, so on a small machine they also compete for cores.
 *
 * Every server and the load generator of each row run in child processes (bench/fixtures/), so
 * the CPU time of each side is its own: the client's from process.cpuUsage() in the load
 * process, the servers' (instances, Consul, HAProxy) from /proc/<pid>/stat over the measured
 * window. Each row warms up first, then runs N requests or S seconds, whichever comes first, in
 * R slices (--rounds, default 4): round after round, every row runs one slice, after a short
 * warm-up of its own (idle keep-alive connections close after a few seconds). A machine whose
 * speed drifts during the run (a shared VM, other work) then weighs on every row alike; the
 * cores that other processes used during each row's slices are printed below the table.
 *
 *   npm run bench -- --requests 20000 --concurrency 64 --seconds 20
 *   npm run bench -- --rows 2,7            (row 1, the baseline, always runs)
 *   npm run bench -- --profile /tmp/prof   (CPU profiles of every process, and the allocations of
 *                                           each load generator's first measured slice, garbage
 *                                           included; summed up by npm run bench:profile -- /tmp/prof)
 *   npm run bench -- --connections 8       (createClient's connectionsPerInstance in the Farol rows)
 *   npm run bench -- --rounds 1            (each row in one go, as before interleaving)
 *   FAROL_BENCH_REQUESTS=2000 FAROL_BENCH_CONCURRENCY=32 FAROL_BENCH_SECONDS=10 npm run bench
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { addUser, createCertificateAuthority, issueCertificate, serverSubjectAltNames } from '../src/index.js';
import { findConsulBinary, startConsulAgent, type ConsulAgent } from '../test/support/consul-agent.js';
import { ensureConsulBinary } from '../scripts/ensure-consul.js';
import type { LoadConfig } from './fixtures/load.js';
import { machineCpuUs, procCpuUs, procRssBytes } from './fixtures/proc.js';
import type { LoadResult } from './fixtures/protocol.js';
import { benchFetchDispatcher, formatFetchDispatcher } from './fetch-dispatcher.js';
import { exited, messagesOf, type Messages } from './fixtures/harness.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(REPO_ROOT, 'bench', 'fixtures');
const SERVICE = 'bench-fleet';
const SINGLE_SERVICE = 'bench-single';
const USERNAME = 'bench';
const INSTANCES = 3;

// ---------------------------------------------------------------------------------------------
// settings

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`bench: ${name} must be a whole number ≥ 1, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    seconds: { type: 'string' },
    rows: { type: 'string' },
    profile: { type: 'string' },
    connections: { type: 'string' },
    rounds: { type: 'string' },
  },
  strict: true,
});
const REQUESTS = positiveInteger('--requests / FAROL_BENCH_REQUESTS', flags.requests ?? process.env.FAROL_BENCH_REQUESTS, 20_000);
const CONCURRENCY = positiveInteger('--concurrency / FAROL_BENCH_CONCURRENCY', flags.concurrency ?? process.env.FAROL_BENCH_CONCURRENCY, 64);
const SECONDS = positiveInteger('--seconds / FAROL_BENCH_SECONDS', flags.seconds ?? process.env.FAROL_BENCH_SECONDS, 20);
// Long enough for V8 to optimise the hot paths of every process of a row: with 2,000 requests the
// client and the instances of row 2 still cost twice as much CPU per request in the first slice as
// in the third, while the HAProxy row, measured after rows 2 and 3, found the instances warm.
const WARMUP = { requests: Math.min(10_000, Math.max(200, Math.ceil(REQUESTS / 2))), seconds: Math.min(10, SECONDS / 2) };
const MEASURE = { requests: REQUESTS, seconds: SECONDS };
const ROUNDS = positiveInteger('--rounds / FAROL_BENCH_ROUNDS', flags.rounds ?? process.env.FAROL_BENCH_ROUNDS, 4);
/** Each row is measured in ROUNDS slices, interleaved with the other rows'. */
const SLICE = { requests: Math.ceil(REQUESTS / ROUNDS), seconds: SECONDS / ROUNDS };
const REWARM = { requests: Math.max(200, 4 * CONCURRENCY), seconds: 1 };
const ALL_ROWS = [1, 2, 3, 4, 5, 6, 7, 8];
const ROWS = parseRows(flags.rows ?? process.env.FAROL_BENCH_ROWS);
const PROFILE_DIR = flags.profile ?? process.env.FAROL_BENCH_PROFILE;
/** Farol rows: connections per instance (createClient's default when not given). */
const CONNECTIONS = flags.connections === undefined ? undefined : positiveInteger('--connections', flags.connections, 1);

function parseRows(text: string | undefined): Set<number> {
  if (text === undefined || text === '') return new Set(ALL_ROWS);
  const rows = text.split(',').map((part) => Number(part.trim()));
  if (rows.some((row) => !ALL_ROWS.includes(row))) {
    console.error(`bench: --rows / FAROL_BENCH_ROWS is a comma-separated list of ${ALL_ROWS.join(', ')}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return new Set([1, ...rows]);
}

// ---------------------------------------------------------------------------------------------
// child processes: started here, tracked, and always stopped

const children = new Set<ChildProcess>();

/** Kills what is still running, synchronously: the last resort on exit. */
function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.once('exit', killAll);

/** SIGTERM (or closing stdin), then SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.stdin?.end();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited(child);
    clearTimeout(timer);
  }
  children.delete(child);
}

interface NodeChild {
  child: ChildProcess;
  pid: number;
  messages: Messages;
}

/** Runs bench/fixtures/<script> with tsx and sends it its configuration on stdin. */
function startFixture(script: string, name: string, config: unknown): NodeChild {
  if (cleaning) throw new Error(`not starting ${name}: the bench is stopping`);
  // One folder per process: Node writes a profile per thread (tsx's loader runs in a thread of its own).
  const dir = PROFILE_DIR === undefined ? undefined : join(PROFILE_DIR, name.replace(/\W+/g, '-'));
  const profile = dir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', dir];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(FIXTURES, script)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stdin!.on('error', () => undefined); // a child that died early must not crash the bench
  child.stdin!.write(`${JSON.stringify(config)}\n`);
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return { child, pid: child.pid, messages: messagesOf(child, name) };
}


/** Our own child processes running `comm` (the Consul agent's pid is not exposed by its helper). */
function ownChildrenNamed(comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && name === comm) found.push(Number(entry));
    } catch {
      // the process went away while we looked
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// servers

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPassing(consulHttpAddr: string, service: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    const response = await request(`${consulHttpAddr}/v1/health/service/${service}?passing`);
    const entries = (await response.body.json()) as unknown[];
    seen = entries.length;
    if (seen >= count) return;
    await sleep(200);
  }
  throw new Error(`only ${seen} of ${count} instances of ${service} passing in Consul after ${timeoutMs / 1000} s`);
}


let caAgent: Agent | undefined;

/** Polls `url` (TLS verified against `ca`) until it answers 200. */
async function waitForHttps(url: string, ca: string, timeoutMs: number, server: ChildProcess): Promise<void> {
  caAgent ??= new Agent({ connect: { ca } });
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`the server behind ${url} exited (${server.exitCode ?? server.signalCode})`);
    try {
      const response = await request(url, { dispatcher: caAgent, signal: AbortSignal.timeout(2000) });
      await response.body.text();
      if (response.statusCode === 200) return;
      last = `HTTP ${response.statusCode}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s (${last})`);
}

function haproxyVersion(): string | undefined {
  const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.split('\n')[0]?.trim() : undefined;
}

/** HAProxy's version line, installing Debian's package first when it is missing and we are root; or why not. */
function ensureHaproxy(): { version: string } | { skip: string } {
  const present = haproxyVersion();
  if (present) return { version: present };
  const howTo = 'install it with `apt-get install -y haproxy` (as root) and run the bench again';
  if (process.getuid?.() !== 0) return { skip: `HAProxy is not installed: ${howTo}` };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  console.error('bench: HAProxy is missing; installing Debian\'s package (apt-get install -y haproxy)…');
  let install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'haproxy'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (install.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'haproxy'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  }
  const installed = haproxyVersion();
  return installed ? { version: installed } : { skip: `HAProxy could not be installed (apt-get exited ${install.status}): ${howTo}` };
}

function haproxyConfig(opts: { port: number; pemFile: string; caFile: string; instancePorts: number[] }): string {
  const servers = opts.instancePorts.map(
    (port, i) => `  server farol-${i + 1} 127.0.0.1:${port} ssl verify required ca-file ${opts.caFile} sni str(localhost) verifyhost localhost alpn http/1.1`,
  );
  return [
    'global',
    '  maxconn 4096',
    '  ssl-server-verify required',
    '  ssl-default-bind-options ssl-min-ver TLSv1.2',
    '  ssl-default-server-options ssl-min-ver TLSv1.2',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-keep-alive 30s',
    'frontend fleet',
    `  bind 127.0.0.1:${opts.port} ssl crt ${opts.pemFile} alpn http/1.1`,
    '  default_backend farol',
    'backend farol',
    '  balance roundrobin',
    '  http-reuse always',
    ...servers,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// one row

interface ServerProcess {
  name: string;
  pid: number;
}

interface Row {
  number: number;
  label: string;
  load: LoadResult;
  serverCpuUs: number;
  serverRssBytes: number;
  /** Per server process: CPU over the measured window and RSS at its end. */
  breakdown: { name: string; cpuUs: number; rssBytes: number }[];
  /** CPU the machine spent over the window outside this row's processes (other work competing for the cores), in cores. */
  otherCores: number;
}

/** What a row is: its load generator's configuration and the server processes whose CPU it is charged. */
interface RowSpec {
  number: number;
  label: string;
  config: LoadConfig;
  servers: () => ServerProcess[];
}

interface Slice {
  load: LoadResult;
  breakdown: { name: string; cpuUs: number; rssBytes: number }[];
  windowUs: number;
  otherUs: number;
}

interface RowRun {
  spec: RowSpec;
  load: NodeChild;
  slices: Slice[];
}

/** Starts a row's load generator and waits for the end of its warm-up. */
async function startRow(spec: RowSpec): Promise<RowRun> {
  console.error(`bench: row ${spec.number} (${spec.label}): warming up (${WARMUP.requests} requests or ${WARMUP.seconds} s)…`);
  const name = `load generator (${spec.label})`;
  const config = PROFILE_DIR === undefined ? spec.config : { ...spec.config, allocationProfile: join(PROFILE_DIR, name.replace(/\W+/g, '-'), 'measured-slice.heapprofile') };
  const load = startFixture('load.ts', name, config);
  await load.messages.next((WARMUP.seconds + 60) * 1000, 'the end of its warm-up');
  return { spec, load, slices: [] };
}

/** One measured slice of a row, after a short warm-up when it is not the row's first. */
async function measureSlice(run: RowRun): Promise<void> {
  const { spec, load } = run;
  if (run.slices.length > 0) {
    load.child.stdin!.write('warm\n');
    await load.messages.next((REWARM.seconds + 60) * 1000, 'the end of its warm-up');
  }
  const servers = spec.servers();
  const before = servers.map(({ pid }) => procCpuUs(pid));
  const machineBefore = machineCpuUs();
  const windowStart = performance.now();
  load.child.stdin!.write('go\n');
  const message = await load.messages.next((SLICE.seconds + 60) * 1000, 'its result');
  const breakdown = servers.map(({ name, pid }, i) => ({ name, cpuUs: procCpuUs(pid) - (before[i] ?? 0), rssBytes: procRssBytes(pid) }));
  const machineAfter = machineCpuUs();
  const result = message.result as LoadResult;
  const ownUs = result.cpuUs + breakdown.reduce((sum, server) => sum + server.cpuUs, 0);
  run.slices.push({
    load: result,
    breakdown,
    windowUs: (performance.now() - windowStart) * 1000,
    otherUs: Math.max(0, machineAfter.busy - machineBefore.busy - ownUs),
  });
  const slice = run.slices.at(-1)!;
  const serverUs = breakdown.reduce((sum, server) => sum + server.cpuUs, 0);
  console.error(
    `bench:   row ${spec.number}: ${Math.round((result.ok / result.elapsedMs) * 1000)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, ` +
      `client ${Math.round(result.cpuUs / Math.max(1, result.ok))} µs/req, servers ${Math.round(serverUs / Math.max(1, result.ok))} µs/req, ` +
      `other processes ${(slice.otherUs / slice.windowUs).toFixed(2)} cores`,
  );
  if (result.errors > 0) console.error(`bench: row ${spec.number}: ${result.errors} requests failed; the first: ${result.firstError}`);
}

async function stopRow(run: RowRun): Promise<void> {
  run.load.child.stdin!.end('end\n');
  // It exits by itself (and only then writes a CPU profile).
  await Promise.race([exited(run.load.child), sleep(5_000)]);
  await stopChild(run.load.child);
}

function percentileOf(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A row's slices added up: requests, time and CPU summed, percentiles over every latency. */
function summarise(run: RowRun): Row {
  const { slices } = run;
  const sum = (of: (slice: Slice) => number): number => slices.reduce((total, slice) => total + of(slice), 0);
  const latencies = Float64Array.from(slices.flatMap((slice) => slice.load.latenciesMs)).sort();
  const firstError = slices.find((slice) => slice.load.firstError !== undefined)?.load.firstError;
  const load: LoadResult = {
    ok: sum((slice) => slice.load.ok),
    errors: sum((slice) => slice.load.errors),
    ...(firstError === undefined ? {} : { firstError }),
    elapsedMs: sum((slice) => slice.load.elapsedMs),
    p50Ms: percentileOf(latencies, 50),
    p99Ms: percentileOf(latencies, 99),
    cpuUs: sum((slice) => slice.load.cpuUs),
    rssBytes: slices.at(-1)?.load.rssBytes ?? 0,
    connections: sum((slice) => slice.load.connections),
    latenciesMs: [],
  };
  const breakdown = (slices.at(-1)?.breakdown ?? []).map((server, i) => ({
    name: server.name,
    cpuUs: sum((slice) => slice.breakdown[i]?.cpuUs ?? 0),
    rssBytes: server.rssBytes,
  }));
  const windowUs = sum((slice) => slice.windowUs);
  return {
    number: run.spec.number,
    label: run.spec.label,
    load,
    serverCpuUs: breakdown.reduce((total, server) => total + server.cpuUs, 0),
    serverRssBytes: breakdown.reduce((total, server) => total + server.rssBytes, 0),
    breakdown,
    otherCores: windowUs > 0 ? sum((slice) => slice.otherUs) / windowUs : 0,
  };
}

// ---------------------------------------------------------------------------------------------
// the table

function throughput(row: Row): number {
  return (row.load.ok / row.load.elapsedMs) * 1000;
}

function cpuPerRequest(row: Row): { client: number; servers: number; total: number } {
  const n = Math.max(1, row.load.ok);
  return { client: row.load.cpuUs / n, servers: row.serverCpuUs / n, total: (row.load.cpuUs + row.serverCpuUs) / n };
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)}`;
const ms = (value: number): string => (Number.isNaN(value) ? 'n/a' : value.toFixed(2));
const ratio = (value: number, base: number): string => (base > 0 && Number.isFinite(value / base) ? `${(value / base).toFixed(2)}×` : 'n/a');

function printTable(rows: Row[], skipped: string[]): void {
  const base = rows[0]!;
  console.log('\n| # | approach | req/s | p50 ms | p99 ms | client CPU µs/req | servers CPU µs/req | client RSS MB | servers RSS MB | errors | req/s vs 1 | p99 vs 1 | CPU/req vs 1 |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  rows.forEach((row) => {
    const cpu = cpuPerRequest(row);
    console.log(
      `| ${row.number} | ${row.label} | ${Math.round(throughput(row))} | ${ms(row.load.p50Ms)} | ${ms(row.load.p99Ms)} | ${Math.round(cpu.client)} | ${Math.round(cpu.servers)} | ${mb(row.load.rssBytes)} | ${mb(row.serverRssBytes)} | ${row.load.errors} | ${ratio(throughput(row), throughput(base))} | ${ratio(row.load.p99Ms, base.load.p99Ms)} | ${ratio(cpu.total, cpuPerRequest(base).total)} |`,
    );
  });
  console.log('');
  rows.forEach((row) => {
    const n = Math.max(1, row.load.ok);
    const parts = row.breakdown.map((server) => `${server.name} ${Math.round(server.cpuUs / n)} µs/req, ${mb(server.rssBytes)} MB`);
    const cores = (((row.load.cpuUs + row.serverCpuUs) / row.load.elapsedMs) / 1000).toFixed(2);
    console.log(
      `- row ${row.number} servers: ${parts.join('; ')}; the client opened ${row.load.connections} connections; ` +
        `this row's processes used ${cores} cores, other processes ${row.otherCores.toFixed(2)}`,
    );
  });
  for (const reason of skipped) console.log(`- skipped: ${reason}`);
  console.log('- CPU/req is client + servers CPU time (user + system) over the measured window, divided by the successful requests.');

  const farol = rows.find((row) => row.label.startsWith('Farol'));
  const original = rows.find((row) => row.label.startsWith('original'));
  const haproxy = rows.find((row) => row.label.startsWith('HAProxy'));
  const ceiling = rows.find((row) => row.number === 7);
  if (!farol) return;
  console.log('\nGoals (reported, not asserted):');
  if (ceiling) {
    const throughputRatio = throughput(farol) / throughput(ceiling);
    const cpuRatio = cpuPerRequest(farol).total / cpuPerRequest(ceiling).total;
    const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
    console.log(`- Farol vs the fair ceiling (row 7, as many processes) throughput: ${ratio(throughput(farol), throughput(ceiling))} (goal ≥ 0.9×) → ${verdict(throughputRatio >= 0.9)}`);
    console.log(`- Farol vs the fair ceiling CPU per request: ${ratio(cpuPerRequest(farol).total, cpuPerRequest(ceiling).total)} (goal ≤ 1.2×) → ${verdict(cpuRatio <= 1.2)}`);
  }
  console.log(`- Farol vs baseline throughput: ${ratio(throughput(farol), throughput(base))} (goal ≥ 0.9×)`);
  if (original) console.log(`- Farol vs the original approach throughput: ${ratio(throughput(farol), throughput(original))} (goal ≥ 20×)`);
  if (haproxy) {
    console.log(
      `- Farol vs HAProxy: throughput ${ratio(throughput(farol), throughput(haproxy))} (goal > 1×), p99 ${ms(farol.load.p99Ms)} vs ${ms(haproxy.load.p99Ms)} ms (goal: lower)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// the run

let tempDir: string | undefined;
let consulAgent: ConsulAgent | undefined;
const instanceChildren: ChildProcess[] = [];
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    // Instances first: they deregister from Consul, which must still be up.
    await Promise.all(instanceChildren.map((child) => stopChild(child, 15_000)));
    await Promise.all([...children].map((child) => stopChild(child)));
    await consulAgent?.stop().catch((error: unknown) => console.error(`bench: stopping Consul: ${(error as Error).message}`));
    await caAgent?.close().catch(() => undefined);
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const found = ensureConsulBinary() ? findConsulBinary() : { missing: 'a Consul binary (Go 1.21+ builds it)' };
  if ('missing' in found) throw new Error(`npm run bench needs the real Consul agent: ${found.missing}`);
  const haproxy = ensureHaproxy();

  tempDir = await mkdtemp(join(tmpdir(), 'farol-bench-'));
  const file = (name: string): string => join(tempDir!, name);

  // Certificates with the project's own PKI: one CA, the instances' certificate, HAProxy's.
  const ca = await createCertificateAuthority({ commonName: 'Farol bench CA' });
  const server = await issueCertificate(ca, { commonName: SERVICE, usage: 'server', ...serverSubjectAltNames([SERVICE]) });
  const proxy = await issueCertificate(ca, { commonName: 'haproxy', usage: 'server', ...serverSubjectAltNames([]) });
  await writeFile(file('ca.pem'), ca.certPem);
  await writeFile(file('cert.pem'), server.certPem);
  await writeFile(file('key.pem'), server.keyPem, { mode: 0o600 });
  await writeFile(file('haproxy.pem'), `${proxy.certPem.trimEnd()}\n${proxy.keyPem.trimEnd()}\n`, { mode: 0o600 });
  await chmod(file('haproxy.pem'), 0o600);
  const caPem = ca.certPem;

  // One user, added with the project's users API; the password never leaves this process tree's pipes.
  const password = randomBytes(18).toString('base64url');
  await addUser(file('users.txt'), USERNAME, password);

  console.error('bench: starting the Consul dev agent…');
  consulAgent = await startConsulAgent({ caFile: file('ca.pem') });
  const consulProcesses = (): ServerProcess[] => ownChildrenNamed('consul').map((pid) => ({ name: 'Consul agent', pid }));

  console.error(`bench: starting the baseline server and ${INSTANCES} Farol instances…`);
  const baseline = startFixture('https-server.ts', 'baseline server', { certFile: file('cert.pem'), keyFile: file('key.pem') });
  // Row 7: three more of row 1's server, for the fair ceiling.
  const ceilingServers = ROWS.has(7)
    ? Array.from({ length: INSTANCES }, (_, i) => startFixture('https-server.ts', `ceiling server ${i + 1}`, { certFile: file('cert.pem'), keyFile: file('key.pem') }))
    : [];
  const instances = Array.from({ length: INSTANCES }, (_, i) => {
    const instance = startFixture('farol-instance.ts', `Farol instance ${i + 1}`, {
      name: SERVICE,
      certFile: file('cert.pem'),
      keyFile: file('key.pem'),
      usersFile: file('users.txt'),
      consulAddress: consulAgent!.address,
      logFile: file(`server-${i + 1}.log`),
    });
    instanceChildren.push(instance.child);
    return instance;
  });
  // Rows 5 and 6 call a service of its own with a single instance.
  const single =
    ROWS.has(5) || ROWS.has(6)
      ? startFixture('farol-instance.ts', 'single Farol instance', {
          name: SINGLE_SERVICE,
          certFile: file('cert.pem'),
          keyFile: file('key.pem'),
          usersFile: file('users.txt'),
          consulAddress: consulAgent.address,
          logFile: file('server-single.log'),
        })
      : undefined;
  if (single) instanceChildren.push(single.child);
  const baselinePort = Number((await baseline.messages.next(60_000, 'its port')).port);
  const ceilingPorts = await Promise.all(ceilingServers.map(async (server) => Number((await server.messages.next(60_000, 'its port')).port)));
  const singlePort = single ? Number((await single.messages.next(60_000, 'its port')).port) : undefined;
  const instancePorts = await Promise.all(instances.map(async (instance) => Number((await instance.messages.next(60_000, 'its port')).port)));
  await waitForPassing(consulAgent.httpAddr, SERVICE, INSTANCES, 60_000);
  if (single) await waitForPassing(consulAgent.httpAddr, SINGLE_SERVICE, 1, 60_000);

  const common = { concurrency: CONCURRENCY, warmup: WARMUP, rewarm: REWARM, slice: SLICE, caFile: file('ca.pem'), username: USERNAME, password };
  const instanceProcesses = (): ServerProcess[] => instances.map((instance, i) => ({ name: `instance ${i + 1}`, pid: instance.pid }));
  const rows: Row[] = [];
  const skipped: string[] = [];
  const farolConnections = CONNECTIONS === undefined ? {} : { connectionsPerInstance: CONNECTIONS };

  const specs: RowSpec[] = [
    {
      number: 1,
      label: 'baseline: undici Pool → node:https',
      config: { ...common, mode: 'pool', origin: `https://127.0.0.1:${baselinePort}` },
      servers: () => [{ name: 'node:https server', pid: baseline.pid }],
    },
  ];
  if (ROWS.has(2)) {
    specs.push({
      number: 2,
      label: 'Farol: createClient → 3 instances',
      config: { ...common, ...farolConnections, mode: 'farol', consulAddress: consulAgent.address, service: SERVICE, logFile: file('client.log') },
      servers: () => [...instanceProcesses(), ...consulProcesses()],
    });
  }
  if (ROWS.has(7)) {
    specs.push({
      number: 7,
      label: `ceiling: undici BalancedPool → ${INSTANCES} node:https`,
      config: { ...common, mode: 'balanced', origins: ceilingPorts.map((port) => `https://127.0.0.1:${port}`) },
      servers: () => ceilingServers.map((server, i) => ({ name: `node:https server ${i + 1}`, pid: server.pid })),
    });
  }
  if (ROWS.has(3)) {
    specs.push({
      number: 3,
      label: 'original: Consul query + new TLS connection per request',
      config: { ...common, mode: 'original', consulHttpAddr: consulAgent.httpAddr, service: SERVICE },
      servers: () => [...instanceProcesses(), ...consulProcesses()],
    });
  }

  if (!ROWS.has(4)) {
    // not asked for
  } else if ('skip' in haproxy) {
    skipped.push(`row 4 (HAProxy): ${haproxy.skip}`);
    console.error(`bench: skipping the HAProxy row: ${haproxy.skip}`);
  } else {
    const port = await freePort();
    await writeFile(file('haproxy.cfg'), haproxyConfig({ port, pemFile: file('haproxy.pem'), caFile: file('ca.pem'), instancePorts }));
    const check = spawnSync('haproxy', ['-c', '-q', '-f', file('haproxy.cfg')], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy rejected its configuration: ${check.stderr || check.stdout}`);
    const proxyProcess = spawn('haproxy', ['-db', '-f', file('haproxy.cfg')], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.add(proxyProcess);
    proxyProcess.once('exit', () => children.delete(proxyProcess));
    await waitForHttps(`https://127.0.0.1:${port}/health`, caPem, 20_000, proxyProcess);
    specs.push({
      number: 4,
      label: `HAProxy (${haproxy.version.replace(/^HAProxy version (\S+).*$/, '$1')}) → 3 instances`,
      config: { ...common, mode: 'pool', origin: `https://127.0.0.1:${port}` },
      servers: () => [{ name: 'HAProxy', pid: proxyProcess.pid! }, ...instanceProcesses()],
    });
  }

  if (single && singlePort !== undefined) {
    const singleProcesses = (): ServerProcess[] => [{ name: 'single instance', pid: single.pid }];
    if (ROWS.has(5)) {
      specs.push({
        number: 5,
        label: 'extra: undici Pool → 1 Farol instance',
        config: { ...common, mode: 'pool', origin: `https://127.0.0.1:${singlePort}` },
        servers: singleProcesses,
      });
    }
    if (ROWS.has(6)) {
      specs.push({
        number: 6,
        label: 'extra: createClient → 1 Farol instance',
        config: { ...common, ...farolConnections, mode: 'farol', consulAddress: consulAgent.address, service: SINGLE_SERVICE, logFile: file('client-single.log') },
        servers: () => [...singleProcesses(), ...consulProcesses()],
      });
    }
  }

  const runs: RowRun[] = [];
  try {
    for (const spec of specs) runs.push(await startRow(spec));
    for (let round = 1; round <= ROUNDS; round += 1) {
      console.error(`bench: round ${round} of ${ROUNDS}: rows ${runs.map((run) => run.spec.number).join(', ')} (${SLICE.requests} requests or ${SLICE.seconds} s each, ${CONCURRENCY} in flight)…`);
      for (const run of runs) await measureSlice(run);
    }
  } finally {
    await Promise.all(runs.map((run) => stopRow(run)));
  }
  rows.push(...runs.map(summarise));

  console.log(
    `\nnpm run bench: ${MEASURE.requests} requests or ${MEASURE.seconds} s per row (whichever first), ${CONCURRENCY} in flight, ` +
      `in ${ROUNDS} slices interleaved with the other rows' (each after a warm-up of ${REWARM.requests} requests or ${REWARM.seconds} s), ` +
      `first warm-up ${WARMUP.requests} requests or ${WARMUP.seconds} s; Node ${process.version}, ${cpus().length} CPUs, ` +
      `load average before the run ${loadBefore.map((value) => value.toFixed(2)).join(' ')}, after ${loadavg().map((value) => value.toFixed(2)).join(' ')}`,
  );
  const args = process.argv.slice(2);
  console.log(`Reproduce: npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`);
  printTable(rows, skipped);
  if (ROWS.has(8)) {
    console.log('\n8. fetch through the dispatcher (its own interleaved rounds, in this process):');
    console.log(formatFetchDispatcher(await benchFetchDispatcher({ seconds: MEASURE.seconds, concurrency: CONCURRENCY, rounds: ROUNDS })));
  }
}

const loadBefore = (await import('node:os')).loadavg();
try {
  await main();
} catch (error) {
  console.error(`bench: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
