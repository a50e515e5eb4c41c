/** `farol demo --once` with no Consul named: the whole system on the embedded registry, nothing else installed. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFarol, type CliRun } from '../support/cli.js';

describe('farol demo --once on the embedded registry', () => {
  let dir: string;
  let run: CliRun;
  let blocker: Server | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-demo-embedded-'));
    // Hold 8500 if it is free, so the test also proves the fallback to another port (and never
    // disturbs a Consul the developer runs there).
    blocker = await new Promise<Server | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(8500, '127.0.0.1', () => resolve(server));
    });
    run = await runFarol(['demo', '--once'], { cwd: dir, env: { CONSUL_HTTP_ADDR: '' }, timeoutMs: 60_000 });
  });

  after(async () => {
    await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 after one round of six calls, all answered 200 by the three instances', () => {
    assert.equal(run.code, 0, run.stderr);
    const instances = [...run.stdout.matchAll(/^instance: (\S+) at /gm)].map((m) => m[1]);
    const answers = [...run.stdout.matchAll(/^call \d+: 200 from (\S+) /gm)].map((m) => m[1]);
    assert.equal(instances.length, 3);
    assert.equal(answers.length, 6);
    assert.deepEqual(new Set(answers), new Set(instances));
  });

  it('says that 8500 is taken and prints the address it picked instead', (t) => {
    // Another test file running at the same time may hold 8500 and let it go before the demo
    // starts; only the run that held 8500 itself can require the fallback.
    if (blocker) assert.match(run.stdout, /port 8500 is taken, so the embedded registry uses 127\.0\.0\.1:\d+ instead/);
    else t.diagnostic('8500 was held by another process: the fallback message is not required');
    assert.match(run.stdout, /^registry: embedded Consul-compatible registry at http:\/\/127\.0\.0\.1:\d+/m);
    assert.match(run.stdout, /^registry: web UI at http:\/\/127\.0\.0\.1:\d+\/ui\/$/m);
  });

  it('writes the registry, server and client logs, without the demo password', async () => {
    const password = /^user: demo, password: (\S+) /m.exec(run.stdout)?.[1];
    assert.ok(password);
    for (const log of ['registry-log.txt', 'server-log.txt', 'client-log.txt']) {
      const text = await readFile(join(dir, 'logs', log), 'utf8');
      assert.ok(!text.includes(password), `${log} leaks the demo password`);
    }
  });
});
