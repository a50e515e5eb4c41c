/**
 * The two example programs that replace servidor.py and cliente.py, run as a user runs them:
 * `node --import tsx examples/server.ts`, importing the package entry 'farol'. Inside the
 * repository tsconfig.json maps 'farol' to src/ (tsx reads that mapping; TSX_TSCONFIG_PATH
 * points it there because the programs run in a temporary folder), so no build is needed.
 */
import { it, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { runFarol, waitForExit, waitForLine } from '../support/cli.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const tsconfig = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));
const tsx = import.meta.resolve('tsx');

async function makeFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'farol-examples-'));
  assert.equal((await runFarol(['certs', 'init', '--service', 'greeter'], { cwd: dir })).code, 0);
  assert.equal((await runFarol(['users', 'add', 'alice', '--password-stdin'], { cwd: dir, stdin: 's3cret-example\n' })).code, 0);
  return dir;
}

function runExample(dir: string, file: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', tsx, join(examples, file)], {
    cwd: dir,
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig, ...env },
  });
}

async function collect(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const { code } = await waitForExit(child, 30_000);
  return { code, output };
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it('each example says what it needs in one line at the top, imports only the package entry, and uses its own service name', async () => {
  for (const file of ['server.ts', 'client.ts']) {
    const text = await readFile(join(examples, file), 'utf8');
    assert.match(text.split('\n')[0]!, /^\/\/ Needs /);
    const imports = [...text.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    assert.deepEqual(imports, ['farol']);
    assert.doesNotMatch(text, /'api'/);
    assert.match(text, /'greeter'/);
  }
});

describe('the examples with nothing listening where Consul should be', () => {
  let folder: string;
  before(async () => {
    folder = await makeFolder();
  });
  after(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  for (const file of ['server.ts', 'client.ts']) {
    it(`${file} fails with one line and a hint, no stack trace`, async () => {
      const env = { CONSUL_HTTP_ADDR: `127.0.0.1:${await closedPort()}`, PORT: '0', FAROL_PASSWORD: 's3cret-example' };
      const { code, output } = await collect(runExample(folder, file, env));
      assert.equal(code, 1);
      assert.match(output, /^(server|client): Consul is not reachable at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)\nhint: start a Consul agent .+\n$/);
    });
  }
});

let dir: string;
describeWithConsul('the examples: server.ts and client.ts', (getAgent) => {
  let server: ChildProcess | undefined;

  after(async () => {
    server?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('the server registers itself as greeter; the client finds it through Consul and gets its greeting', async () => {
    const env = { CONSUL_HTTP_ADDR: getAgent().address, PORT: '0' };
    server = runExample(dir, 'server.ts', env);
    const [, instanceId] = await waitForLine(server, /serving greeter as (\S+) at https:/, 30_000);
    const deadline = Date.now() + 20_000;
    let run: { code: number | null; output: string };
    for (;;) {
      run = await collect(runExample(dir, 'client.ts', { ...env, FAROL_PASSWORD: 's3cret-example' }));
      if (run.code === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.match(run.output, new RegExp(`^200 from ${instanceId}: .*olá, alice`, 'm'));
    server.kill('SIGTERM');
    assert.equal((await waitForExit(server)).code, 0);
  });
}, async () => {
  // The agent checks the service's /health over HTTPS, verifying it against the example's CA.
  dir = await makeFolder();
  return { caFile: join(dir, 'certs', 'ca.pem') };
});
