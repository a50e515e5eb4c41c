/**
 * npm run bench:observe — what observability costs a Farol call, in one run on loopback. Six
 * rows, each a Farol service process and a Farol client process calling it over verified TLS
 * with Basic auth, discovery from the embedded registry:
 *
 *  1. off: metrics off, tracing off (the baseline);
 *  2. default: tracing on (the default) with no OpenTelemetry SDK registered, metrics off;
 *  3. metrics: prom-client metrics on, on the service and the client;
 *  4. metrics + tracing: metrics, and the OTel SDK registered in both processes sampling 100% of
 *     spans (call, try, server span each call) to a batching processor and a counting exporter;
 *  5. metrics + tracing at 10%: the same with the SDK sampling one trace in ten (ParentBased over
 *     TraceIdRatioBased, as production fleets commonly run it): the instance follows the caller's decision;
 *  6. metrics + hand-made spans: Farol's tracing off, the same SDK, and the same three spans with the
 *     same attributes and traceparent made by hand around each call and request
 *     (bench/fixtures/hand-spans.ts): what the SDK alone costs for those spans, so row 4 over
 *     row 6 is Farol's own tracing code, and row 6 over row 3 is the floor any instrumentation pays.
 *
 * The primary figure is CPU time per call (process.cpuUsage of the client and of the service,
 * over the same rounds, and their sum): it barely moves when other work shares the machine, where
 * calls per second (kept as a secondary column) follow whatever else runs. Rows are measured in
 * interleaved rounds (1 2 3 4, 1 2 3 4, ...) and each reports its median round (and its best: other
 * load only ever adds CPU per call, through caches and fewer calls per wake-up). Goals, on the
 * client + service CPU per call: metrics ≥ 0.95× off, metrics + tracing ≥ 0.85× off, where a ratio
 * is off's CPU per call over the row's (so 0.95× = 5% more CPU per call). Reported, not asserted.
 *
 *   npm run bench:observe -- --seconds 3 --rounds 5 --concurrency 16 --warmup 5
 *   npm run bench:observe -- --rate 1000 --concurrency 64      # paced: the same calls per second in every row
 *   npm run bench:observe -- --cpu-prof /tmp/observe-prof   # a V8 CPU profile of every process
 *
 * As fast as answered (the default), a row that runs slower on a busy machine also gets fewer calls
 * per wake-up of its event loop, which raises its CPU per call further; --rate paces every row at
 * the same calls per second (well under what the slowest row can do), which removes that effect.
 *
 * Then a second table, "events alone": the CPU one call's events cost in each mode with no I/O
 * (bench/fixtures/observe-events.ts, one process per mode, --event-calls calls; 0 skips it).
 * Being pure CPU in one process, it is steady where the first table is not, and it says how much of
 * a row's extra CPU is Farol's subscribers (and prom-client's, and the SDK's) and how much is not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
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
    warmup: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: process.env.FAROL_BENCH_CONCURRENCY ?? '32' },
    modes: { type: 'string', default: 'off,default,metrics,metrics+tracing,metrics+tracing-10%,metrics+hand-spans' },
    'cpu-prof': { type: 'string' },
    'event-calls': { type: 'string', default: '100000' },
    rate: { type: 'string', default: process.env.FAROL_BENCH_RATE ?? '0' },
  },
});
const SECONDS = Number(flags.seconds);
const ROUNDS = Number(flags.rounds);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP = Number(flags.warmup);
for (const [name, value] of Object.entries({ seconds: SECONDS, rounds: ROUNDS, concurrency: CONCURRENCY, warmup: WARMUP })) {
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    console.error(`bench:observe: --${name} must be a whole number from 1 to 1000`);
    process.exit(2);
  }
}

const ALL_MODES = [
  { mode: 'off', label: 'off (no metrics, no tracing)' },
  { mode: 'default', label: 'default (tracing on, no SDK registered)' },
  { mode: 'metrics', label: 'metrics (prom-client)' },
  { mode: 'metrics+tracing', label: 'metrics + tracing (OTel SDK, 100% sampled)' },
  { mode: 'metrics+tracing-10%', label: 'metrics + tracing (OTel SDK, 10% of traces sampled)' },
  { mode: 'metrics+hand-spans', label: 'metrics + the same spans made by hand (OTel SDK, Farol tracing off)' },
] as const;
const wanted = new Set(flags.modes.split(',').map((m) => m.trim()));
const MODES = ALL_MODES.filter((m) => wanted.has(m.mode));
if (MODES.length === 0 || MODES[0]!.mode !== 'off' || wanted.size !== MODES.length) {
  console.error(`bench:observe: --modes must list known modes starting with off (${ALL_MODES.map((m) => m.mode).join(',')})`);
  process.exit(2);
}
const RATE = Number(flags.rate);
if (!Number.isInteger(RATE) || RATE < 0 || RATE > 100_000) {
  console.error('bench:observe: --rate must be a whole number of calls per second from 0 (as fast as answered) to 100000');
  process.exit(2);
}
const EVENT_CALLS = Number(flags['event-calls']);
if (!Number.isInteger(EVENT_CALLS) || EVENT_CALLS < 0 || EVENT_CALLS > 10_000_000) {
  console.error('bench:observe: --event-calls must be a whole number from 0 to 10000000');
  process.exit(2);
}
const PROFILE_DIR = flags['cpu-prof'] === undefined ? undefined : resolve(flags['cpu-prof']);

interface Round {
  calls: number;
  errors: number;
  skipped: number;
  elapsedMs: number;
  clientCpuUs: number;
  serviceCpuUs: number;
  spans: number;
}

/** A child process speaking the line protocol of bench/fixtures/protocol.ts. */
interface Proc {
  name: string;
  child: ChildProcess;
  /** Lines read and not asked for yet (readline may hand over several at once). */
  queue: string[];
  waiting: ((line: string) => void) | undefined;
}

interface Row {
  mode: string;
  label: string;
  service: Proc;
  client: Proc;
  rounds: Round[];
}

const children: ChildProcess[] = [];
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

async function start(fixture: string, name: string, config: object): Promise<Proc> {
  const profile = PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(PROFILE_DIR, name)}`];
  if (PROFILE_DIR !== undefined) await mkdir(join(PROFILE_DIR, name), { recursive: true });
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(REPO_ROOT, 'bench', 'fixtures', fixture)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const proc: Proc = { name, child, queue: [], waiting: undefined };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiting = proc.waiting;
    proc.waiting = undefined;
    if (waiting) waiting(line);
    else proc.queue.push(line);
  });
  child.stdin!.write(`${JSON.stringify(config)}\n`);
  const ready = (await ask(proc)) as { ready?: boolean };
  if (!ready.ready) throw new Error(`${name}: not ready`);
  return proc;
}

/** Writes `command` (if any) and reads the process's next JSON line. */
function ask(proc: Proc, command?: string): Promise<unknown> {
  if (command !== undefined) proc.child.stdin!.write(`${command}\n`);
  const queued = proc.queue.shift();
  if (queued !== undefined) return Promise.resolve(JSON.parse(queued));
  return new Promise((answer, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${proc.name}: its process exited (${code})`));
    proc.child.once('exit', onExit);
    proc.waiting = (line) => {
      proc.child.off('exit', onExit);
      answer(JSON.parse(line));
    };
  });
}

async function measure(row: Row, seconds: number): Promise<Round> {
  const serviceBefore = (await ask(row.service, 'cpu')) as { cpuUs: number };
  const run = (await ask(row.client, `measure ${seconds} ${CONCURRENCY} ${RATE}`)) as { ok: number; errors: number; skipped: number; elapsedMs: number; cpuUs: number; spans: number };
  const serviceAfter = (await ask(row.service, 'cpu')) as { cpuUs: number; spans: number };
  return { calls: run.ok, errors: run.errors, skipped: run.skipped, elapsedMs: run.elapsedMs, clientCpuUs: run.cpuUs, serviceCpuUs: serviceAfter.cpuUs - serviceBefore.cpuUs, spans: run.spans + serviceAfter.spans };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const perCall = (us: number, round: Round): number => us / Math.max(1, round.calls);

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
    const name = names[index]!;
    const service = await start('observe-service.ts', `${mode}-service`, {
      mode,
      name,
      certFile: files.certFile,
      keyFile: files.keyFile,
      usersFile: files.usersFile,
      consulAddress: registry.address,
    });
    const client = await start('observe-client.ts', `${mode}-client`, { mode, name, caFile: files.caFile, password, consulAddress: registry.address });
    rows.push({ mode, label, service, client, rounds: [] });
  }

  // Seconds, not one: the first rounds of a row run through tsx's output and V8's tiers; with a
  // 1 s warm-up the first measured round of every row was 1.5–2× its later ones.
  console.error(`bench:observe: warming up ${rows.length} rows, ${WARMUP} s each…`);
  for (const row of rows) await measure(row, WARMUP);
  const machineBefore = machineCpuUs();
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const row of rows) row.rounds.push(await measure(row, SECONDS));
  }
  const machineAfter = machineCpuUs();
  const busy = (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total);

  const results = rows.map((row) => ({
    label: row.label,
    client: median(row.rounds.map((r) => perCall(r.clientCpuUs, r))),
    service: median(row.rounds.map((r) => perCall(r.serviceCpuUs, r))),
    total: median(row.rounds.map((r) => perCall(r.clientCpuUs + r.serviceCpuUs, r))),
    best: Math.min(...row.rounds.map((r) => perCall(r.clientCpuUs + r.serviceCpuUs, r))),
    totals: row.rounds.map((r) => perCall(r.clientCpuUs + r.serviceCpuUs, r).toFixed(0)).join(' / '),
    rps: median(row.rounds.map((r) => (r.calls * 1000) / r.elapsedMs)),
    errors: row.rounds.reduce((sum, r) => sum + r.errors, 0),
    skipped: row.rounds.reduce((sum, r) => sum + r.skipped, 0),
    spans: row.rounds.at(-1)?.spans ?? 0,
  }));
  const off = results[0]!;
  const ratio = (r: (typeof results)[number]): number => off.total / r.total;
  console.log(
    `\nnpm run bench:observe -- --seconds ${SECONDS} --rounds ${ROUNDS} --concurrency ${CONCURRENCY}${RATE > 0 ? ` --rate ${RATE}` : ''}\n` +
      `${ROUNDS} interleaved rounds of ${SECONDS} s per row, ` +
      (RATE > 0 ? `${RATE} calls/s paced, at most ${CONCURRENCY} in flight` : `${CONCURRENCY} calls in flight`) +
      `, service and client in separate processes; ` +
      `Node ${process.version}, ${cpus().length} CPUs; load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, ` +
      `after ${loadavg().map((v) => v.toFixed(2)).join(' ')}; machine CPU busy during the rounds ${(busy * 100).toFixed(0)}%` +
      (PROFILE_DIR === undefined ? '' : `; CPU profiles in ${PROFILE_DIR} (profiling inflates every figure)`) +
      '\n',
  );
  console.log('| # | row | CPU µs/call client | service | client + service | rounds (c + s) | vs off (CPU) | best round vs off | calls/s | vs off (calls/s) | spans exported | errors | skipped |');
  console.log('|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  results.forEach((r, i) => {
    console.log(
      `| ${i + 1} | ${r.label} | ${r.client.toFixed(0)} | ${r.service.toFixed(0)} | ${r.total.toFixed(0)} | ${r.totals} | ${ratio(r).toFixed(2)}× | ${(off.best / r.best).toFixed(2)}× | ` +
        `${r.rps.toFixed(0)} | ${(r.rps / off.rps).toFixed(2)}× | ${r.spans} | ${r.errors} | ${r.skipped} |`,
    );
  });
  const goals = [
    { mode: 'metrics', name: 'metrics', goal: 0.95 },
    { mode: 'metrics+tracing', name: 'metrics + tracing', goal: 0.85 },
  ];
  console.log('\nGoals, on CPU per call, client + service (reported, not asserted):');
  for (const { mode, name, goal } of goals) {
    const index = rows.findIndex((row) => row.mode === mode);
    if (index < 0) continue;
    const value = ratio(results[index]!);
    console.log(`- ${name} vs off: ${value.toFixed(2)}× (goal ≥ ${goal.toFixed(2)}×) ${value >= goal ? 'met' : 'NOT met'}`);
  }
  const resultOf = (mode: string): (typeof results)[number] | undefined => results[rows.findIndex((row) => row.mode === mode)];
  const [farolSpans, handSpans, metricsOnly, sampled] = [resultOf('metrics+tracing'), resultOf('metrics+hand-spans'), resultOf('metrics'), resultOf('metrics+tracing-10%')];
  if (sampled) console.log(`- metrics + tracing with 10% of traces sampled vs off: ${ratio(sampled).toFixed(2)}× (the 0.85× goal is set for 100%)`);
  if (farolSpans && handSpans && metricsOnly) {
    console.log(
      `- where tracing's CPU goes: the SDK's three spans made by hand cost ${(handSpans.total - metricsOnly.total).toFixed(0)} µs/call over metrics alone ` +
        `(metrics + hand-made spans vs off: ${ratio(handSpans).toFixed(2)}×); Farol's tracing ${(farolSpans.total - metricsOnly.total).toFixed(0)} µs/call ` +
        `(Farol's over the hand-made: ${(handSpans.total / farolSpans.total).toFixed(2)}×)`,
    );
  }
  if (EVENT_CALLS > 0) {
    console.error(`bench:observe: events alone, ${EVENT_CALLS} calls per mode…`);
    const alone: Array<{ label: string; clientUs: number; serviceUs: number }> = [];
    for (const { mode, label } of MODES) {
      const proc = await start('observe-events.ts', `${mode}-events`, { mode, calls: EVENT_CALLS });
      alone.push({ label, ...((await ask(proc)) as { clientUs: number; serviceUs: number }) });
      const exited = new Promise((done) => proc.child.once('exit', done));
      proc.child.stdin!.end();
      await exited;
    }
    const offAlone = alone[0]!.clientUs + alone[0]!.serviceUs;
    console.log(`\nEvents alone: one call's events published ${EVENT_CALLS} times with no I/O, CPU µs per call (client side: call and try events; service side: request and auth events)\n`);
    console.log('| # | row | client µs | service µs | both | more than off | off end to end + that, vs off |');
    console.log('|---|---|---:|---:|---:|---:|---:|');
    alone.forEach((a, i) => {
      const both = a.clientUs + a.serviceUs;
      console.log(
        `| ${i + 1} | ${a.label} | ${a.clientUs.toFixed(1)} | ${a.serviceUs.toFixed(1)} | ${both.toFixed(1)} | ${(both - offAlone).toFixed(1)} | ` +
          `${(off.total / (off.total + both - offAlone)).toFixed(2)}× |`,
      );
    });
  }
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
} finally {
  const all = rows.flatMap((row) => [row.service, row.client]);
  for (const proc of all) proc.child.stdin!.end();
  await Promise.all(all.map((proc) => new Promise((done) => (proc.child.exitCode !== null ? done(undefined) : proc.child.once('exit', done)))));
  await registry.close();
  await rm(dir, { recursive: true, force: true });
}
