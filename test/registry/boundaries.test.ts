import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const REGISTRY = join(SRC, 'registry');
/** design.md: the registry imports consul-wire, log, errors and timers, never client, service or consul. */
const ALLOWED = ['registry', 'consul-wire', 'log', 'errors.ts', 'timers'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('the registry\'s boundaries', () => {
  it('imports only consul-wire, log, errors and timers from the rest of src/', () => {
    const files = sources(REGISTRY);
    assert.ok(files.length > 10, 'the registry\'s sources are found');
    const outside: string[] = [];
    for (const file of files) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = relative(SRC, resolve(dirname(file), specifier as string));
        const top = target.split(/[\\/]/)[0] ?? '';
        if (!ALLOWED.includes(top.replace(/\.js$/, '.ts'))) outside.push(`${relative(SRC, file)} → ${target}`);
      }
    }
    assert.deepEqual(outside, []);
  });
});
