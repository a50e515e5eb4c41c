#!/usr/bin/env node
// Runs every test file under test/ with Node's own test runner through tsx.
// Node's runner finds *.test.ts by itself only when Node strips the types (not through tsx), and --unit
// needs a list anyway, hence this small script.
// Before the real-Consul suites it builds Consul from tools/consul (once; cached by go.sum hash).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const realConsulDirs = ['integration', 'conformance', 'chaos'];

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (unitOnly && realConsulDirs.includes(entry)) continue;
      out.push(...find(path));
    } else if (entry.endsWith('.test.ts')) {
      out.push(path);
    }
  }
  return out;
}

function loud(lines) {
  const bar = '!'.repeat(78);
  console.error([bar, ...lines.map((l) => `!! ${l}`), bar].join('\n'));
}

/** Makes sure a real Consul binary is available and exported as CONSUL_BIN. */
function ensureConsul(env) {
  if (env.CONSUL_BIN) return;
  const build = spawnSync('bash', ['scripts/build-consul.sh'], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const path = build.stdout?.toString().trim();
  if (build.status === 0 && path) {
    env.CONSUL_BIN = path;
    return;
  }
  const reason =
    build.status === 3
      ? 'Go is not installed, so the real Consul agent for the integration tests cannot be built.'
      : `Building Consul failed (scripts/build-consul.sh exited ${build.status}).`;
  if (env.CI === 'true') {
    loud([reason, 'In CI a missing Consul is a failure.']);
    process.exit(1);
  }
  loud([reason, 'The real-Consul suites will be SKIPPED.', 'Install Go 1.21+ (e.g. apt-get install golang, or from go.dev), then run npm test again.']);
}

const files = args.filter((a) => !a.startsWith('--'));
const selected = files.length > 0 ? files : find('test');
const env = { ...process.env };
if (!unitOnly && selected.some((f) => realConsulDirs.some((d) => f.includes(`${d}/`)) || f.includes('consul'))) ensureConsul(env);

// Two files at a time: most integration files spend their time waiting (for Consul, checks, drains,
// a quorum to come back), so two share the machine's cores well; FAROL_TEST_CONCURRENCY=1 runs them
// one by one.
const concurrency = Number(env.FAROL_TEST_CONCURRENCY ?? 2);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 2}`, '--test-reporter=spec', ...selected],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
