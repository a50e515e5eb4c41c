/**
 * npm run bench:profile -- <dir> [--top N] — sums up the profiles `npm run bench -- --profile <dir>`
 * wrote (one folder per process: *.cpuprofile from --cpu-prof; for load generators, a
 * .heapprofile of every allocation of the first measured slice, garbage included):
 * for each process, where its CPU time went (self time by package or Farol folder, then by
 * function) and where its sampled allocations were made (bytes by the same groups and functions).
 * --after S leaves out each CPU profile's first S seconds (start-up: tsx compiling TypeScript).
 * The loader threads tsx starts write profiles of their own; only each folder's largest profile
 * of each kind (the main thread's) is read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './fixtures/harness.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string' }, after: { type: 'string' } }, allowPositionals: true, strict: true });
const TOP = Number(values.top ?? 15);
/** CPU samples of a process's first seconds (its start-up: tsx compiling TypeScript, modules loading) are left out. */
const AFTER_US = Number(values.after ?? 0) * 1e6;
const dir = positionals[0];
if (dir === undefined) {
  console.error('usage: npm run bench:profile -- <dir written by npm run bench -- --profile <dir>> [--top N] [--after SECONDS]');
  process.exit(2);
}

/** node_modules/<package>, src/<folder>, node:internal, or the script's own file. */
function groupOf(url: string): string {
  if (url === '') return '(native / V8)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return 'node (internals)';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const inRepo = relative(REPO_ROOT, path);
  const folder = /^src\/([^/]+)/.exec(inRepo);
  if (folder) return `farol src/${folder[1]}`;
  return inRepo.startsWith('..') ? path : inRepo;
}

const label = (frame: CallFrame): string => {
  const path = frame.url.startsWith('file://') ? relative(REPO_ROOT, new URL(frame.url).pathname) : frame.url;
  return `${frame.functionName || '(anonymous)'} ${path.replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
};

function top(map: Map<string, number>, total: number, unit: (value: number) => string): string[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([key, value]) => `  ${((value / total) * 100).toFixed(1).padStart(5)}%  ${unit(value).padStart(10)}  ${key}`);
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function cpu(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  let elapsedUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    elapsedUs += us;
    if (!node || node.callFrame.functionName === '(idle)' || elapsedUs < AFTER_US) return;
    total += us;
    add(groups, groupOf(node.callFrame.url), us);
    add(functions, label(node.callFrame), us);
  });
  const ms = (us: number): string => `${(us / 1000).toFixed(0)} ms`;
  console.log(`  CPU (self time, idle excluded${AFTER_US > 0 ? `, after the first ${AFTER_US / 1e6} s` : ''}): ${ms(total)}`);
  console.log(top(groups, total, ms).join('\n'));
  console.log('  by function:');
  console.log(top(functions, total, ms).join('\n'));
}

function heap(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode): void => {
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(groups, groupOf(node.callFrame.url), node.selfSize);
      add(functions, label(node.callFrame), node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const mbText = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  console.log(`  allocations sampled (${relative(dir!, file)}): ${mbText(total)}`);
  console.log(top(groups, total, mbText).join('\n'));
  console.log('  by function:');
  console.log(top(functions, total, mbText).join('\n'));
}

function largest(folder: string, suffix: string): string | undefined {
  return readdirSync(folder)
    .filter((name) => name.endsWith(suffix))
    .map((name) => join(folder, name))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

for (const entry of readdirSync(dir).sort()) {
  const folder = join(dir, entry);
  if (!statSync(folder).isDirectory()) continue;
  console.log(`\n## ${entry}`);
  const cpuFile = largest(folder, '.cpuprofile');
  const heapFile = largest(folder, '.heapprofile');
  if (cpuFile) cpu(cpuFile);
  if (heapFile) heap(heapFile);
  if (!cpuFile && !heapFile) console.log('  (no profile: the process did not exit normally)');
}
