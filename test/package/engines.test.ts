import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

// The Node lines Farol supports are the ones in support upstream; .ci/run tests each of them.
const SUPPORTED_LINES = [22, 24, 26];

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const readJson = <T>(path: string): T => JSON.parse(readFileSync(resolve(repo, path), 'utf8')) as T;
const engines = readJson<{ engines: { node: string } }>('package.json').engines.node;
const lock = readJson<{ packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> }>('package-lock.json');

/** Every locked package that says which Node it needs, with that range. */
const lockedRanges = Object.entries(lock.packages).flatMap(([path, entry]) => {
  const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
  return path === '' || range === undefined ? [] : [{ name: `${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'}`, range }];
});

/** The lowest version of Node LINE that the engines range admits. */
function lowestAdmitted(line: number): string | undefined {
  const inLine = new semver.Range(engines).set
    .map((comparators) => semver.minVersion(`${comparators.map((c) => c.value).join(' ')} >=${line}.0.0 <${line + 1}.0.0`))
    .filter((version) => version !== null);
  return inLine.sort(semver.compare)[0]?.version;
}

describe("package.json's engines", () => {
  it('admits every supported line from its lowest version the dependencies accept, and nothing older or out of support', () => {
    assert.ok(semver.validRange(engines), engines);
    const floor = semver.minVersion(engines);
    assert.ok(floor !== null && semver.major(floor) === SUPPORTED_LINES[0], `lowest admitted version: ${floor?.version}`);
    for (const line of SUPPORTED_LINES) assert.ok(semver.intersects(engines, `^${line}.0.0`), `Node ${line} is not admitted by ${engines}`);
    for (const version of ['18.20.0', '20.19.0', '21.7.0', '22.0.0', '23.11.0']) assert.ok(!semver.satisfies(version, engines), `${version} is admitted by ${engines}`);
  });

  it('is what every locked dependency accepts: no EBADENGINE warning from the lowest admitted version of each supported line on', () => {
    assert.ok(lockedRanges.length > 50, 'the lock file lists dependency engines');
    for (const line of SUPPORTED_LINES) {
      const lowest = lowestAdmitted(line);
      assert.ok(lowest !== undefined, `no version of Node ${line} is admitted by ${engines}`);
      // Ranges are unions of intervals with no holes inside one line, so the lowest admitted version stands for the line.
      assert.deepEqual(lockedRanges.filter(({ range }) => !semver.satisfies(lowest, range)), [], `Node ${lowest} is admitted by ${engines}`);
    }
  });

  it('admits the Node running this test', () => {
    assert.ok(semver.satisfies(process.version, engines), `${process.version} is not admitted by ${engines}`);
  });
});
