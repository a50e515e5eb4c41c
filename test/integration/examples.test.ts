/**
 * The example programs, run as a user runs them: `node --import tsx examples/<file>.ts`, importing
 * the package entry 'farol'. Inside the repository tsconfig.json maps 'farol' to src/ (tsx reads
 * that mapping; TSX_TSCONFIG_PATH points it there because the programs run in a temporary
 * folder), so no build is needed.
 *
 * server.ts and client.ts are the original project's server and client (service `greeter`);
 * fastify-app.ts is an existing fastify app migrated with `app.register(farolPlugin)` and
 * fetch-client.ts calls it with plain `fetch` and the client's dispatcher (service `orders`).
 */
import { it, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type RunningRegistry } from '../../src/registry/index.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { eventually } from '../support/consul-health.js';
import { runFarol, waitForExit, waitForLine } from '../support/cli.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const tsconfig = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));
const tsx = import.meta.resolve('tsx');
const PASSWORD = 's3cret-example';

/**
 * A folder as each example's first line asks for: `farol certs init --service <service>` and
 * `farol users add alice`. With `caFrom`, that folder's CA signs the certificate (one CA that a
 * Consul agent trusts for the HTTPS checks of both services).
 */
async function makeFolder(service: string, caFrom?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `farol-examples-${service}-`));
  if (caFrom !== undefined) {
    await mkdir(join(dir, 'certs'));
    for (const file of ['ca.pem', 'ca-key.pem']) await copyFile(join(caFrom, 'certs', file), join(dir, 'certs', file));
  }
  assert.equal((await runFarol(['certs', 'init', '--service', service], { cwd: dir })).code, 0);
  assert.equal((await runFarol(['users', 'add', 'alice', '--password-stdin'], { cwd: dir, stdin: `${PASSWORD}\n` })).code, 0);
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

/** The ids of a service's instances in Consul (`?passing`: only those passing), as Consul's API answers. */
async function instanceIds(httpAddr: string, service: string, passingOnly: boolean): Promise<string[]> {
  const response = await fetch(`${httpAddr}/v1/health/service/${service}${passingOnly ? '?passing' : ''}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { Service: { ID: string } }[]).map((entry) => entry.Service.ID);
}

/** The code blocks of a README section, in order: { lang, lines }. */
function codeBlocks(markdown: string, section: string): { lang: string; lines: string[] }[] {
  const start = markdown.indexOf(`\n## ${section}\n`);
  assert.ok(start >= 0, `README has a section "## ${section}"`);
  const end = markdown.indexOf('\n## ', start + 1);
  const text = markdown.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, lines: m[2]!.replace(/\n$/, '').split('\n') }));
}

/** The program text of an example: from its first import on (its header comment left out). */
function programLines(source: string): string[] {
  const lines = source.replace(/\n$/, '').split('\n');
  return lines.slice(lines.findIndex((line) => line.startsWith('import ')));
}

/** `import { a, b } from 'm';` → ['m', ['a', 'b']]. */
function namedImports(line: string): [string, string[]] | undefined {
  const match = /^import \{([^}]*)\} from '([^']+)';/.exec(line);
  return match ? [match[2]!, match[1]!.split(',').map((name) => name.trim())] : undefined;
}

const EXAMPLES = [
  { file: 'server.ts', service: 'greeter', imports: ['farol'], name: 'server' },
  { file: 'client.ts', service: 'greeter', imports: ['farol'], name: 'client' },
  { file: 'fastify-app.ts', service: 'orders', imports: ['node:fs', 'fastify', 'farol'], name: 'orders' },
  { file: 'fetch-client.ts', service: 'orders', imports: ['undici', 'farol'], name: 'fetch-client' },
];

it('each example says what it needs in one line at the top, imports Farol only through the package entry, and uses its own service name', async () => {
  for (const { file, service, imports } of EXAMPLES) {
    const text = await readFile(join(examples, file), 'utf8');
    assert.match(text.split('\n')[0]!, /^\/\/ Needs /, file);
    assert.deepEqual([...text.matchAll(/^import .* from '([^']+)';/gm)].map((m) => m[1]), imports, file);
    assert.doesNotMatch(text, /'api'|\.\.\/src\//, file);
    assert.match(text, new RegExp(`'${service}'|${service}\\.service\\.consul`), file);
  }
});

it('no example uses a deprecated option shape', async () => {
  for (const { file } of EXAMPLES) {
    const text = await readFile(join(examples, file), 'utf8');
    // Flat client options from before the groups (tls, retry, discovery), and the old certificate shape.
    assert.doesNotMatch(text, /caFile|retryBudget|retryNonIdempotent|clientCertificate: \{ cert[,:]/, file);
  }
});

describe("the README's library section shows the examples as they are", () => {
  it('its fastify diff is fastify-app.ts line for line: the context and + lines make the file, the context and - lines the app before Farol', async () => {
    const diff = codeBlocks(await readFile(readme, 'utf8'), 'The library').find((block) => block.lang === 'diff');
    assert.ok(diff, 'a ```diff block');
    const after = diff.lines.filter((line) => !line.startsWith('-')).map((line) => line.slice(1));
    const before = diff.lines.filter((line) => !line.startsWith('+')).map((line) => line.slice(1));
    assert.deepEqual(after, programLines(await readFile(join(examples, 'fastify-app.ts'), 'utf8')));
    assert.ok(before.every((line) => !/farol/i.test(line)), 'the app before the migration does not know Farol');
    assert.ok(diff.lines.filter((line) => line.startsWith('+')).length >= 5);
  });

  it('its fetch snippet is fetch-client.ts: each statement appears in the file in order, and each name it imports the file imports', async () => {
    const snippet = codeBlocks(await readFile(readme, 'utf8'), 'The library').find((block) => block.lines.some((line) => line.includes('dispatcher: client.dispatcher')));
    assert.ok(snippet, 'a code block that passes dispatcher: client.dispatcher');
    const file = programLines(await readFile(join(examples, 'fetch-client.ts'), 'utf8'));
    const fileImports = new Map(file.map(namedImports).filter((entry) => entry !== undefined));
    let at = 0;
    for (const line of snippet.lines.filter((l) => l.trim() !== '')) {
      const imported = namedImports(line);
      if (imported !== undefined) {
        const [from, names] = imported;
        for (const name of names) assert.ok(fileImports.get(from)?.includes(name), `fetch-client.ts imports ${name} from '${from}'`);
        continue;
      }
      const found = file.findIndex((fileLine, i) => i >= at && fileLine.trim() === line.trim());
      assert.ok(found >= 0, `fetch-client.ts has, in this order: ${line.trim()}`);
      at = found + 1;
    }
  });
});

describe('the examples with nothing listening where Consul should be', () => {
  let folder: string;
  before(async () => {
    folder = await makeFolder('orders');
  });
  after(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  for (const { file, name } of EXAMPLES) {
    it(`${file} fails with one line and a hint, no stack trace`, async () => {
      const env = { CONSUL_HTTP_ADDR: `127.0.0.1:${await closedPort()}`, PORT: '0', FAROL_PASSWORD: PASSWORD };
      const { code, output } = await collect(runExample(folder, file, env));
      assert.equal(code, 1);
      assert.match(output, new RegExp(`^${name}: Consul is not reachable at 127\\.0\\.0\\.1:\\d+ \\(ECONNREFUSED\\)\\nhint: start a Consul agent .+\\n$`));
    });
  }
});

/**
 * fastify-app.ts registers `orders`; fetch-client.ts reaches it through Consul with alice's
 * credentials (and without them gets the 401 the plugin added); SIGTERM drains it out of Consul
 * and it exits 0.
 */
async function ordersThroughFetch(dir: string, consul: { address: string; httpAddr: string }): Promise<void> {
  const env = { CONSUL_HTTP_ADDR: consul.address, PORT: '0' };
  const app = runExample(dir, 'fastify-app.ts', env);
  try {
    const [, instanceId] = await waitForLine(app, /^orders: serving as (orders-[0-9a-f]+) at https:\/\/127\.0\.0\.1:\d+$/, 30_000);
    // Consul runs the HTTPS check against /health, verifying the certificate, within its 10 s interval.
    await eventually('orders passing in Consul', async () => ((await instanceIds(consul.httpAddr, 'orders', true)).includes(instanceId!) ? true : undefined), 20_000);

    const called = await collect(runExample(dir, 'fetch-client.ts', { ...env, FAROL_PASSWORD: PASSWORD }));
    assert.equal(called.code, 0, called.output);
    const answer = `200 from ${instanceId}: {"orders":[{"id":1,"item":"coffee beans","quantity":2}]}`;
    assert.equal(called.output, `${answer}\n${answer}\n`, 'through the dispatcher, then through the global one');

    const refused = await collect(runExample(dir, 'fetch-client.ts', { ...env, FAROL_PASSWORD: 'not-the-password' }));
    assert.equal(refused.code, 1);
    assert.match(refused.output, new RegExp(`^401 from ${instanceId}: .*invalid credentials`, 'm'));

    app.kill('SIGTERM');
    assert.deepEqual(await waitForExit(app, 20_000), { code: 0, signal: null });
    assert.deepEqual(await instanceIds(consul.httpAddr, 'orders', false), [], 'deregistered before it exited');
  } finally {
    app.kill('SIGKILL');
  }
}

let greeterDir: string;
let ordersDir: string;
describeWithConsul('the examples against a real Consul agent', (getAgent) => {
  let server: ChildProcess | undefined;

  after(async () => {
    server?.kill('SIGKILL');
    await rm(greeterDir, { recursive: true, force: true });
    await rm(ordersDir, { recursive: true, force: true });
  });

  it('server.ts registers itself as greeter; client.ts finds it through Consul and gets its greeting', async () => {
    const env = { CONSUL_HTTP_ADDR: getAgent().address, PORT: '0' };
    server = runExample(greeterDir, 'server.ts', env);
    const [, instanceId] = await waitForLine(server, /serving greeter as (\S+) at https:/, 30_000);
    const deadline = Date.now() + 20_000;
    let run: { code: number | null; output: string };
    for (;;) {
      run = await collect(runExample(greeterDir, 'client.ts', { ...env, FAROL_PASSWORD: PASSWORD }));
      if (run.code === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.match(run.output, new RegExp(`^200 from ${instanceId}: .*olá, alice`, 'm'));
    server.kill('SIGTERM');
    assert.equal((await waitForExit(server)).code, 0);
  });

  it('fastify-app.ts registers as orders; fetch-client.ts calls it with credentials through the dispatcher; SIGTERM drains it and it exits 0', async () => {
    await ordersThroughFetch(ordersDir, getAgent());
  });
}, async () => {
  // The agent checks each service's /health over HTTPS, verifying it against the examples' one CA.
  greeterDir = await makeFolder('greeter');
  ordersDir = await makeFolder('orders', greeterDir);
  return { caFile: join(greeterDir, 'certs', 'ca.pem') };
});

describe('fastify-app.ts and fetch-client.ts on the embedded registry (npx farol registry --ca certs/ca.pem)', () => {
  let dir: string;
  let registry: RunningRegistry;
  before(async () => {
    dir = await makeFolder('orders');
    registry = await startRegistry({ port: 0, caFile: join(dir, 'certs', 'ca.pem') });
  });
  after(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the app registers as orders, answers fetch with credentials and drains on SIGTERM', async () => {
    await ordersThroughFetch(dir, registry);
  });
});
