/**
 * npm run bench:memory — how much memory a Farol instance holds, idle and under load, against
 * the same small HTTPS service written without Farol, and what the module graph costs at start.
 *
 * Rows (bench/fixtures/memory-server.ts, one process each, measured one after the other):
 *   1. a plain node:https server (no framework);
 *   2. a bare fastify server over HTTPS with the same routes (GET / and GET /health);
 *   3. a Farol instance (createService: basic auth, a log file) with consul: false;
 *   4. the same, registered in a real Consul dev agent with an HTTPS check (what a deployment runs).
 * Each server is left idle for --settle s, then measured (VmRSS from /proc, and the V8 heap from
 * inside); then an undici Pool (bench/fixtures/load.ts, --concurrency requests in flight, basic
 * auth, TLS verified) calls GET / for --seconds s while VmRSS is sampled, and it is measured again
 * with the load's connections still open. Every process runs through tsx, as the other benches'
 * do, so each row carries tsx's loader alike; the module table below says what that is.
 *
 * The module table: for each top-level dependency, the RSS and heap a fresh `node` process gains
 * by importing it (after a GC), and the same for Farol's own entry point (src/index.ts, through
 * tsx, against tsx alone).
 *
 *   npm run bench:memory
 *   npm run bench:memory -- --seconds 5 --concurrency 16 --settle 2 --rows 2,3
 *   npm run bench:memory -- --no-modules
 *   npm run build && npm run bench:memory -- --dist   (Farol from its build, as a package runs)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { addUser, createCertificateAuthority, issueCertificate, serverSubjectAltNames } from '../src/index.js';
import { findConsulBinary, startConsulAgent, type ConsulAgent } from '../test/support/consul-agent.js';
import { ensureConsulBinary } from '../scripts/ensure-consul.js';
import { REPO_ROOT, formatLoad, machineLoad, reproduceCommand, startFixture, stopAll, stopChild, waitForPassing } from './fixtures/harness.js';
import type { LoadConfig } from './fixtures/load.js';
import { procCpuUs } from './fixtures/proc.js';

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench:memory: --${name} must be a number > 0, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    settle: { type: 'string' },
    rows: { type: 'string' },
    'no-modules': { type: 'boolean' },
    dist: { type: 'boolean' },
  },
  strict: true,
});
const SECONDS = positive('seconds', flags.seconds, 15);
const CONCURRENCY = Math.round(positive('concurrency', flags.concurrency, 32));
const SETTLE_SECONDS = positive('settle', flags.settle, 5);
const MODULES = flags['no-modules'] !== true;
/** Farol's rows from the build in dist/: its own modules are then not compiled by tsx at start. */
const DIST = flags.dist === true;
if (DIST && !existsSync(join(REPO_ROOT, 'dist', 'src', 'index.js'))) {
  console.error('bench:memory: --dist needs a build: run `npm run build` first');
  process.exit(2);
}

interface RowSpec {
  number: number;
  label: string;
  kind: 'https' | 'fastify' | 'farol';
  consul: boolean;
}

const ALL_ROWS: RowSpec[] = [
  { number: 1, label: 'plain node:https', kind: 'https', consul: false },
  { number: 2, label: 'bare fastify (HTTPS)', kind: 'fastify', consul: false },
  { number: 3, label: 'Farol instance, consul: false', kind: 'farol', consul: false },
  { number: 4, label: 'Farol instance, registered in Consul', kind: 'farol', consul: true },
];
const ROWS = (() => {
  if (flags.rows === undefined) return ALL_ROWS;
  const wanted = flags.rows.split(',').map((part) => Number(part.trim()));
  if (wanted.some((n) => !ALL_ROWS.some((row) => row.number === n))) {
    console.error(`bench:memory: --rows is a comma-separated list of 1, 2, 3, 4, got ${JSON.stringify(flags.rows)}`);
    process.exit(2);
  }
  return ALL_ROWS.filter((row) => wanted.includes(row.number));
})();

interface Memory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

interface Measured {
  row: RowSpec;
  idle: Memory;
  loaded: Memory;
  /** Highest VmRSS sampled during the load. */
  peakRss: number;
  /** The kernel's high-water mark of the process's RSS (VmHWM), start-up included. */
  hwm: number;
  requests: number;
  serverCpuUsPerRequest: number;
}

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

async function measureRow(row: RowSpec, files: { cert: string; key: string; users: string; ca: string; log: string }, password: string, consul: ConsulAgent | undefined): Promise<Measured> {
  const server = startFixture('memory-server.ts', `server (${row.label})`, {
    kind: row.kind,
    certFile: files.cert,
    keyFile: files.key,
    usersFile: files.users,
    logFile: files.log,
    dist: DIST,
    ...(row.consul && consul ? { consulAddress: consul.address } : {}),
  });
  try {
    const port = Number((await server.messages.next(60_000, 'its port')).port);
    if (row.consul && consul) await waitForPassing(consul.httpAddr, 'bench-memory', 1, 60_000);
    await sleep(SETTLE_SECONDS * 1000);
    const memory = async (): Promise<Memory> => {
      server.tell('mem');
      const answer = (await server.messages.next(10_000, 'its memory')).memory as Memory;
      return { ...answer, rss: status(server.pid, 'VmRSS') };
    };
    const idle = await memory();

    const config: LoadConfig = {
      mode: 'pool',
      origin: `https://127.0.0.1:${port}`,
      concurrency: CONCURRENCY,
      // The warm-up is the load: unrecorded, bounded in time and count.
      warmup: { requests: 10_000_000, seconds: SECONDS },
      rewarm: { requests: 1, seconds: 1 },
      slice: { requests: 1, seconds: 1 },
      caFile: files.ca,
      username: 'bench',
      password,
    };
    const cpuBefore = procCpuUs(server.pid);
    const load = startFixture('load.ts', `load generator (${row.label})`, config);
    let peakRss = 0;
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        peakRss = Math.max(peakRss, status(server.pid, 'VmRSS'));
        await sleep(200);
      }
    })();
    const ready = await load.messages.next((SECONDS + 60) * 1000, 'the end of its load').finally(() => {
      loading = false;
    });
    await sampler;
    const serverCpuUs = procCpuUs(server.pid) - cpuBefore;
    const loaded = await memory();
    const requests = (ready.warmup as { ok: number }).ok;
    load.tell('end');
    await stopChild(load.child);
    return { row, idle, loaded, peakRss: Math.max(peakRss, loaded.rss), hwm: status(server.pid, 'VmHWM'), requests, serverCpuUsPerRequest: serverCpuUs / Math.max(1, requests) };
  } finally {
    await stopChild(server.child, 15_000);
  }
}

interface ModuleCost {
  name: string;
  /** The process's RSS before the import (after a GC). */
  baseRss: number;
  rss: number;
  heapUsed: number;
  ms: number;
}

/**
 * What importing `specifier` adds to a fresh process (after a GC on both sides), through tsx or
 * not; `prelude` is imported first, outside the measure (a peer the module needs loaded first).
 */
function importCost(name: string, specifier: string, tsx: boolean, prelude?: string): ModuleCost | string {
  const script = [
    'const gc = globalThis.gc;',
    ...(prelude === undefined ? [] : [`await import(${JSON.stringify(prelude)});`]),
    'gc(); const before = process.memoryUsage(); const t0 = performance.now();',
    `await import(${JSON.stringify(specifier)});`,
    'const ms = performance.now() - t0; gc(); const after = process.memoryUsage();',
    'console.log(JSON.stringify({ baseRss: before.rss, rss: after.rss - before.rss, heapUsed: after.heapUsed - before.heapUsed, ms }));',
  ].join('\n');
  const args = ['--expose-gc', ...(tsx ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script];
  const run = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) return `${name}: ${(run.stderr || run.stdout).split('\n')[0]}`;
  const measured = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Omit<ModuleCost, 'name'>;
  return { name, ...measured };
}

function moduleTable(): void {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const costs: (ModuleCost | string)[] = [];
  const nothing = importCost('node alone', 'node:os', false);
  const tsx = importCost('tsx', 'node:os', true);
  if (typeof nothing !== 'string' && typeof tsx !== 'string') {
    costs.push({ name: 'tsx itself (the loader every bench process runs under): --import tsx against plain node', baseRss: tsx.baseRss, rss: tsx.baseRss - nothing.baseRss, heapUsed: Number.NaN, ms: Number.NaN });
  }
  for (const dependency of Object.keys(pkg.dependencies)) {
    // @peculiar/x509 needs reflect-metadata loaded first (its row counts it separately).
    costs.push(importCost(dependency, dependency, false, dependency === '@peculiar/x509' ? 'reflect-metadata' : undefined));
  }
  costs.push(importCost("Farol's src/index.ts, through tsx", join(REPO_ROOT, 'src', 'index.ts'), true));
  console.log('\n### What a fresh process gains by importing each dependency (after a GC)\n');
  console.log('| module | RSS MB | heap used MB | import ms |');
  console.log('|---|---:|---:|---:|');
  for (const cost of costs) {
    if (typeof cost === 'string') console.log(`| ${cost} | n/a | n/a | n/a |`);
    else console.log(`| ${cost.name} | ${mb(cost.rss)} | ${Number.isNaN(cost.heapUsed) ? 'n/a' : mb(cost.heapUsed)} | ${Number.isNaN(cost.ms) ? 'n/a' : cost.ms.toFixed(0)} |`);
  }
  if (typeof nothing !== 'string') console.log(`- a fresh node process holds ${mb(nothing.baseRss)} MB before importing anything.`);
  console.log("- each row is its own process, so modules shared by several dependencies count in each row that loads them; Farol's row is through tsx (its import time is mostly tsx transforming the TypeScript, which a built package does not do).");
}

let consulAgent: ConsulAgent | undefined;
let tempDir: string | undefined;
const running: ChildProcess[] = [];

async function main(): Promise<void> {
  const loadBefore = machineLoad();
  tempDir = await mkdtemp(join(tmpdir(), 'farol-bench-memory-'));
  const file = (name: string): string => join(tempDir!, name);
  const ca = await createCertificateAuthority({ commonName: 'Farol bench:memory CA' });
  const certificate = await issueCertificate(ca, { commonName: 'bench-memory', usage: 'server', ...serverSubjectAltNames(['bench-memory']) });
  await writeFile(file('ca.pem'), ca.certPem);
  await writeFile(file('cert.pem'), certificate.certPem);
  await writeFile(file('key.pem'), certificate.keyPem, { mode: 0o600 });
  const password = randomBytes(18).toString('base64url');
  await addUser(file('users.txt'), 'bench', password);
  if (ROWS.some((row) => row.consul)) {
    const found = ensureConsulBinary() ? findConsulBinary() : { missing: 'a Consul binary (Go 1.21+ builds it)' };
    if ('missing' in found) throw new Error(`row 4 of npm run bench:memory needs the real Consul agent: ${found.missing} (or pass --rows 1,2,3)`);
    console.error('bench:memory: starting the Consul dev agent…');
    consulAgent = await startConsulAgent({ caFile: file('ca.pem') });
  }
  const measured: Measured[] = [];
  for (const row of ROWS) {
    console.error(`bench:memory: row ${row.number} (${row.label}): ${SETTLE_SECONDS} s idle, then ${SECONDS} s of load…`);
    measured.push(await measureRow(row, { cert: file('cert.pem'), key: file('key.pem'), users: file('users.txt'), ca: file('ca.pem'), log: file(`server-${row.number}.log`) }, password, consulAgent));
  }
  const loadAfter = machineLoad();

  console.log(
    `\nnpm run bench:memory: each server idle ${SETTLE_SECONDS} s, then ${SECONDS} s of load with ${CONCURRENCY} requests in flight; ` +
      `Farol from ${DIST ? 'dist/ (its build)' : 'src/ through tsx'}; Node ${process.version}, ${cpus().length} CPUs; load average before ${formatLoad(loadBefore)}, after ${formatLoad(loadAfter)}`,
  );
  console.log(`Reproduce: ${reproduceCommand('bench:memory')}\n`);
  console.log('| # | server | idle RSS MB | idle heap used / total MB | loaded RSS MB | peak RSS under load MB | loaded heap used / total MB | external MB | VmHWM MB | requests | server CPU µs/req | idle RSS vs fastify | loaded RSS vs fastify |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const fastify = measured.find((m) => m.row.kind === 'fastify');
  const ratio = (value: number, base: number | undefined): string => (base ? `${(value / base).toFixed(2)}×` : 'n/a');
  for (const m of measured) {
    console.log(
      `| ${m.row.number} | ${m.row.label} | ${mb(m.idle.rss)} | ${mb(m.idle.heapUsed)} / ${mb(m.idle.heapTotal)} | ${mb(m.loaded.rss)} | ${mb(m.peakRss)} | ` +
        `${mb(m.loaded.heapUsed)} / ${mb(m.loaded.heapTotal)} | ${mb(m.loaded.external)} | ${mb(m.hwm)} | ${m.requests} | ${Math.round(m.serverCpuUsPerRequest)} | ` +
        `${ratio(m.idle.rss, fastify?.idle.rss)} | ${ratio(m.peakRss, fastify?.peakRss)} |`,
    );
  }
  const farol = measured.find((m) => m.row.number === 4) ?? measured.find((m) => m.row.number === 3);
  if (farol && fastify) {
    const verdict = (value: number): string => (value <= 1.3 ? 'PASS' : 'MISS');
    console.log('\nGoals (reported, not asserted):');
    console.log(`- Farol instance (row ${farol.row.number}) idle RSS vs bare fastify: ${ratio(farol.idle.rss, fastify.idle.rss)} (goal ≤ 1.3×) → ${verdict(farol.idle.rss / fastify.idle.rss)}`);
    console.log(`- Farol instance (row ${farol.row.number}) peak RSS under load vs bare fastify: ${ratio(farol.peakRss, fastify.peakRss)} (goal ≤ 1.3×) → ${verdict(farol.peakRss / fastify.peakRss)}`);
  }
  if (MODULES) moduleTable();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench:memory: ${signal}: cleaning up`);
    void stopAll(running)
      .then(() => consulAgent?.stop())
      .finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  console.error(`bench:memory: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await stopAll(running);
  await consulAgent?.stop().catch((error: unknown) => console.error(`bench:memory: stopping Consul: ${(error as Error).message}`));
  if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
}
