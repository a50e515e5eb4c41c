/**
 * Every shell command in README.md's code blocks is run by a test. The step-by-step ones run
 * here, in README order, in a temporary folder, against the embedded registry; each of the
 * others is listed in `runElsewhere` with the test (or CI script) that runs it, and that file
 * must contain it. A README command in neither place fails this test.
 *
 * Commands run as written, with these rewrites only, because tests never use fixed ports and
 * bind to loopback: `--port 4443` and `--metrics-port 9464` become 0, a `farol serve` or
 * `farol registry` without --port gets `--port 0`, `--metrics-bind 0.0.0.0` becomes 127.0.0.1.
 * Placeholders: `FAROL_PASSWORD=...` and `"$PASSWORD"` are alice's password, and a password
 * prompt is answered with it, as a user at the terminal would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import { startRegistry, type RunningRegistry } from '../src/registry/index.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const PASSWORD = 'readme-walkthrough-password';

/** The commands of the README's shell code blocks: comments and output lines dropped, continuation lines joined. */
export function readmeCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const [, body] of markdown.matchAll(/```(?:bash|sh|shell|console)\n([\s\S]*?)```/g)) {
    let pending = '';
    for (const raw of body!.split('\n')) {
      const line = raw.trim();
      if (pending === '' && (line === '' || line.startsWith('#'))) continue;
      const joined = pending === '' ? line : `${pending} ${line}`;
      if (line.endsWith('\\')) {
        pending = joined.slice(0, -1).trimEnd();
        continue;
      }
      pending = '';
      commands.push(joined.replace(/\s+#\s.*$/, '').trim());
    }
  }
  return commands;
}

/** The README commands this file does not run, with the file that runs each and what that file must contain. */
const runElsewhere: Record<string, { file: string; contains: string[]; why: string }> = {
  'npm install && npm start': { file: 'test/integration/cli/demo.test.ts', contains: ["'demo', '--once'"], why: 'npm start is farol demo (package.json); it runs until Ctrl-C, so the test runs it with --once' },
  'npx farol certs init --service greeter && npx farol users add alice': { file: 'test/integration/examples.test.ts', contains: ["['certs', 'init', '--service', service]", "makeFolder('greeter')", "['users', 'add', 'alice', '--password-stdin']"], why: 'the examples\' own folder (the password from stdin instead of the prompt)' },
  'npx farol registry --ca certs/ca.pem &': { file: 'test/integration/examples.test.ts', contains: ["caFile: join(dir, 'certs', 'ca.pem')"], why: 'the examples test runs a real Consul agent that trusts the CA (farol registry --ca itself runs above)' },
  'node --import tsx examples/server.ts': { file: 'test/integration/examples.test.ts', contains: ["runExample(greeterDir, 'server.ts'"], why: 'runs until a signal, against a real Consul' },
  'FAROL_PASSWORD=... node --import tsx examples/client.ts': { file: 'test/integration/examples.test.ts', contains: ["runExample(greeterDir, 'client.ts'"], why: 'needs the server above' },
  'npm install farol': { file: 'test/package/pack.test.ts', contains: ["'npm install of the tarball'"], why: 'the package is not on a registry: the test packs the repository and installs the tarball into an empty project' },
  'PATH="$(bash scripts/ensure-node.sh 22):$PATH" npm run test:unit': { file: '.ci/run', contains: ['scripts/ensure-node.sh', 'run 22 "unit suite (test:unit)" npm run test:unit'], why: 'CI runs the unit suite on Node 22 (and 26) this way' },
  'npm test': { file: '.ci/run', contains: ['npm test'], why: 'the whole suite, which CI runs' },
  'farol instances api --watch': { file: 'test/integration/cli/instances.test.ts', contains: ["'instances', 'shop', '--watch'"], why: 'it runs until a signal, which would stop the server it watches here too' },
  'FAROL_PASSWORD=$(openssl rand -hex 12) docker compose up --build -d': { file: 'scripts/container-check.sh', contains: ['podman build', 'up -d'], why: 'needs root and podman: test/integration/containers.test.ts runs the script' },
  'docker compose logs client': { file: 'scripts/container-check.sh', contains: ['podman logs', '200 OK'], why: 'the script reads the client container\'s log for its 200 OK' },
  'docker compose logs api1': { file: 'scripts/container-check.sh', contains: ['podman logs --tail 60'], why: 'the script prints every container\'s log on failure' },
  'docker compose down -v': { file: 'scripts/container-check.sh', contains: ['down -v'], why: 'the script removes containers, volumes and network' },
};

interface Parsed {
  env: Record<string, string>;
  stdin?: string;
  argv: string[];
}

/** Splits a README command the way sh would, for the few forms the README uses; anything else throws. */
function parse(command: string): Parsed {
  const env: Record<string, string> = { PASSWORD };
  let rest = command;
  let stdin: string | undefined;
  const pipe = /^printf '%s\\n' "\$(\w+)" \| (.+)$/.exec(command);
  if (pipe) {
    stdin = `${env[pipe[1]!] ?? ''}\n`;
    rest = pipe[2]!;
  }
  const words: string[] = [];
  for (const [, single, double, bare] of rest.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) {
    const word = single ?? (double ?? bare!).replace(/\$(\w+)/g, (_, name: string) => env[name] ?? '');
    assert.doesNotMatch(bare ?? '', /[|&;<>()$`]/, `no shell syntax this test runs: ${command}`);
    words.push(word);
  }
  while (/^[A-Z_]+=/.test(words[0] ?? '')) {
    const [name, ...value] = words.shift()!.split('=');
    env[name!] = value.join('=') === '...' ? PASSWORD : value.join('=');
  }
  assert.equal(words.shift(), 'farol', `runs farol: ${command}`);
  return { env, ...(stdin === undefined ? {} : { stdin }), argv: words };
}

/** Tests never use fixed ports and bind to loopback only. */
function forTests(argv: string[]): string[] {
  const out = argv.map((word, i) => {
    if (argv[i - 1] === '--port' && word === '4443') return '0';
    if (argv[i - 1] === '--metrics-port' && word === '9464') return '0';
    if (argv[i - 1] === '--metrics-bind' && word === '0.0.0.0') return '127.0.0.1';
    return word;
  });
  if ((out[0] === 'serve' || out[0] === 'registry') && !out.includes('--port')) out.push('--port', '0');
  return out;
}

interface Run {
  done: Promise<number>;
  stdout: () => string;
  stderr: () => string;
}

let consulAddress = '';

/** Runs a README command in this process, answering password prompts with alice's password. */
function run(command: string): Run {
  const { env, stdin, argv } = parse(command);
  let stdout = '';
  let stderr = '';
  const terminal = new PassThrough();
  const done = main(['node', 'farol', ...forTests(argv)], {
    stdout: (text) => void (stdout += text),
    stderr: (text) => {
      stderr += text;
      if (/: $/.test(text)) setImmediate(() => terminal.write(`${PASSWORD}\r`));
    },
    stdin: stdin === undefined ? terminal : Readable.from([stdin]),
    env: { CONSUL_HTTP_ADDR: consulAddress, ...env },
    isTTY: stdin === undefined,
  });
  return { done, stdout: () => stdout, stderr: () => stderr };
}

async function runs(command: string): Promise<{ stdout: string; stderr: string }> {
  const r = run(command);
  const code = await r.done;
  assert.equal(code, 0, `${command}\n${r.stdout()}${r.stderr()}`);
  return { stdout: r.stdout(), stderr: r.stderr() };
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs a command that serves until SIGTERM: waits for its ready line, does `meanwhile`, then stops it (exit 0). */
async function whileRunning(command: string, ready: RegExp, meanwhile: (r: Run) => Promise<void> = async () => undefined): Promise<void> {
  const r = run(command);
  let exited: number | undefined;
  void r.done.then((code) => (exited = code));
  await until(`${ready} from ${command} (exited ${exited}): ${r.stderr()}`, () => exited === undefined && ready.test(r.stdout()));
  try {
    await meanwhile(r);
  } finally {
    process.emit('SIGTERM');
  }
  assert.equal(await r.done, 0, `${command}\n${r.stdout()}${r.stderr()}`);
}

async function passing(registry: RunningRegistry, service: string): Promise<boolean> {
  const entries = (await (await fetch(`${registry.httpAddr}/v1/health/service/${service}?passing`)).json()) as unknown[];
  return entries.length > 0;
}

const ran = new Set<string>();
/** A README command, run by the test that names it; the README must hold it as written. */
function step(command: string, fn: () => Promise<void>): void {
  it(command, async () => {
    assert.ok(readmeCommands(readme).includes(command), `the README has no command \`${command}\` (changed? update this test)`);
    await fn();
  });
  ran.add(command);
}

describe('README.md, step by step, as written', { concurrency: 1 }, () => {
  const cwd = process.cwd();
  let dir: string;
  let registry: RunningRegistry | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-readme-'));
    process.chdir(dir);
  });
  after(async () => {
    process.chdir(cwd);
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  step('farol --help', async () => {
    assert.match((await runs('farol --help')).stdout, /^ {2}instances \[options\] <service>/m);
  });
  step('farol --version', async () => {
    const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
    assert.equal((await runs('farol --version')).stdout, `${version}\n`);
  });

  step('farol certs init --dir certs --service api', async () => {
    await runs('farol certs init --dir certs --service api');
    for (const file of ['ca.pem', 'ca-key.pem', 'cert.pem', 'key.pem']) assert.ok(existsSync(join('certs', file)), file);
  });
  step('farol certs issue --dir certs --host api1 --service api --out certs/api1', async () => {
    await runs('farol certs issue --dir certs --host api1 --service api --out certs/api1');
    assert.ok(existsSync('certs/api1/cert.pem'));
  });
  step('farol certs issue --dir certs --client bob', async () => {
    await runs('farol certs issue --dir certs --client bob');
    assert.ok(existsSync('certs/client-bob.pem'));
  });
  step('farol certs issue --dir certs --host web1 --name web1', async () => {
    await runs('farol certs issue --dir certs --host web1 --name web1');
    assert.ok(existsSync('certs/web1.pem'));
  });
  step('farol certs show certs/cert.pem certs/ca.pem', async () => {
    const { stdout } = await runs('farol certs show certs/cert.pem certs/ca.pem');
    assert.match(stdout, /^certs\/cert\.pem\n {2}subject +CN=api$/m);
    assert.match(stdout, /DNS:api\.service\.consul/);
  });

  step('farol users add alice --file users.txt', async () => {
    assert.match((await runs('farol users add alice --file users.txt')).stderr, /Password for alice: \nRepeat the password: \n/);
  });
  step('printf \'%s\\n\' "$PASSWORD" | farol users add alice --password-stdin', async () => {
    await runs('printf \'%s\\n\' "$PASSWORD" | farol users add alice --password-stdin');
  });
  step('farol users remove alice', async () => {
    await runs('farol users remove alice');
  });
  step('farol users list --file users.txt', async () => {
    assert.doesNotMatch((await runs('farol users list --file users.txt')).stdout, /alice/);
    // Not in the README: alice back, for the steps that call as alice.
    await runs('printf \'%s\\n\' "$PASSWORD" | farol users add alice --password-stdin');
  });

  step('farol registry --ca certs/ca.pem', async () => {
    await whileRunning('farol registry --ca certs/ca.pem', /registry listening at (\S+)/, async (r) => {
      const httpAddr = /registry listening at (\S+)/.exec(r.stdout())![1]!;
      assert.equal((await fetch(`${httpAddr}/v1/status/leader`)).status, 200);
    });
  });
  step('FAROL_REGISTRY_TOKEN=s3cret farol registry', async () => {
    await whileRunning('FAROL_REGISTRY_TOKEN=s3cret farol registry', /ACL on/, async (r) => {
      const httpAddr = /registry listening at (\S+)/.exec(r.stdout())![1]!;
      assert.equal((await fetch(`${httpAddr}/v1/kv/greeting`)).status, 403);
      assert.equal((await fetch(`${httpAddr}/v1/kv/greeting`, { headers: { 'X-Consul-Token': 's3cret' } })).status, 404);
    });
  });

  const serveApi = 'farol serve --service api --port 4443 --certs certs --users users.txt --tag v1 --meta team=platform';
  const callApi = 'FAROL_PASSWORD=... farol call api / --user alice --ca certs/ca.pem';
  const repeat = 'farol call api / --user alice --repeat 1000 --concurrency 8';
  const instances = 'farol instances api';
  // Run while the server above runs.
  for (const command of [callApi, repeat, instances]) ran.add(command);
  step(serveApi, async () => {
    // The services run against a registry of the test's own, which verifies their HTTPS checks with the CA.
    registry = await startRegistry({ port: 0, caFile: 'certs/ca.pem' });
    consulAddress = registry.address;
    await whileRunning(serveApi, /^farol: serving api instance (\S+) at https:\/\/127\.0\.0\.1:\d+ \(registered in Consul/m, async (r) => {
      const instance = /serving api instance (\S+)/.exec(r.stdout())![1]!;
      await until('api passing in the registry', () => passing(registry!, 'api'));
      const call = await runs(callApi);
      assert.match(call.stderr, new RegExp(`^200 OK from ${instance} at 127\\.0\\.0\\.1:\\d+ in \\d+ ms$`, 'm'));
      assert.equal((JSON.parse(call.stdout) as { service: string }).service, 'api');
      const many = await runs(repeat);
      assert.match(many.stdout, /^1000 requests in .+, 0 failed/m);
      assert.match((await runs(instances)).stdout, /^service api: 1 instance, 1 called by a client, 0 skipped\n/);
    });
  });

  step('farol certs show certs/cert.pem', async () => {
    assert.match((await runs('farol certs show certs/cert.pem')).stdout, /days left/);
  });
  step('farol certs renew --dir certs --dry-run', async () => {
    await runs('farol certs renew --dir certs --dry-run');
  });
  step('farol certs renew --dir certs --leaf-dir certs/api1 --within 30d', async () => {
    await runs('farol certs renew --dir certs --leaf-dir certs/api1 --within 30d');
  });

  const jwtServe = 'farol serve --service orders --certs certs --jwks-url https://idp.example/jwks --issuer https://idp.example --audience https://orders.service.consul --require-scope orders:read';
  step(jwtServe, async () => {
    // Keys are fetched for the first token to verify; with no caller, nothing goes to idp.example.
    await whileRunning(jwtServe, /^farol: serving orders instance /m);
  });

  step('farol certs issue --dir certs --client alice', async () => {
    await runs('farol certs issue --dir certs --client alice');
  });
  const serveMtls = 'farol serve --service payments --certs certs --client-ca certs/ca.pem --allow spiffe://farol.local/client/alice';
  const callMtls = 'farol call payments / --cert certs/client-alice.pem --key certs/client-alice-key.pem';
  ran.add(callMtls);
  step(serveMtls, async () => {
    await whileRunning(serveMtls, /answers without a client certificate/, async () => {
      await until('payments passing in the registry', () => passing(registry!, 'payments'));
      const call = await runs(callMtls);
      assert.match(call.stdout, /spiffe:\/\/farol\.local\/client\/alice/);
    });
  });

  for (const command of ['farol serve --service orders --port 0 --metrics-port 9464', 'farol serve --service orders --metrics-port 9464 --metrics-bind 0.0.0.0']) {
    step(command, async () => {
      await whileRunning(command, /^farol: serving orders instance /m, async (r) => {
        const url = /^farol: metrics at (\S+)/m.exec(r.stdout())![1]!;
        const response = await fetch(url);
        assert.equal(response.status, 200);
        assert.match(await response.text(), /^farol_build_info\{/m);
      });
    });
  }
});

describe('every shell command in README.md is run by a test', () => {
  const commands = readmeCommands(readme);

  it('finds the commands of every shell block, continuation lines joined', () => {
    assert.ok(commands.length >= 25, `${commands.length} commands`);
    assert.ok(commands.includes(`farol serve --service orders --certs certs --jwks-url https://idp.example/jwks --issuer https://idp.example --audience https://orders.service.consul --require-scope orders:read`));
  });

  it('each one is run above or named in runElsewhere', () => {
    // `ran` is filled as the walkthrough's steps are declared, before any test runs.
    const orphans = commands.filter((command) => !ran.has(command) && !(command in runElsewhere));
    assert.deepEqual(orphans, [], 'README commands no test runs: run them in test/readme.test.ts or map them in runElsewhere');
    const gone = [...ran, ...Object.keys(runElsewhere)].filter((command) => !commands.includes(command));
    assert.deepEqual(gone, [], 'this test names commands the README no longer has');
  });

  for (const [command, { file, contains }] of Object.entries(runElsewhere)) {
    it(`${command}: run by ${file}`, () => {
      const text = readFileSync(join(repo, file), 'utf8');
      for (const fragment of contains) assert.ok(text.includes(fragment), `${file} does not contain ${fragment}`);
    });
  }

  it('npm start is farol demo', () => {
    const { scripts } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(scripts.start, 'node bin/farol.js demo');
  });
});
