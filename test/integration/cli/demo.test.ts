/** `farol demo --once` (what `npm start` runs, for one round) against a real Consul agent. */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { runFarol, type CliRun } from '../../support/cli.js';

describeWithConsul('farol demo --once', (getAgent) => {
  let dir: string;
  let run: CliRun;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-demo-'));
    run = await runFarol(['demo', '--once', '--instances', '3', '--calls', '6'], {
      cwd: dir,
      env: { CONSUL_HTTP_ADDR: getAgent().address },
      timeoutMs: 60_000,
    });
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 after one round of calls', () => {
    assert.equal(run.code, 0, run.stderr);
  });

  it('starts three instances and shows which one answered each call, spreading the calls over all of them', () => {
    const instances = [...run.stdout.matchAll(/^instance: (\S+) at https:\/\/127\.0\.0\.1:\d+$/gm)].map((m) => m[1]);
    assert.equal(instances.length, 3);
    const answers = [...run.stdout.matchAll(/^call \d+: 200 from (\S+) /gm)].map((m) => m[1]);
    assert.equal(answers.length, 6);
    assert.deepEqual(new Set(answers), new Set(instances));
  });

  it('deregisters every instance before it exits', async () => {
    const response = await fetch(`${getAgent().httpAddr}/v1/catalog/service/farol-demo`);
    assert.deepEqual(await response.json(), []);
  });

  it('prints the generated password once and never writes it to a log', async () => {
    const password = /^user: demo, password: (\S+) /m.exec(run.stdout)?.[1];
    assert.ok(password && password.length >= 16);
    assert.equal(run.stdout.split(password).length - 1, 1);
    for (const log of ['server-log.txt', 'client-log.txt']) {
      const text = await readFile(join(dir, 'logs', log), 'utf8');
      assert.ok(text.length > 0);
      assert.ok(!text.includes(password), `${log} leaks the demo password`);
    }
  });
});
