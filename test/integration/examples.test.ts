/** The two example programs that replace servidor.py and cliente.py, run as a user would run them. */
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { runFarol, waitForExit, waitForLine } from '../support/cli.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const tsx = import.meta.resolve('tsx');
let dir: string;

async function setUp(): Promise<{ caFile: string }> {
  dir = await mkdtemp(join(tmpdir(), 'farol-examples-'));
  assert.equal((await runFarol(['certs', 'init', '--service', 'api'], { cwd: dir })).code, 0);
  assert.equal((await runFarol(['users', 'add', 'alice', '--password-stdin'], { cwd: dir, stdin: 's3cret-example\n' })).code, 0);
  return { caFile: join(dir, 'certs', 'ca.pem') };
}

function runExample(file: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', tsx, join(examples, file)], { cwd: dir, env: { ...process.env, ...env } });
}

describeWithConsul('the examples: server.ts and client.ts', (getAgent) => {
  let server: ChildProcess | undefined;

  after(async () => {
    server?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('the server registers itself; the client finds it through Consul and gets its greeting', async () => {
    const env = { CONSUL_HTTP_ADDR: getAgent().address, PORT: '0' };
    server = runExample('server.ts', env);
    const [, instanceId] = await waitForLine(server, /serving api as (\S+) at https:/);
    const deadline = Date.now() + 20_000;
    let output = '';
    for (;;) {
      const client = runExample('client.ts', { ...env, FAROL_PASSWORD: 's3cret-example' });
      output = '';
      client.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      client.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const { code } = await waitForExit(client);
      if (code === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.match(output, new RegExp(`^200 from ${instanceId}: .*olá, alice`, 'm'));
    server.kill('SIGTERM');
    assert.equal((await waitForExit(server)).code, 0);
  });
}, setUp);
