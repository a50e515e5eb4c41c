/**
 * `farol instances SERVICE` against a real Consul agent and the embedded registry: what each
 * reports, what a client would do with every instance (the same set Consul's ?passing gives the
 * client), the errors, and --watch following live changes until SIGTERM.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { forEachTarget, type TargetContext } from '../../conformance/targets.js';
import { spawnFarol, waitForExit } from '../../support/cli.js';
import { main } from '../../../src/cli/main.js';
import type { InstanceVerdict } from '../../../src/cli/instance-verdicts.js';

async function farol(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'farol', ...args], {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    stdin: Readable.from([]),
    env,
    isTTY: false,
  });
  return { code, stdout, stderr };
}

async function put(target: TargetContext, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${target.httpAddr}${path}`, { method: 'PUT', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  assert.equal(response.status, 200, `PUT ${path}: ${await response.text()}`);
}

const register = (target: TargetContext, id: string, port: number) =>
  put(target, '/v1/agent/service/register', { ID: id, Name: 'shop', Port: port, Address: '127.0.0.1', Check: { CheckID: `service:${id}`, TTL: '10m' } });

async function passingIds(target: TargetContext): Promise<string[]> {
  const entries = (await (await fetch(`${target.httpAddr}/v1/health/service/shop?passing`)).json()) as { Service: { ID: string } }[];
  return entries.map((entry) => entry.Service.ID).sort();
}

/** Everything a process printed so far (stdout and stderr), and a wait for a line of it to match. */
function output(child: ReturnType<typeof spawnFarol>): { lines: () => string[]; waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void> } {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const lines = () => text.split('\n');
  return {
    lines,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!lines().some((line) => pattern.test(line))) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no line matching ${pattern}; output:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

forEachTarget('farol instances', (getTarget) => {
  it('shows every instance with its health and what a client does with it; the called ones are exactly Consul\'s passing set', async () => {
    const target = getTarget();
    await register(target, 'shop-1', 4001);
    await register(target, 'shop-2', 4002);
    await register(target, 'shop-3', 4003);
    await register(target, 'shop-4', 4004);
    await put(target, '/v1/agent/check/pass/service:shop-1');
    await put(target, '/v1/agent/check/warn/service:shop-2?note=slow+disk');
    await put(target, '/v1/agent/check/fail/service:shop-3?note=connection+refused');
    await put(target, '/v1/agent/check/pass/service:shop-4');
    await put(target, '/v1/agent/service/maintenance/shop-4?enable=true&reason=upgrading');

    const env = { CONSUL_HTTP_ADDR: target.address };
    const json = await farol(['instances', 'shop', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const { service, instances } = JSON.parse(json.stdout) as { service: string; instances: InstanceVerdict[] };
    assert.equal(service, 'shop');
    assert.deepEqual(
      instances.map((v) => [v.id, v.address, v.health, v.client]),
      [
        ['shop-1', '127.0.0.1:4001', 'passing', 'call'],
        ['shop-2', '127.0.0.1:4002', 'warning', 'skip'],
        ['shop-3', '127.0.0.1:4003', 'critical', 'skip'],
        ['shop-4', '127.0.0.1:4004', 'maintenance', 'skip'],
      ],
    );
    assert.match(instances[1]!.reason, /is warning: slow disk/);
    assert.match(instances[2]!.reason, /^check 'Service 'shop' check' is critical/);
    assert.equal(instances[3]!.reason, 'service in maintenance: upgrading');
    assert.deepEqual(instances.filter((v) => v.client === 'call').map((v) => v.id), await passingIds(target));

    const table = await farol(['instances', 'shop', '--consul', target.address], {});
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'service shop: 4 instances, 1 called by a client, 3 skipped');
    assert.match(lines[1]!, /^INSTANCE\s+ADDRESS\s+NODE\s+HEALTH\s+CLIENT\s+WHY$/);
    assert.match(lines[2]!, /^shop-1\s+127\.0\.0\.1:4001\s+\S+\s+passing\s+call$/);
    assert.match(lines[5]!, /^shop-4\s+127\.0\.0\.1:4004\s+\S+\s+maintenance\s+skip\s+service in maintenance: upgrading$/);
  });

  it('a node in maintenance keeps all of its instances from clients (real Consul: the embedded registry has no node maintenance)', async (t) => {
    const target = getTarget();
    if (target.name !== 'consul') {
      t.skip('the embedded registry does not serve agent/maintenance (documented)');
      return;
    }
    await put(target, '/v1/agent/maintenance?enable=true&reason=kernel+update');
    try {
      const run = await farol(['instances', 'shop', '--json'], { CONSUL_HTTP_ADDR: target.address });
      const { instances } = JSON.parse(run.stdout) as { instances: InstanceVerdict[] };
      assert.deepEqual(new Set(instances.map((v) => v.client)), new Set(['skip']));
      assert.equal(instances[0]!.health, 'node-maintenance');
      assert.match(instances[0]!.reason, /^node \S+ in maintenance: kernel update$/);
      assert.deepEqual(await passingIds(target), []);
    } finally {
      await put(target, '/v1/agent/maintenance?enable=false');
    }
  });

  it('an unknown service is a one-line error whose hint names the services Consul has', async () => {
    const run = await farol(['instances', 'shpo'], { CONSUL_HTTP_ADDR: getTarget().address });
    assert.equal(run.code, 3);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^farol: no instance of service 'shpo' is registered in Consul at \S+\nhint: registered services: shop\n$/);
  });

  it('--watch prints the list, then one line per change, and stops on SIGTERM with exit 0', async () => {
    const target = getTarget();
    const child = spawnFarol(['instances', 'shop', '--watch'], { env: { CONSUL_HTTP_ADDR: target.address } });
    const seen = output(child);
    try {
      await seen.waitFor(/^service shop: 4 instances, 1 called by a client, 3 skipped$/, 30_000);
      await put(target, '/v1/agent/check/pass/service:shop-2');
      await seen.waitFor(/^\S+Z ~ shop-2 at 127\.0\.0\.1:4002: warning -> passing, a client calls it$/);
      await put(target, '/v1/agent/service/deregister/shop-4');
      await seen.waitFor(/^\S+Z - shop-4 at 127\.0\.0\.1:4004: deregistered$/);
      await register(target, 'shop-5', 4005);
      await seen.waitFor(/^\S+Z \+ shop-5 at 127\.0\.0\.1:4005: critical, a client skips it \(check '.+' is critical.*\)$/);
      child.kill('SIGTERM');
      const { code } = await waitForExit(child, 10_000);
      assert.equal(code, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
