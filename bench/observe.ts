/**
 * npm run bench:observe — what observability costs a Farol call, in one run on loopback. Four
 * rows, each a process running a Farol service and a Farol client calling it over verified TLS
 * with Basic auth, discovery from the embedded registry:
 *
 *  1. off: metrics off, tracing off (the baseline);
 *  2. default: tracing on (the default) with no OpenTelemetry SDK registered, metrics off;
 *  3. metrics: prom-client metrics on, on the service and the client;
 *  4. metrics + tracing: metrics, and the OTel SDK registered sampling 100% of spans (call, try,
 *     server span each call) to a batching processor and a counting exporter.
 *
 * Client and service share one process per row, so the cost lands on the same event loop the
 * throughput depends on (a worst case). Rows are measured in interleaved rounds (1 2 3 4, 1 2 3
 * 4, ...) and each reports its median round, so drift on a shared machine lands on every row alike.
 * Goals: metrics ≥ 0.95× off, metrics + tracing ≥ 0.85× off (reported, not asserted).
 *
 *   npm run bench:observe -- --seconds 5 --rounds 3 --concurrency 32
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineCpuUs } from './fixtures/proc.js';
import { addUser, createCertificateAuthority, issueCertificate, serverSubjectAltNames } from '../src/index.js';
import { startRegistry } from '../src/registry/index.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.FAROL_BENCH_SECONDS ?? '5' },
    rounds: { type: 'string', default: process.env.FAROL_BENCH_ROUNDS ?? '3' },
    concurrency: { type: 'string', default: process.env.FAROL_BENCH_CONCURRENCY ?? '32' },
  },
});
const SECONDS = Number(flags.seconds);
const ROUNDS = Number(flags.rounds);
const CONCURRENCY = Number(flags.concurrency);
for (const [name, value] of Object.entries({ seconds: SECONDS, rounds: ROUNDS, concurrency: CONCURRENCY })) {
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    console.error(`bench:observe: --${name} must be a whole number from 1 to 1000`);
    process.exit(2);
  }
}

const MODES = [
  { mode: 'off', label: 'off (no metrics, no tracing)' },
  { mode: 'default', label: 'default (tracing on, no SDK registered)' },
  { mode: 'metrics', label: 'metrics (prom-client)' },
  { mode: 'metrics+tracing', label: 'metrics + tracing (OTel SDK, 100% sampled)' },
] as const;

interface Round {
  rps: number;
  errors: number;
  cpuUsPerCall: number;
  spans: number;
}

interface Row {
  label: string;
  child: ChildProcess;
  lines: Interface;
  rounds: Round[];
}

function nextLine(row: Row): Promise<string> {
  return new Promise((answer, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${row.label}: its process exited (${code})`));
    row.child.once('exit', onExit);
    row.lines.once('line', (line) => {
      row.child.off('exit', onExit);
      answer(line);
    });
  });
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const loadBefore = loadavg();
const dir = await mkdtemp(join(tmpdir(), 'farol-bench-observe-'));
const registry = await startRegistry({ port: 0 });
const rows: Row[] = [];
try {
  const ca = await createCertificateAuthority({ commonName: 'Farol bench:observe CA' });
  const names = MODES.map((_, i) => `bench-observe-${i + 1}`);
  const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(names) });
  const files = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), caFile: join(dir, 'ca.pem'), usersFile: join(dir, 'users.txt') };
  await writeFile(files.certFile, leaf.certPem);
  await writeFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
  await writeFile(files.caFile, ca.certPem);
  const password = 'bench password, not a secret';
  await addUser(files.usersFile, 'bench', password);

  for (const [index, { mode, label }] of MODES.entries()) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'fixtures', 'observe-pair.ts')], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    process.once('exit', () => child.kill('SIGKILL'));
    const row: Row = { label, child, lines: createInterface({ input: child.stdout! }), rounds: [] };
    rows.push(row);
    child.stdin!.write(`${JSON.stringify({ mode, name: names[index], ...files, password, consulAddress: registry.address })}\n`);
    const ready = JSON.parse(await nextLine(row)) as { ready?: boolean };
    if (!ready.ready) throw new Error(`${label}: not ready`);
  }

  const measure = async (row: Row, seconds: number): Promise<Round> => {
    row.child.stdin!.write(`measure ${seconds} ${CONCURRENCY}\n`);
    return JSON.parse(await nextLine(row)) as Round;
  };
  console.error(`bench:observe: warming up ${rows.length} rows…`);
  for (const row of rows) await measure(row, 1);
  const machineBefore = machineCpuUs();
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const row of rows) row.rounds.push(await measure(row, SECONDS));
  }
  const machineAfter = machineCpuUs();
  const busy = (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total);

  const results = rows.map((row) => ({
    label: row.label,
    rps: median(row.rounds.map((r) => r.rps)),
    cpuUs: median(row.rounds.map((r) => r.cpuUsPerCall)),
    errors: row.rounds.reduce((sum, r) => sum + r.errors, 0),
    spans: row.rounds.at(-1)?.spans ?? 0,
    all: row.rounds.map((r) => r.rps.toFixed(0)).join(' / '),
  }));
  const baseline = results[0]!.rps;
  console.log(
    `\nnpm run bench:observe -- --seconds ${SECONDS} --rounds ${ROUNDS} --concurrency ${CONCURRENCY}\n` +
      `${ROUNDS} interleaved rounds of ${SECONDS} s per row, ${CONCURRENCY} calls in flight, service and client in one process per row; ` +
      `Node ${process.version}, ${cpus().length} CPUs; load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, ` +
      `after ${loadavg().map((v) => v.toFixed(2)).join(' ')}; machine CPU busy during the rounds ${(busy * 100).toFixed(0)}%\n`,
  );
  console.log('| # | row | calls/s (median) | rounds | CPU µs/call | spans exported | errors | vs off |');
  console.log('|---|---|---:|---|---:|---:|---:|---:|');
  results.forEach((r, i) => {
    console.log(`| ${i + 1} | ${r.label} | ${r.rps.toFixed(0)} | ${r.all} | ${r.cpuUs.toFixed(0)} | ${r.spans} | ${r.errors} | ${(r.rps / baseline).toFixed(2)}× |`);
  });
  const metricsRatio = results[2]!.rps / baseline;
  const tracingRatio = results[3]!.rps / baseline;
  console.log('\nGoals (reported, not asserted):');
  console.log(`- metrics vs off: ${metricsRatio.toFixed(2)}× (goal ≥ 0.95×) ${metricsRatio >= 0.95 ? 'met' : 'NOT met'}`);
  console.log(`- metrics + tracing vs off: ${tracingRatio.toFixed(2)}× (goal ≥ 0.85×) ${tracingRatio >= 0.85 ? 'met' : 'NOT met'}`);
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
} finally {
  for (const row of rows) row.child.stdin!.end();
  await Promise.all(rows.map((row) => new Promise((done) => (row.child.exitCode !== null ? done(undefined) : row.child.once('exit', done)))));
  await registry.close();
  await rm(dir, { recursive: true, force: true });
}
