/** A small real fleet for the observability tests: `farol serve` instances and a client app, as child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForExit, waitForLine } from '../../support/cli.js';
import type { ConsulAgent } from '../../support/consul-agent.js';
import { issueTestPki, writeUsers, type TestPki } from '../../service/fixtures.js';

const tsxLoader = import.meta.resolve('tsx');
const entry = fileURLToPath(new URL('../../../src/cli/entry.ts', import.meta.url));
const clientApp = fileURLToPath(new URL('./fixtures/client-app.ts', import.meta.url));
const otelRegister = fileURLToPath(new URL('./fixtures/otel-register.ts', import.meta.url));

export const SERVICE = 'observed';
export const USER = 'alice';
export const PASSWORD = 'correct horse battery staple';

export interface FleetFiles {
  dir: string;
  pki: TestPki;
  usersFile: string;
}

export async function fleetFiles(dir: string): Promise<FleetFiles> {
  return { dir, pki: await issueTestPki(dir, [SERVICE]), usersFile: await writeUsers(dir, { [USER]: PASSWORD }) };
}

export interface RunningInstance {
  child: ChildProcess;
  id: string;
  url: string;
  metricsUrl: string;
  /** host:port of the metrics listener, as a scrape target. */
  metricsTarget: string;
}

function node(args: string[], env: NodeJS.ProcessEnv, spansFile: string | undefined): ChildProcess {
  const imports = ['--import', tsxLoader, ...(spansFile ? ['--import', otelRegister] : [])];
  return spawn(process.execPath, [...imports, ...args], {
    env: { ...process.env, ...env, ...(spansFile ? { FAROL_TEST_SPANS_FILE: spansFile } : {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** `farol serve` with --metrics-port 0, a TTL check of 30 s (a SIGKILLed instance stays "passing" for a while, as after a crash). */
export async function startInstance(agent: ConsulAgent, files: FleetFiles, index: number, spansFile?: string): Promise<RunningInstance> {
  const child = node(
    [
      entry, 'serve', '--service', SERVICE, '--port', '0', '--check', 'ttl', '--check-interval', '30s', '--drain-delay', '0s',
      '--cert', files.pki.certFile, '--key', files.pki.keyFile, '--users', files.usersFile, '--consul', agent.address,
      '--log-file', join(files.dir, `server-${index}.log`), '--metrics-port', '0',
    ],
    {},
    spansFile,
  );
  const serving = waitForLine(child, /serving \S+ instance (\S+) at (\S+)/, 30_000);
  const metrics = waitForLine(child, /metrics at (http:\/\/(\S+)\/metrics)/, 30_000);
  const [[, id, url], [, metricsUrl, metricsTarget]] = await Promise.all([serving, metrics]);
  return { child, id: id!, url: url!, metricsUrl: metricsUrl!, metricsTarget: metricsTarget! };
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await waitForExit(child, 10_000).catch(() => child.kill('SIGKILL'));
}

export interface ClientApp {
  child: ChildProcess;
  metricsTarget: string;
  /** Makes `n` calls one after another; resolves with one result per call. */
  call(n: number, timeoutMs?: number): Promise<Array<{ status?: number; attempts?: number; instance?: string; error?: string }>>;
}

export async function startClientApp(agent: ConsulAgent, files: FleetFiles, spansFile?: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<ClientApp> {
  const child = node(
    [clientApp],
    { CONSUL_HTTP_ADDR: agent.address, FAROL_CA: files.pki.caFile, FAROL_USER: USER, FAROL_PASSWORD: PASSWORD, SERVICE, ...extraEnv },
    spansFile,
  );
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => (buffered += chunk.toString()));
  const [, target] = await waitForLine(child, /metrics at http:\/\/(\S+)\/metrics/, 30_000);
  return {
    child,
    metricsTarget: target!,
    async call(n, timeoutMs = 60_000) {
      buffered = '';
      child.stdin!.write(`call ${n}\n`);
      const deadline = Date.now() + timeoutMs;
      while (!/^done$/m.test(buffered)) {
        if (Date.now() > deadline) throw new Error(`client app: ${n} calls not done within ${timeoutMs} ms; output so far:\n${buffered}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return buffered.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { status?: number; attempts?: number; instance?: string });
    },
  };
}
