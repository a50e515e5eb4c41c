import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { consumerPackageJson, consumerProgram, consumerTsconfig } from './consumer.js';

// What a team gets from `npm install farol`: the repository is packed the way `npm publish` packs it,
// the tarball installed into an empty project, and a strict TypeScript program built and run against it.
// The build and pack happen in a copy of the working tree, so the repository's own dist/ is never
// rebuilt under tests running in parallel (some run bin/farol.js).

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after timeoutMs), without npm's own variables from an enclosing `npm test`. */
function run(command: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolveRun({ status, stdout, stderr }));
  });
}

function ok(result: Run, what: string): Run {
  assert.equal(result.status, 0, `${what} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The working tree as a clean clone plus local changes would have it: tracked and untracked files, nothing ignored. */
async function copyWorkingTree(to: string): Promise<void> {
  const listed = ok(await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], repo), 'git ls-files');
  for (const path of listed.stdout.split('\0')) {
    if (path === '' || !existsSync(join(repo, path))) continue;
    mkdirSync(dirname(join(to, path)), { recursive: true });
    cpSync(join(repo, path), join(to, path));
  }
  symlinkSync(join(repo, 'node_modules'), join(to, 'node_modules'), 'dir');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('the npm package, packed and installed into an empty project', { timeout: 900_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'farol-pack-'));
  const stage = join(work, 'stage');
  const project = join(work, 'project');
  const installed = join(project, 'node_modules', 'farol');
  let shipped: string[] = [];
  let install: Run;
  const typesNode = (JSON.parse(readFileSync(join(repo, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;

  before(async () => {
    let mark = performance.now();
    const step = (what: string): void => {
      console.log(`# package: ${what} in ${Math.round(performance.now() - mark)} ms`);
      mark = performance.now();
    };
    await copyWorkingTree(stage);
    step('copy of the working tree');
    ok(await run('npm', ['run', 'build'], stage), 'npm run build');
    step('npm run build');
    const packed = ok(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], stage), 'npm pack');
    step('npm pack');
    const [report] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    shipped = report.files.map((file) => file.path).sort();

    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify(consumerPackageJson(join(work, report.filename)), null, 2));
    // The user's npm cache, filled by the repository's own install: warm, this needs no network.
    install = ok(
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `@types/node@${typesNode}`], project),
      'npm install of the tarball',
    );
    step('npm install of the tarball');
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('ships the LICENSE, the README, every doc the README links to, the bin and the compiled library', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const linkedDocs = [...readme.matchAll(/\]\((docs\/[^)#\s]+\.md)[)#]/g)].map((match) => match[1] as string);
    assert.ok(linkedDocs.length > 0, 'the README links to docs/');
    const docs = readdirSync(join(repo, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
    for (const path of ['LICENSE', 'README.md', 'package.json', 'bin/farol.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/entry.js', ...linkedDocs, ...docs]) {
      assert.ok(shipped.includes(path), `${path} is not in the package`);
    }
    assert.ok(shipped.some((path) => path.startsWith('dist/src/registry/ui/static/')), "the registry web UI's static files are not in the package");
  });

  it('ships no sources, source maps, tests or tooling: nothing a map could point at is missing', () => {
    const allowed = /^(LICENSE|README\.md|package\.json|bin\/[^/]+\.js|docs\/[^/]+\.md|dist\/src\/.+)$/;
    assert.deepEqual(shipped.filter((path) => !allowed.test(path)), []);
    assert.deepEqual(shipped.filter((path) => path.endsWith('.map') || (path.endsWith('.ts') && !path.endsWith('.d.ts'))), []);
    const withMapComments = filesUnder(join(installed, 'dist')).filter((file) => /\.[jt]s$/.test(file) && readFileSync(file, 'utf8').includes('sourceMappingURL'));
    assert.deepEqual(withMapComments, []);
  });

  it('installs without an engines warning on this Node, and none of its dependencies has an install script to run', () => {
    assert.doesNotMatch(install.stderr, /EBADENGINE/, install.stderr);
    assert.doesNotMatch(install.stderr, /install-scripts/, install.stderr);
  });

  it("type-checks a strict TypeScript program against the package's types, then runs it: startRegistry, a registration listed, a typed FarolError", async () => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(consumerTsconfig, null, 2));
    writeFileSync(join(project, 'main.ts'), consumerProgram);
    const start = performance.now();
    ok(await run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project), 'tsc');
    console.log(`# package: tsc of the strict program in ${Math.round(performance.now() - start)} ms`);

    const program = ok(await run(process.execPath, ['out/main.js'], project, 120_000), 'the program (it must end by itself once it closed everything)');
    const printed = JSON.parse(program.stdout) as { registry: string; listed: string[]; callError: string; createService: string };
    assert.match(printed.registry, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(printed.listed, ['orders-1']);
    assert.equal(printed.callError, 'NO_HEALTHY_INSTANCE');
    assert.equal(printed.createService, 'function');
    assert.equal(program.stderr, '');
  });

  it('installs the farol command: --help lists its commands', async () => {
    const help = ok(await run(join(project, 'node_modules/.bin/farol'), ['--help'], project, 120_000), 'farol --help');
    assert.match(help.stdout, /Usage: farol/);
    for (const command of ['certs', 'users', 'serve', 'call', 'registry', 'demo']) assert.match(help.stdout, new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it('installs the farol command: --version prints the installed version', async () => {
    const { version } = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { version: string };
    const printed = ok(await run(join(project, 'node_modules/.bin/farol'), ['--version'], project, 120_000), 'farol --version');
    assert.equal(printed.stdout.trim(), version);
  });
});
