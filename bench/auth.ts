/**
 * npm run bench:auth — what authentication costs a Farol service, in one run on loopback: the
 * same service process and handler, called four ways over verified TLS with keep-alive:
 *
 *  1. no auth: a route marked public (the baseline);
 *  2. Basic: a users-file user (scrypt once, then the cache of verified credentials);
 *  3. bearer JWT: an ES256 token, verified against the service's key on every request;
 *  4. mTLS: a client certificate from the service's CA (verified once per connection by TLS).
 *
 * Rows are measured in interleaved rounds (1 2 3 4, 1 2 3 4, ...) and each row reports its
 * median round, so drift on the machine lands on every row alike. The goal: every authenticated
 * row at ≥ 0.9× the baseline's requests per second.
 *
 *   npm run bench:auth -- --seconds 5 --rounds 3 --concurrency 64
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { Pool } from 'undici';
import { procCpuUs } from './fixtures/proc.js';
import { addUser, clientSubjectAltNames, createCertificateAuthority, issueCertificate, serverSubjectAltNames } from '../src/index.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.FAROL_BENCH_SECONDS ?? '5' },
    rounds: { type: 'string', default: process.env.FAROL_BENCH_ROUNDS ?? '3' },
    concurrency: { type: 'string', default: process.env.FAROL_BENCH_CONCURRENCY ?? '64' },
    rows: { type: 'string', default: '1,2,3,4' },
  },
});
const SECONDS = Number(flags.seconds);
const ROUNDS = Number(flags.rounds);
const CONCURRENCY = Number(flags.concurrency);
for (const [name, value] of Object.entries({ seconds: SECONDS, rounds: ROUNDS, concurrency: CONCURRENCY })) {
  if (!Number.isFinite(value) || value < 1 || value > 10_000) {
    console.error(`bench:auth: --${name} must be a number from 1 to 10000`);
    process.exit(2);
  }
}

interface Row {
  name: string;
  path: string;
  pool: Pool;
  headers: Record<string, string>;
}

interface Round {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  serverUsPerRequest: number;
  clientUsPerRequest: number;
  errors: number;
}

/** `concurrency` loops calling the row for `seconds`; bounded in time, so it stops by itself. */
async function measure(row: Row, seconds: number, serverPid: number): Promise<Round> {
  const latencies: number[] = [];
  let errors = 0;
  const cpuBefore = procCpuUs(serverPid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const response = await row.pool.request({ method: 'GET', path: row.path, headers: row.headers });
          await response.body.text();
          if (response.statusCode === 200) latencies.push(performance.now() - t0);
          else errors += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const cpuUs = procCpuUs(serverPid) - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  latencies.sort((a, b) => a - b);
  const at = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsedS, p50Ms: at(50), p99Ms: at(99), serverUsPerRequest: cpuUs / Math.max(1, latencies.length),
    clientUsPerRequest: (client.user + client.system) / Math.max(1, latencies.length),
    errors,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), 'farol-bench-auth-'));
const ca = await createCertificateAuthority({ commonName: 'Farol bench:auth CA' });
const server = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...serverSubjectAltNames(['bench-auth']) });
const client = await issueCertificate(ca, { commonName: 'bench', usage: 'client', ...clientSubjectAltNames('bench') });
const files = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), usersFile: join(dir, 'users.txt') };
await writeFile(files.certFile, server.certPem);
await writeFile(files.keyFile, server.keyPem, { mode: 0o600 });
const password = 'bench password, not a secret';
await addUser(files.usersFile, 'bench', password);
const issuer = 'https://issuer.bench.invalid';
const audience = 'https://bench-auth.service.consul';
const keys = await generateKeyPair('ES256');
const token = await new SignJWT({ scope: 'orders:read' })
  .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
  .setIssuer(issuer)
  .setAudience(audience)
  .setSubject('bench-client')
  .setIssuedAt()
  .setExpirationTime('1h')
  .sign(keys.privateKey);

// FAROL_BENCH_PROFILE=<dir>: a CPU profile of the service process, to see where its time goes.
const profile = process.env.FAROL_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.FAROL_BENCH_PROFILE)] : [];
const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(REPO_ROOT, 'bench', 'fixtures', 'auth-service.ts')], {
  cwd: REPO_ROOT,
  stdio: ['pipe', 'pipe', 'inherit'],
});
process.once('exit', () => child.kill('SIGKILL'));
child.stdin.write(
  `${JSON.stringify({ ...files, caPem: ca.certPem, jwtPublicKey: await exportSPKI(keys.publicKey), issuer, audience, logFile: join(dir, 'server-log.txt') })}\n`,
);
const ready = await new Promise<{ port: number }>((answer, reject) => {
  const lines = createInterface({ input: child.stdout });
  lines.once('line', (line) => answer(JSON.parse(line) as { port: number }));
  child.once('exit', (code) => reject(new Error(`the bench service exited (${code}) before it was ready`)));
});
const origin = `https://127.0.0.1:${ready.port}`;
const tls = { ca: ca.certPem, servername: 'localhost' };
const pool = (extra: object = {}): Pool => new Pool(origin, { connections: 16, connect: { ...tls, ...extra } });

const allRows: Row[] = [
  { name: 'no auth (public route)', path: '/open', pool: pool(), headers: {} },
  { name: 'Basic (cached verification)', path: '/private', pool: pool(), headers: { authorization: `Basic ${Buffer.from(`bench:${password}`).toString('base64')}` } },
  { name: 'bearer JWT (ES256)', path: '/private', pool: pool(), headers: { authorization: `Bearer ${token}` } },
  { name: 'mTLS (client certificate)', path: '/private', pool: pool({ cert: client.certPem, key: client.keyPem }), headers: {} },
];
// --rows 1,3: only those rows (row 1, the baseline, is always measured).
const rows = allRows.filter((_, i) => i === 0 || flags.rows.split(',').map(Number).includes(i + 1));

try {
  console.log(
    `bench:auth: ${ROUNDS} rounds of ${SECONDS} s per row, ${CONCURRENCY} requests in flight, one service process; ` +
      `Node ${process.version}, ${cpus().length} CPUs, load average before ${loadavg().map((v) => v.toFixed(2)).join(' ')}`,
  );
  console.log(`Reproduce: npm run bench:auth${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\n`);
  for (const row of rows) await measure(row, 1, child.pid!); // warm-up: connections, JIT, the Basic cache
  const rounds = new Map<Row, Round[]>(rows.map((row) => [row, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const row of rows) rounds.get(row)!.push(await measure(row, SECONDS, child.pid!));
  }
  const results = rows.map((row) => {
    const all = rounds.get(row)!;
    return {
      row,
      rps: median(all.map((r) => r.rps)),
      p50Ms: median(all.map((r) => r.p50Ms)),
      p99Ms: median(all.map((r) => r.p99Ms)),
      serverUs: median(all.map((r) => r.serverUsPerRequest)),
      clientUs: median(all.map((r) => r.clientUsPerRequest)),
      errors: all.reduce((sum, r) => sum + r.errors, 0),
    };
  });
  const baseline = results[0]!.rps;
  console.log('| # | route | req/s | p50 ms | p99 ms | server µs/req | client µs/req | errors | req/s vs 1 |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  results.forEach((r, i) => {
    console.log(
      `| ${i + 1} | ${r.row.name} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.serverUs.toFixed(0)} | ${r.clientUs.toFixed(0)} | ${r.errors} | ${(r.rps / baseline).toFixed(2)}× |`,
    );
  });
  const behind = results.slice(1).filter((r) => r.rps / baseline < 0.9);
  console.log(`\nload average after ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  console.log(behind.length === 0 ? '\ngoal met: every authenticated route ≥ 0.9× the unauthenticated one' : `\ngoal NOT met for: ${behind.map((r) => r.row.name).join(', ')}`);
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
} finally {
  await Promise.all(allRows.map((row) => row.pool.close()));
  child.stdin.end();
  await new Promise((done) => child.once('exit', done));
  await rm(dir, { recursive: true, force: true });
}
