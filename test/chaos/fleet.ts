/**
 * The chaos tests' fleet: real Farol instances in child processes (test/chaos/fixtures/instance.ts),
 * a steady, bounded load of calls through a real Farol client, and the client's log read back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FarolClient } from '../../src/client/index.js';
import { isFarolError } from '../../src/errors.js';

const fixture = fileURLToPath(new URL('./fixtures/instance.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

export interface FleetConfig {
  service: string;
  consulAddress: string;
  certFile: string;
  keyFile: string;
  usersFile: string;
  logFile: string;
}

export interface RunningInstance {
  id: string;
  port: number;
  child: ChildProcess;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  exited: Promise<number | null>;
}

/** Starts one instance and waits until it is listening and registered. */
export async function startInstance(config: FleetConfig, extraEnv: Record<string, string> = {}): Promise<RunningInstance> {
  const child = spawn(process.execPath, ['--import', tsxLoader, fixture], {
    env: {
      ...process.env,
      FAROL_CHAOS_SERVICE: config.service,
      FAROL_CHAOS_CONSUL: config.consulAddress,
      FAROL_CHAOS_CERT: config.certFile,
      FAROL_CHAOS_KEY: config.keyFile,
      FAROL_CHAOS_USERS: config.usersFile,
      FAROL_CHAOS_LOG_FILE: config.logFile,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let output = '';
  const ready = new Promise<{ instance: string; port: number }>((resolve, reject) => {
    // Only bounds a failure: tsx compiles the sources at start, which takes long on a starved machine.
    const timer = setTimeout(() => reject(new Error(`instance did not start within 60 s:\n${output}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { instance: string; port: number });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited (${code}) before it was ready:\n${output}`));
    });
  });
  const { instance, port } = await ready;
  return { id: instance, port, child, exited };
}

/** Sends `signal` and waits for the process to exit; returns its exit code. */
export async function stopInstance(instance: RunningInstance, signal: NodeJS.Signals): Promise<number | null> {
  if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill(signal);
  return instance.exited;
}

export interface Sample {
  /** Date.now() when the call was made. */
  sentAt: number;
  /** Date.now() when the call ended. */
  at: number;
  ok: boolean;
  instance?: string;
  code?: string;
  attempts: number;
}

export interface SteadyLoad {
  samples: Sample[];
  /** Stops issuing calls, waits for those in flight, and returns every sample. */
  stop(): Promise<Sample[]>;
  /** Every sample, once the load has reached its request or time limit by itself. */
  finished(): Promise<Sample[]>;
}

/**
 * Calls `path` of `service` with `concurrency` workers, each pausing `pauseMs` between calls,
 * until stopped, `maxRequests` calls, or `maxMs` — whichever comes first.
 */
export function steadyLoad(
  client: FarolClient,
  service: string,
  opts: { path: string; concurrency: number; pauseMs: number; maxRequests: number; maxMs: number },
): SteadyLoad {
  const samples: Sample[] = [];
  const started = performance.now();
  let stopped = false;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (!stopped && issued < opts.maxRequests && performance.now() - started < opts.maxMs) {
      issued += 1;
      const sentAt = Date.now();
      try {
        const result = await client.call(service, { path: opts.path });
        const ok = result.status >= 200 && result.status < 300;
        samples.push({ sentAt, at: Date.now(), ok, instance: result.instance.id, attempts: result.attempts, ...(ok ? {} : { code: `HTTP ${result.status}` }) });
      } catch (error) {
        samples.push({ sentAt, at: Date.now(), ok: false, code: isFarolError(error) ? `${error.code}: ${error.message}` : String(error), attempts: 0 });
      }
      await sleep(opts.pauseMs);
    }
  };
  const workers = Promise.all(Array.from({ length: opts.concurrency }, worker));
  return {
    samples,
    async stop() {
      stopped = true;
      await workers;
      return samples;
    },
    async finished() {
      await workers;
      return samples;
    },
  };
}

/** The failed samples, summed by error, for an assertion message. */
export function failureSummary(samples: readonly Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) if (!s.ok) counts.set(s.code ?? '?', (counts.get(s.code ?? '?') ?? 0) + 1);
  return [...counts].map(([code, n]) => `${n} × ${code}`).join('; ') || 'none';
}

/** An in-memory pino destination: every log line the client writes, parsed. */
export function logCapture(): { write(line: string): void; events(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return {
    write(line: string) {
      lines.push(line);
    },
    events() {
      return lines.flatMap((l) => l.split('\n')).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}
