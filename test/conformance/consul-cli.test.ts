/**
 * A real third-party client: HashiCorp's own `consul` CLI (Go `api` package, blocking queries and
 * all) gives the same answers against both registries. Needs the Consul binary for both targets, so
 * without one the whole file follows describeWithConsul's rule (fail under CI=true, else skip loudly).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { findConsulBinary } from '../support/consul-agent.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { forEachTarget } from './targets.js';
import { putOk } from './wire.js';

const run = promisify(execFile);
const found = findConsulBinary();

/** The CLI's environment: nothing from the caller's Consul settings leaks in; the address comes by flag. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('CONSUL_HTTP_') || key === 'CONSUL_CACERT') delete env[key];
  return env;
}

async function consul(binary: string, args: string[]): Promise<string> {
  const { stdout } = await run(binary, args, { env: cliEnv(), timeout: 15_000 });
  return stdout;
}

interface WatchEntry {
  Service: { ID: string };
  Checks: { CheckID: string; Status: string }[];
}

/** Runs `consul watch -type=service` and collects each JSON document it prints, until `stop()`. */
function watchService(binary: string, address: string, service: string): { next(timeoutMs: number): Promise<WatchEntry[]>; stop(): Promise<void> } {
  // Without a handler `consul watch` prints once and exits; with `cat` as the handler each result
  // arrives on the handler's stdin and comes out as one line of JSON.
  const child = spawn(binary, ['watch', `-http-addr=${address}`, '-type=service', `-service=${service}`, 'cat'], {
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const documents: WatchEntry[][] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line.startsWith('[')) documents.push(JSON.parse(line) as WatchEntry[]);
    }
    waiters.splice(0).forEach((wake) => wake());
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async next(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (documents.length === 0) {
        const left = deadline - performance.now();
        if (left <= 0 || child.exitCode !== null) assert.fail(`consul watch printed nothing within ${timeoutMs} ms (stderr: ${stderr.trim()})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return documents.shift() as WatchEntry[];
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

if ('missing' in found) {
  describeWithConsul('the consul CLI against both registries', () => undefined);
} else {
  const binary = found.path;
  forEachTarget('the consul CLI', (getTarget) => {
    it('lists services and their tags with `consul catalog services -tags`', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', {
        ID: 'cli-1',
        Name: 'cli',
        Port: 5000,
        Tags: ['blue', 'v2'],
        Check: { TTL: '60s', Status: 'passing' },
      });
      const output = await consul(binary, ['catalog', 'services', `-http-addr=${getTarget().address}`, '-tags']);
      const lines = output.split('\n').map((line) => line.trim().split(/\s+/));
      assert.deepEqual(lines.find(([name]) => name === 'cli'), ['cli', 'blue,v2']);
      assert.ok(lines.some(([name]) => name === 'consul'), 'the registry itself is listed as "consul"');
    });

    it('lists the node that provides a service with `consul catalog nodes -service`', async () => {
      const output = await consul(binary, ['catalog', 'nodes', `-http-addr=${getTarget().address}`, '-service=cli']);
      const [heading, ...rows] = output.trim().split('\n');
      assert.deepEqual(heading?.trim().split(/\s+/), ['Node', 'ID', 'Address', 'DC']);
      assert.equal(rows.length, 1);
      assert.deepEqual(rows[0]?.trim().split(/\s+/).slice(2), ['127.0.0.1', 'dc1']);
    });

    it('prints the service at once and again on a health change with `consul watch -type=service`', async () => {
      const watch = watchService(binary, getTarget().address, 'cli');
      try {
        const first = await watch.next(10_000);
        assert.deepEqual(first.map((entry) => entry.Service.ID), ['cli-1']);
        assert.equal(first[0]?.Checks.find((check) => check.CheckID === 'service:cli-1')?.Status, 'passing');
        await putOk(getTarget(), '/v1/agent/check/fail/service:cli-1');
        // The watch may also report an intermediate state; the critical status must arrive promptly.
        let status: string | undefined;
        for (let reports = 0; reports < 5 && status !== 'critical'; reports += 1) {
          const next = await watch.next(5_000);
          status = next[0]?.Checks.find((check) => check.CheckID === 'service:cli-1')?.Status;
        }
        assert.equal(status, 'critical');
      } finally {
        await watch.stop();
      }
    });
  });
}
