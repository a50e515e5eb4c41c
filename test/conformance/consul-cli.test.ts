/**
 * A real third-party client: HashiCorp's own `consul` CLI (Go `api` package, blocking queries and
 * all) gives the same answers against both registries. Needs the Consul binary for both targets, so
 * without one the whole file follows describeWithConsul's rule (fail under CI=true, else skip loudly).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findConsulBinary } from '../support/consul-agent.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { forEachTarget } from './targets.js';
import { getJson, putOk } from './wire.js';

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

  /** `consul …` that may fail: its exit code, stdout and stderr. */
  const consulResult = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(binary, args, { env: cliEnv(), timeout: 15_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  };

  /**
   * Runs `consul watch` with a handler that appends each result (JSON on its stdin) to a file, one
   * per line; `lines()` reads them back; `stop()` interrupts the watch and waits for it to exit.
   */
  const watchWithHandler = (args: string[]): { lines(): string[]; stop(): Promise<void> } => {
    const dir = mkdtempSync(join(tmpdir(), 'farol-kv-watch-'));
    const file = join(dir, 'seen.jsonl');
    const handler = `cat >> '${file}'; echo >> '${file}'`;
    const child = spawn(binary, ['watch', ...args, handler], { env: cliEnv(), stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      lines: () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '') : []),
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };

  /** Polls `probe` every 100 ms for up to `timeoutMs`. */
  const within = async (timeoutMs: number, probe: () => boolean): Promise<boolean> => {
    for (const deadline = performance.now() + timeoutMs; performance.now() < deadline; ) {
      if (probe()) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return probe();
  };

  forEachTarget('the consul CLI with KV', (getTarget) => {
    const addr = (): string => `-http-addr=${getTarget().address}`;

    it('`consul kv put` then `consul kv get` prints the value; a missing key is "No key exists" (exit 1)', async () => {
      assert.equal(await consul(binary, ['kv', 'put', addr(), 'foo', 'bar']), 'Success! Data written to: foo\n');
      assert.equal(await consul(binary, ['kv', 'get', addr(), 'foo']), 'bar\n');
      const detailed = await consul(binary, ['kv', 'get', addr(), '-detailed', 'foo']);
      assert.match(detailed, /^Flags\s+0$/m);
      assert.match(detailed, /^Value\s+bar$/m);
      const missing = await consulResult(['kv', 'get', addr(), 'nope']);
      assert.deepEqual([missing.code, missing.stderr], [1, 'Error! No key exists at: nope\n']);
    });

    it('`consul kv get -recurse` and `-keys` list a prefix; `consul kv put -cas` refuses a stale index', async () => {
      await consul(binary, ['kv', 'put', addr(), '-flags=42', 'cli/dir/x', '1']);
      await consul(binary, ['kv', 'put', addr(), 'cli/foo', 'bar']);
      assert.equal(await consul(binary, ['kv', 'get', addr(), '-recurse', 'cli/']), 'cli/dir/x:1\ncli/foo:bar\n');
      assert.equal(await consul(binary, ['kv', 'get', addr(), '-keys', 'cli/']), 'cli/dir/\ncli/foo\n');
      const stale = await consulResult(['kv', 'put', addr(), '-cas', '-modify-index=1', 'cli/foo', 'other']);
      assert.deepEqual([stale.code, stale.stderr], [1, 'Error! Did not write to cli/foo: CAS failed\n']);
    });

    it('`consul kv export` prints the entries as JSON; `consul kv import` writes them back', async () => {
      const exported = await consul(binary, ['kv', 'export', addr(), 'cli/']);
      assert.deepEqual(JSON.parse(exported), [
        { key: 'cli/dir/x', flags: 42, value: 'MQ==' },
        { key: 'cli/foo', flags: 0, value: 'YmFy' },
      ]);
      assert.equal(await consul(binary, ['kv', 'delete', addr(), '-recurse', 'cli/']), 'Success! Deleted keys with prefix: cli/\n');
      assert.equal((await consulResult(['kv', 'get', addr(), 'cli/foo'])).code, 1);
      const imported = await consulResult(['kv', 'import', addr(), exported]);
      assert.equal(imported.code, 0, imported.stderr);
      assert.equal(await consul(binary, ['kv', 'get', addr(), 'cli/foo']), 'bar\n');
      assert.match(await consul(binary, ['kv', 'get', addr(), '-detailed', 'cli/dir/x']), /^Flags\s+42$/m);
    });

    it('`consul kv delete` removes a key', async () => {
      assert.equal(await consul(binary, ['kv', 'delete', addr(), 'foo']), 'Success! Deleted key: foo\n');
      assert.equal((await consulResult(['kv', 'get', addr(), 'foo'])).code, 1);
    });

    it('`consul watch -type=key` runs its handler with the key, then again after a put', async () => {
      await consul(binary, ['kv', 'put', addr(), 'wk/foo', 'one']);
      const watch = watchWithHandler([addr(), '-type=key', '-key=wk/foo']);
      try {
        assert.ok(await within(10_000, () => watch.lines().length >= 1), 'the handler saw the key within 10 s');
        await consul(binary, ['kv', 'put', addr(), 'wk/foo', 'two']);
        assert.ok(await within(5_000, () => watch.lines().length >= 2), 'the handler saw the put within 5 s');
        const seen = watch.lines().map((line) => JSON.parse(line) as { Key: string; Value: string });
        assert.deepEqual(
          seen.map((pair) => [pair.Key, Buffer.from(pair.Value, 'base64').toString()]),
          [
            ['wk/foo', 'one'],
            ['wk/foo', 'two'],
          ],
        );
      } finally {
        await watch.stop();
      }
    });

    it('`consul watch -type=key` on a missing key: null, then the key once created (not for a sibling), then null once deleted', async () => {
      const watch = watchWithHandler([addr(), '-type=key', '-key=mk/x']);
      try {
        assert.ok(await within(10_000, () => watch.lines().length >= 1), 'the handler ran within 10 s');
        await consul(binary, ['kv', 'put', addr(), 'mk/sibling', '1']);
        await consul(binary, ['kv', 'put', addr(), 'mk/x', 'now']);
        assert.ok(await within(5_000, () => watch.lines().length >= 2), 'the handler saw the key within 5 s');
        await consul(binary, ['kv', 'delete', addr(), 'mk/x']);
        assert.ok(await within(5_000, () => watch.lines().length >= 3), 'the handler saw the delete within 5 s');
        const seen = watch.lines().map((line) => JSON.parse(line) as { Key: string } | null);
        assert.deepEqual(
          seen.map((pair) => pair?.Key ?? null),
          [null, 'mk/x', null],
        );
      } finally {
        await watch.stop();
      }
    });

    it('`consul watch -type=keyprefix` runs its handler with the prefix’s entries after a put under it', async () => {
      const watch = watchWithHandler([addr(), '-type=keyprefix', '-prefix=wk/']);
      try {
        assert.ok(await within(10_000, () => watch.lines().length >= 1), 'the handler saw the prefix within 10 s');
        await consul(binary, ['kv', 'put', addr(), 'wk/bar', 'three']);
        assert.ok(await within(5_000, () => watch.lines().length >= 2), 'the handler saw the put within 5 s');
        const last = JSON.parse(watch.lines().at(-1)!) as { Key: string }[];
        assert.deepEqual(
          last.map((pair) => pair.Key),
          ['wk/bar', 'wk/foo'],
        );
      } finally {
        await watch.stop();
      }
    });
  });

  forEachTarget('the consul CLI with nodes, members and checks', (getTarget) => {
    const addr = (): string => `-http-addr=${getTarget().address}`;
    const rows = (output: string): string[][] => output.trim().split('\n').map((line) => line.trim().split(/\s+/));
    let node = { name: '', id: '' };

    it('`consul members` lists this node as an alive server of dc1', async () => {
      const config = (await getJson<{ Config: { NodeName: string; NodeID: string } }>(getTarget(), '/v1/agent/self')).Config;
      node = { name: config.NodeName, id: config.NodeID };
      const [heading, ...members] = rows(await consul(binary, ['members', addr()]));
      assert.deepEqual(heading, ['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC', 'Partition', 'Segment']);
      assert.equal(members.length, 1);
      const [name, address, ...rest] = members[0] ?? [];
      assert.equal(name, node.name);
      assert.match(String(address), /^127\.0\.0\.1:\d+$/);
      assert.deepEqual(rest, ['alive', 'server', '1.15.4', '2', 'dc1', 'default', '<all>']);
      const detailed = await consul(binary, ['members', addr(), '-detailed']);
      assert.match(detailed, /\balive\s+acls=0,ap=default,build=1\.15\.4:\w+,dc=dc1,/);
    });

    it('`consul catalog nodes` (and -detailed) lists the node with its ID, address and datacenter', async () => {
      assert.deepEqual(rows(await consul(binary, ['catalog', 'nodes', addr()])), [
        ['Node', 'ID', 'Address', 'DC'],
        [node.name, node.id.slice(0, 8), '127.0.0.1', 'dc1'],
      ]);
      const [heading, row] = rows(await consul(binary, ['catalog', 'nodes', addr(), '-detailed']));
      assert.deepEqual(heading, ['Node', 'ID', 'Address', 'DC', 'TaggedAddresses', 'Meta']);
      assert.deepEqual(row, [node.name, node.id, '127.0.0.1', 'dc1', 'lan=127.0.0.1,', 'lan_ipv4=127.0.0.1,', 'wan=127.0.0.1,', 'wan_ipv4=127.0.0.1', 'consul-network-segment=']);
    });

    it('`consul catalog datacenters` prints dc1', async () => {
      assert.equal(await consul(binary, ['catalog', 'datacenters', addr()]), 'dc1\n');
    });

    it('`consul info` prints the agent, build, consul and raft sections with this agent\'s counts', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', { ID: 'info-1', Name: 'info', Port: 5001, Check: { TTL: '60s', Status: 'critical' } });
      const info = await consul(binary, ['info', addr()]);
      for (const section of ['agent:', 'build:', 'consul:', 'raft:', 'runtime:', 'serf_lan:']) assert.match(info, new RegExp(`^${section}$`, 'm'));
      for (const line of ['check_ttls = 1', 'checks = 1', 'services = 1', 'version = 1.15.4', 'leader = true', 'server = true', 'state = Leader']) {
        assert.match(info, new RegExp(`^\\t${line}$`, 'm'), line);
      }
    });

    it('`consul watch -type=checks -state=critical` prints the critical checks, then again once one passes', async () => {
      const watch = watchWithHandler([addr(), '-type=checks', '-state=critical']);
      try {
        assert.ok(await within(10_000, () => watch.lines().length >= 1), 'the handler ran within 10 s');
        const ids = (line: string | undefined): string[] => (JSON.parse(line ?? '[]') as { CheckID: string }[]).map((c) => c.CheckID);
        assert.deepEqual(ids(watch.lines()[0]), ['service:info-1']);
        await putOk(getTarget(), '/v1/agent/check/pass/service:info-1');
        assert.ok(await within(5_000, () => ids(watch.lines().at(-1)).length === 0), 'the handler saw no critical check within 5 s');
      } finally {
        await watch.stop();
      }
    });
  });
}
