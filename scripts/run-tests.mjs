#!/usr/bin/env node
// Finds every test file under test/ and runs them with Node's own test runner through tsx.
// Node 20's runner does not discover *.test.ts by itself, hence this small script.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const slowDirs = ['integration', 'conformance', 'chaos'];

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (unitOnly && slowDirs.includes(entry)) continue;
      out.push(...find(path));
    } else if (entry.endsWith('.test.ts')) {
      out.push(path);
    }
  }
  return out;
}

const files = args.filter((a) => !a.startsWith('--'));
const selected = files.length > 0 ? files : find('test');
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...selected],
  { stdio: 'inherit', env: process.env },
);
process.exit(result.status ?? 1);
