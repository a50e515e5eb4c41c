/**
 * npm run bench:tail — what one sick instance does to the tail latency of its callers, modelled
 * on linkerd's "Beyond Round Robin" experiment and scaled to a small machine.
 *
 * Three Farol instances (createService, registered in a real Consul dev agent started here), the
 * same processes for every row. In each case one of them (another one each case) is made sick:
 *   a. latency: every answer +50 ms (--latency);
 *   b. stalls:  a 1 s stall every 5 s (--stall-for, --stall-every);
 *   c. failures: 30% of requests answered 503 (--fail-ratio).
 * Rows, each its own load-generator process (bench/fixtures/open-loop.ts), all verifying TLS
 * against the bench's CA and authenticating with basic auth, calling GET /work:
 *   1. Farol createClient, peak-EWMA (the default balancer);
 *   2. Farol createClient, least-request;
 *   3. Farol createClient, round-robin;
 *   4. HAProxy `balance roundrobin` (Debian's package) in front of the instances;
 *   5. HAProxy `balance leastconn`;
 *      both: TLS to the instances verified with the Farol CA, health checks on GET /health,
 *      `observe layer7` marking a server down after 3 consecutive errors, `retry-on 503` with two
 *      retries on another server (Farol's clients also retry a 5xx GET twice by default);
 *   6. undici BalancedPool straight to the instances (no retries: undici's own default).
 *
 * OPEN-LOOP load: every row sends --rate requests per second, each at its intended start time
 * whatever the earlier ones are doing, and latency is counted from that intended start, so a
 * stalled instance cannot hide by slowing the load generator down (no coordinated omission). A
 * request succeeds when it is answered 200 within --deadline ms (every request is aborted after
 * 5× the deadline). Each row gets a fresh load generator (a fresh client: nothing learnt in the
 * previous case carries over) and warms up for --warmup s at the same rate in the sick state.
 *
 * Prints one table per case (p50, p99, p99.9, success within the deadline, where the requests
 * went, CPU per request of the client and of the servers), the machine's load, the goals with
 * PASS/MISS and the command to reproduce it; writes docs/images/tail-<case>.svg (--charts).
 *
 *   npm run bench:tail                                   (the quiet-machine run: 200 req/s, 20 s a row)
 *   npm run bench:tail -- --rate 100 --seconds 5 --warmup 2 --cases a
 *   npm run bench:tail -- --rows 1,3,5 --charts /tmp/charts
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { addUser, createCertificateAuthority, issueCertificate, serverSubjectAltNames, type BalancerKind } from '../src/index.js';
import { findConsulBinary, startConsulAgent, type ConsulAgent } from '../test/support/consul-agent.js';
import { ensureConsulBinary } from '../scripts/ensure-consul.js';
import {
  REPO_ROOT,
  ensureHaproxy,
  formatLoad,
  freePort,
  machineLoad,
  ownChildrenNamed,
  reproduceCommand,
  startFixture,
  startProgram,
  stopAll,
  stopChild,
  waitForHttps,
  waitForPassing,
  type NodeChild,
} from './fixtures/harness.js';
import { latencyChartSvg, quantile } from './fixtures/latency-chart.js';
import type { OpenLoopConfig, OpenLoopResult } from './fixtures/open-loop.js';
import { machineCpuUs, procCpuUs } from './fixtures/proc.js';
import type { Degradation } from './fixtures/tail-instance.js';

const SERVICE = 'bench-tail';
const USERNAME = 'bench';
const INSTANCES = 3;

// ---------------------------------------------------------------------------------------------
// settings

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench:tail: --${name} must be a number > 0, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const { values: flags } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    deadline: { type: 'string' },
    cases: { type: 'string' },
    rows: { type: 'string' },
    latency: { type: 'string' },
    'stall-every': { type: 'string' },
    'stall-for': { type: 'string' },
    'fail-ratio': { type: 'string' },
    charts: { type: 'string' },
    'max-in-flight': { type: 'string' },
  },
  strict: true,
});
const RATE = positive('rate', flags.rate, 200);
const SECONDS = positive('seconds', flags.seconds, 20);
const WARMUP = flags.warmup === '0' ? 0 : positive('warmup', flags.warmup, 5);
const DEADLINE_MS = positive('deadline', flags.deadline, 1000);
const EXTRA_MS = positive('latency', flags.latency, 50);
const STALL_EVERY_MS = positive('stall-every', flags['stall-every'], 5000);
const STALL_FOR_MS = positive('stall-for', flags['stall-for'], 1000);
const FAIL_RATIO = positive('fail-ratio', flags['fail-ratio'], 0.3);
const MAX_IN_FLIGHT = positive('max-in-flight', flags['max-in-flight'], 2000);
const CHARTS_DIR = flags.charts ?? join(REPO_ROOT, 'docs', 'images');

interface Case {
  key: 'a' | 'b' | 'c';
  title: string;
  degradation: Degradation;
}

const ALL_CASES: Case[] = [
  { key: 'a', title: `one instance +${EXTRA_MS} ms`, degradation: { kind: 'latency', ms: EXTRA_MS } },
  { key: 'b', title: `one instance stalls ${STALL_FOR_MS / 1000} s every ${STALL_EVERY_MS / 1000} s`, degradation: { kind: 'stall', everyMs: STALL_EVERY_MS, forMs: STALL_FOR_MS } },
  { key: 'c', title: `one instance fails ${Math.round(FAIL_RATIO * 100)}% of requests (503)`, degradation: { kind: 'fail', ratio: FAIL_RATIO } },
];

interface RowSpec {
  number: number;
  label: string;
  kind: 'farol' | 'haproxy' | 'balanced';
  balancer?: BalancerKind;
  haproxyBalance?: 'roundrobin' | 'leastconn';
}

const ALL_ROWS: RowSpec[] = [
  { number: 1, label: 'Farol peak-EWMA (default)', kind: 'farol', balancer: 'peak-ewma' },
  { number: 2, label: 'Farol least-request', kind: 'farol', balancer: 'least-request' },
  { number: 3, label: 'Farol round-robin', kind: 'farol', balancer: 'round-robin' },
  { number: 4, label: 'HAProxy roundrobin', kind: 'haproxy', haproxyBalance: 'roundrobin' },
  { number: 5, label: 'HAProxy leastconn', kind: 'haproxy', haproxyBalance: 'leastconn' },
  { number: 6, label: 'undici BalancedPool', kind: 'balanced' },
];

function pick<T>(all: T[], text: string | undefined, keyOf: (item: T) => string, flag: string): T[] {
  if (text === undefined || text === '') return all;
  const wanted = text.split(',').map((part) => part.trim());
  const unknown = wanted.filter((key) => !all.some((item) => keyOf(item) === key));
  if (unknown.length > 0) {
    console.error(`bench:tail: --${flag} is a comma-separated list of ${all.map(keyOf).join(', ')}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return all.filter((item) => wanted.includes(keyOf(item)));
}

const CASES = pick(ALL_CASES, flags.cases, (c) => c.key, 'cases');
const ROWS = pick(ALL_ROWS, flags.rows, (r) => String(r.number), 'rows');

// ---------------------------------------------------------------------------------------------
// HAProxy

function haproxyConfig(opts: { ports: Record<'roundrobin' | 'leastconn', number>; pemFile: string; caFile: string; instancePorts: number[] }): string {
  const backend = (balance: 'roundrobin' | 'leastconn'): string[] => [
    `frontend fe-${balance}`,
    `  bind 127.0.0.1:${opts.ports[balance]} ssl crt ${opts.pemFile} alpn http/1.1`,
    `  default_backend be-${balance}`,
    `backend be-${balance}`,
    `  balance ${balance}`,
    '  http-reuse always',
    '  option httpchk GET /health',
    '  http-check expect status 200',
    '  retries 2',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response 503',
    `  default-server check inter 1s fall 2 rise 2 observe layer7 error-limit 3 on-error mark-down ssl verify required ca-file ${opts.caFile} sni str(localhost) verifyhost localhost check-sni localhost alpn http/1.1`,
    ...opts.instancePorts.map((port, i) => `  server instance-${i + 1} 127.0.0.1:${port}`),
  ];
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
    ...backend('roundrobin'),
    ...backend('leastconn'),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// measuring

interface ServerProcess {
  name: string;
  pid: number;
}

interface Measured {
  row: RowSpec;
  result: OpenLoopResult;
  sorted: Float64Array;
  /** Share of the GET /work requests each instance answered during the measured window. */
  served: number[];
  /** CPU µs over the measured window, per server process. */
  serverCpu: { name: string; cpuUs: number }[];
  /** Cores the rest of the machine used during the window. */
  otherCores: number;
}

async function instanceStats(instances: NodeChild[]): Promise<number[]> {
  for (const instance of instances) instance.tell(JSON.stringify({ kind: 'stats' }));
  return Promise.all(instances.map(async (instance) => Number((await instance.messages.next(10_000, 'its stats')).served)));
}

async function measureRow(row: RowSpec, load: NodeChild, instances: NodeChild[], servers: () => ServerProcess[]): Promise<Measured> {
  if (WARMUP > 0) {
    load.tell('warm');
    await load.messages.next((WARMUP + 60) * 1000, 'the end of its warm-up');
  }
  const processes = servers();
  const servedBefore = await instanceStats(instances);
  const cpuBefore = processes.map(({ pid }) => procCpuUs(pid));
  const machineBefore = machineCpuUs();
  const windowStart = performance.now();
  load.tell('run');
  const result = (await load.messages.next((SECONDS + 60 + (5 * DEADLINE_MS) / 1000) * 1000, 'its result')).result as OpenLoopResult;
  const windowUs = (performance.now() - windowStart) * 1000;
  const machineAfter = machineCpuUs();
  const serverCpu = processes.map(({ name, pid }, i) => ({ name, cpuUs: procCpuUs(pid) - cpuBefore[i]! }));
  const servedAfter = await instanceStats(instances);
  const ownUs = result.cpuUs + serverCpu.reduce((sum, server) => sum + server.cpuUs, 0);
  return {
    row,
    result,
    sorted: Float64Array.from(result.okLatenciesMs).sort(),
    served: servedAfter.map((after, i) => after - servedBefore[i]!),
    serverCpu,
    otherCores: windowUs > 0 ? Math.max(0, machineAfter.busy - machineBefore.busy - ownUs) / windowUs : 0,
  };
}

const ms = (value: number): string => (Number.isNaN(value) ? 'n/a' : value < 10 ? value.toFixed(2) : value.toFixed(1));
const pct = (value: number): string => `${(value * 100).toFixed(2)}%`;

function successWithinDeadline(measured: Measured): number {
  const inTime = measured.result.okLatenciesMs.filter((latency) => latency <= DEADLINE_MS).length;
  return inTime / Math.max(1, measured.result.scheduled);
}

function printCase(testCase: Case, sick: number, measured: Measured[], loadBefore: number[], loadAfter: number[]): void {
  console.log(`\n### Case ${testCase.key}: ${testCase.title} (instance ${sick + 1} of ${INSTANCES})\n`);
  console.log(`| # | row | p50 ms | p99 ms | p99.9 ms | max ms | success ≤ ${DEADLINE_MS} ms | non-200 | errors | dropped | to the sick instance | client CPU µs/req | servers CPU µs/req |`);
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of measured) {
    const n = Math.max(1, m.result.scheduled);
    const totalServed = m.served.reduce((sum, count) => sum + count, 0);
    const serversUs = m.serverCpu.reduce((sum, server) => sum + server.cpuUs, 0);
    console.log(
      `| ${m.row.number} | ${m.row.label} | ${ms(quantile(m.sorted, 0.5))} | ${ms(quantile(m.sorted, 0.99))} | ${ms(quantile(m.sorted, 0.999))} | ${ms(m.sorted.at(-1) ?? Number.NaN)} | ` +
        `${pct(successWithinDeadline(m))} | ${m.result.badStatus} | ${m.result.errors} | ${m.result.dropped} | ${pct((m.served[sick] ?? 0) / Math.max(1, totalServed))} | ` +
        `${Math.round(m.result.cpuUs / n)} | ${Math.round(serversUs / n)} |`,
    );
  }
  console.log('');
  for (const m of measured) {
    const n = Math.max(1, m.result.scheduled);
    const parts = m.serverCpu.map((server) => `${server.name} ${Math.round(server.cpuUs / n)} µs/req`);
    const firstError = m.result.firstError === undefined ? '' : `; first error: ${m.result.firstError}`;
    console.log(
      `- row ${m.row.number}: ${m.result.scheduled} requests due over ${(m.result.elapsedMs / 1000).toFixed(1)} s; instances answered ${m.served.join(' / ')} ` +
        `(retries included); CPU: client ${Math.round(m.result.cpuUs / n)} µs/req, ${parts.join(', ')}; other processes used ${m.otherCores.toFixed(2)} cores${firstError}`,
    );
  }
  console.log(`- load average before the case ${formatLoad(loadBefore)}, after ${formatLoad(loadAfter)}`);

  const p99 = (number: number): number | undefined => {
    const m = measured.find((row) => row.row.number === number);
    return m ? quantile(m.sorted, 0.99) : undefined;
  };
  const farol = measured.find((m) => m.row.number === 1);
  if (!farol) return;
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const goals: string[] = [];
  const roundRobin = p99(3);
  if (testCase.key !== 'c' && roundRobin !== undefined) {
    const ratio = p99(1)! / roundRobin;
    goals.push(`Farol default p99 ≤ 1/5 of Farol round-robin's: ${ms(p99(1)!)} vs ${ms(roundRobin)} ms = ${ratio.toFixed(2)}× → ${verdict(ratio <= 0.2)}`);
  }
  const leastconn = p99(5);
  if (leastconn !== undefined) {
    goals.push(`Farol default p99 ≤ HAProxy leastconn's: ${ms(p99(1)!)} vs ${ms(leastconn)} ms → ${verdict(p99(1)! <= leastconn)}`);
  }
  if (testCase.key === 'c') {
    const success = successWithinDeadline(farol);
    goals.push(`Farol default success ≥ 99.9%: ${pct(success)} → ${verdict(success >= 0.999)}`);
  }
  console.log(`\nGoals, case ${testCase.key} (reported, not asserted):`);
  for (const goal of goals) console.log(`- ${goal}`);
}

// ---------------------------------------------------------------------------------------------
// the run

let tempDir: string | undefined;
let consulAgent: ConsulAgent | undefined;
const instanceChildren: ChildProcess[] = [];
let haproxyProcess: ChildProcess | undefined;
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    // HAProxy first (its checks would only report the instances going), then the instances: they
    // deregister from Consul, which must still be up.
    if (haproxyProcess) await stopChild(haproxyProcess);
    await stopAll(instanceChildren);
    await consulAgent?.stop().catch((error: unknown) => console.error(`bench:tail: stopping Consul: ${(error as Error).message}`));
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench:tail: ${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const found = ensureConsulBinary() ? findConsulBinary() : { missing: 'a Consul binary (Go 1.21+ builds it)' };
  if ('missing' in found) throw new Error(`npm run bench:tail needs the real Consul agent: ${found.missing}`);
  const wantsHaproxy = ROWS.some((row) => row.kind === 'haproxy');
  const haproxy = wantsHaproxy ? ensureHaproxy() : undefined;
  const startLoad = machineLoad();

  tempDir = await mkdtemp(join(tmpdir(), 'farol-bench-tail-'));
  const file = (name: string): string => join(tempDir!, name);
  const ca = await createCertificateAuthority({ commonName: 'Farol bench:tail CA' });
  const server = await issueCertificate(ca, { commonName: SERVICE, usage: 'server', ...serverSubjectAltNames([SERVICE]) });
  const proxy = await issueCertificate(ca, { commonName: 'haproxy', usage: 'server', ...serverSubjectAltNames([]) });
  await writeFile(file('ca.pem'), ca.certPem);
  await writeFile(file('cert.pem'), server.certPem);
  await writeFile(file('key.pem'), server.keyPem, { mode: 0o600 });
  await writeFile(file('haproxy.pem'), `${proxy.certPem.trimEnd()}\n${proxy.keyPem.trimEnd()}\n`, { mode: 0o600 });
  const password = randomBytes(18).toString('base64url');
  await addUser(file('users.txt'), USERNAME, password);

  console.error('bench:tail: starting the Consul dev agent…');
  consulAgent = await startConsulAgent({ caFile: file('ca.pem') });
  console.error(`bench:tail: starting ${INSTANCES} Farol instances…`);
  const instances = Array.from({ length: INSTANCES }, (_, i) => {
    const instance = startFixture('tail-instance.ts', `instance ${i + 1}`, {
      name: SERVICE,
      certFile: file('cert.pem'),
      keyFile: file('key.pem'),
      usersFile: file('users.txt'),
      consulAddress: consulAgent!.address,
      logFile: file(`instance-${i + 1}.log`),
    });
    instanceChildren.push(instance.child);
    return instance;
  });
  const instancePorts = await Promise.all(instances.map(async (instance) => Number((await instance.messages.next(60_000, 'its port')).port)));
  await waitForPassing(consulAgent.httpAddr, SERVICE, INSTANCES, 60_000);

  const skipped: string[] = [];
  let haproxyPorts: Record<'roundrobin' | 'leastconn', number> | undefined;
  if (haproxy && 'skip' in haproxy) {
    skipped.push(`HAProxy rows: ${haproxy.skip}`);
  } else if (haproxy) {
    haproxyPorts = { roundrobin: await freePort(), leastconn: await freePort() };
    await writeFile(file('haproxy.cfg'), haproxyConfig({ ports: haproxyPorts, pemFile: file('haproxy.pem'), caFile: file('ca.pem'), instancePorts }));
    const check = spawnSync('haproxy', ['-c', '-q', '-f', file('haproxy.cfg')], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy rejected its configuration: ${check.stderr || check.stdout}`);
    haproxyProcess = startProgram('haproxy', ['-db', '-f', file('haproxy.cfg')]);
    for (const port of Object.values(haproxyPorts)) await waitForHttps(`https://127.0.0.1:${port}/health`, ca.certPem, 20_000, haproxyProcess);
  }

  const common = {
    rate: RATE,
    seconds: SECONDS,
    warmupSeconds: WARMUP,
    hardTimeoutMs: 5 * DEADLINE_MS,
    maxInFlight: MAX_IN_FLIGHT,
    path: '/work',
    caFile: file('ca.pem'),
    username: USERNAME,
    password,
  };
  const rows = ROWS.filter((row) => row.kind !== 'haproxy' || haproxyPorts !== undefined);
  const consulPids = ownChildrenNamed('consul');
  // A fresh load generator (and so a fresh client, balancer and pool) for every row of every
  // case: what a balancer learnt in the previous case (say, that an instance stalled) must not
  // weigh on the next one.
  const startLoadGenerator = async (row: RowSpec, testCase: Case): Promise<NodeChild> => {
    const config: OpenLoopConfig =
      row.kind === 'farol'
        ? { ...common, mode: 'farol', balancer: row.balancer!, consulAddress: consulAgent!.address, service: SERVICE, instances: INSTANCES, logFile: file(`client-${testCase.key}-${row.number}.log`) }
        : row.kind === 'haproxy'
          ? { ...common, mode: 'pool', origin: `https://127.0.0.1:${haproxyPorts![row.haproxyBalance!]}` }
          : { ...common, mode: 'balanced', origins: instancePorts.map((port) => `https://127.0.0.1:${port}`) };
    const load = startFixture('open-loop.ts', `load generator (${row.label})`, config);
    await load.messages.next(60_000, 'that it is ready');
    return load;
  };

  const servers = (row: RowSpec) => (): ServerProcess[] => [
    ...instances.map((instance, i) => ({ name: `instance ${i + 1}`, pid: instance.pid })),
    ...(row.kind === 'farol' ? consulPids.map((pid) => ({ name: 'Consul', pid })) : []),
    ...(row.kind === 'haproxy' && haproxyProcess?.pid !== undefined ? [{ name: 'HAProxy', pid: haproxyProcess.pid }] : []),
  ];

  console.log(
    `\nnpm run bench:tail: ${RATE} req/s open-loop per row, ${SECONDS} s measured after ${WARMUP} s of warm-up, deadline ${DEADLINE_MS} ms, ` +
      `${INSTANCES} instances; Node ${process.version}, ${cpus().length} CPUs; load average at the start ${formatLoad(startLoad)}` +
      `${haproxy && 'version' in haproxy ? `; ${haproxy.version.replace(/ - .*$/, '')}` : ''}`,
  );
  console.log(`Reproduce: ${reproduceCommand('bench:tail')}`);
  for (const reason of skipped) console.log(`- skipped: ${reason}`);

  for (const [index, testCase] of CASES.entries()) {
    const sick = ALL_CASES.indexOf(testCase) % INSTANCES;
    console.error(`bench:tail: case ${testCase.key} (${testCase.title}, instance ${sick + 1})…`);
    instances.forEach((instance, i) => instance.tell(JSON.stringify(i === sick ? testCase.degradation : { kind: 'none' })));
    await Promise.all(instances.map((instance) => instance.messages.next(10_000, 'its new state')));
    const loadBefore = machineLoad();
    const measured: Measured[] = [];
    for (const row of rows) {
      console.error(`bench:tail:   row ${row.number} (${row.label})…`);
      const load = await startLoadGenerator(row, testCase);
      const m = await measureRow(row, load, instances, servers(row));
      load.tell('end');
      await stopChild(load.child);
      console.error(`bench:tail:   row ${row.number}: p99 ${ms(quantile(m.sorted, 0.99))} ms, success ${pct(successWithinDeadline(m))}`);
      measured.push(m);
    }
    printCase(testCase, sick, measured, loadBefore, machineLoad());
    await mkdir(CHARTS_DIR, { recursive: true });
    const chart = join(CHARTS_DIR, `tail-${testCase.key}.svg`);
    await writeFile(
      chart,
      await latencyChartSvg(
        `Case ${testCase.key}: ${testCase.title}, ${RATE} req/s open-loop`,
        measured.map((m) => ({ label: `${m.row.number}. ${m.row.label} (p99 ${ms(quantile(m.sorted, 0.99))} ms)`, sortedMs: m.sorted })),
        [
          `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} CPUs, load average ${formatLoad(loadBefore)} → ${formatLoad(machineLoad())}`,
          `${SECONDS} s per row after ${WARMUP} s of warm-up, deadline ${DEADLINE_MS} ms: ${reproduceCommand('bench:tail')}`,
        ],
      ),
    );
    console.log(`- chart: ${chart}`);
    if (index < CASES.length - 1) console.error('');
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench:tail: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
