import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A scrape target: a loopback host:port serving /metrics, with labels Prometheus attaches to its series. */
export interface ScrapeTarget {
  address: string;
  labels?: Record<string, string>;
}

export interface PrometheusServer {
  readonly url: string;
  /** An instant query through the HTTP API (/api/v1/query): the vector's samples. */
  query(expr: string): Promise<PromSample[]>;
  /** Polls `query(expr)` until `accept` holds for its samples, or fails after `timeoutMs` with the last answer. */
  waitFor(expr: string, accept: (samples: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  /** The targets' scrape health as Prometheus reports it (/api/v1/targets). */
  targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** Debian's prometheus binary (PROMETHEUS_BIN, else on PATH), or why there is none. */
export function findPrometheusBinary(): { path: string } | { missing: string } {
  const candidate = process.env.PROMETHEUS_BIN ?? 'prometheus';
  const probe = spawnSync(candidate, ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return { missing: `${candidate} (apt-get install prometheus, or set PROMETHEUS_BIN)` };
  return { path: candidate };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs the real Prometheus on 127.0.0.1 (a free port), with its own config and storage in a temp
 * folder, scraping `targets` every `scrapeIntervalS` seconds. Never relies on a system service.
 */
export async function startPrometheus(targets: ScrapeTarget[], options: { scrapeIntervalS?: number } = {}): Promise<PrometheusServer> {
  const found = findPrometheusBinary();
  if ('missing' in found) throw new Error(`no Prometheus: ${found.missing}`);
  const dir = await mkdtemp(join(tmpdir(), 'farol-prometheus-'));
  const interval = `${options.scrapeIntervalS ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [
      {
        job_name: 'farol',
        static_configs: targets.map((target) => ({ targets: [target.address], labels: target.labels ?? {} })),
      },
    ],
  };
  // JSON is YAML: no YAML library needed for the config.
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    found.path,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  }

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  }

  async function query(expr: string): Promise<PromSample[]> {
    const data = await api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    return data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
  }

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 20 s: ${stderr}`);
    }
    await sleep(200);
  }

  return {
    url,
    query,
    async waitFor(expr, accept, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      for (;;) {
        last = await query(expr);
        if (accept(last)) return last;
        if (Date.now() > until) throw new Error(`prometheus: ${expr} did not reach the expected value within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
        await sleep(500);
      }
    },
    async targets() {
      const data = await api<{ activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> }>('/api/v1/targets');
      return data.activeTargets.map(({ scrapeUrl, health, lastError }) => ({ scrapeUrl, health, lastError }));
    },
    stop,
  };
}
