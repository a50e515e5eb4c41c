/** docs/registry.md's "A registry for tests" example, run as written (its 'farol' is the package entry). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitForExit } from '../support/cli.js';

const doc = new URL('../../docs/registry.md', import.meta.url);
const entry = pathToFileURL(new URL('./fixtures/farol-entry.ts', import.meta.url).pathname).href;

/** The first ```ts block after a heading. */
export function codeBlockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `no heading "${heading}"`);
  const block = /```ts\n([\s\S]*?)```/.exec(markdown.slice(at));
  assert.ok(block, `no ts block after "${heading}"`);
  return block[1]!;
}

it('the node:test example of "A registry for tests" passes: startRegistry({ port: 0 }), a service registered in it, a client calling it', async () => {
  const code = codeBlockAfter(await readFile(doc, 'utf8'), '## A registry for tests');
  assert.match(code, /startRegistry\(\{ port: 0 \}\)/);
  assert.match(code, /from 'farol';/);
  const dir = await mkdtemp(join(tmpdir(), 'farol-docs-'));
  try {
    const file = join(dir, 'orders.test.ts');
    await writeFile(file, code.replace(/from 'farol';/, `from '${entry}';`));
    // Without NODE_TEST_CONTEXT: the child is a test run of its own, not a file of this one.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--test', '--test-reporter=tap', file], { cwd: dir, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const { code: exit } = await waitForExit(child, 60_000);
    assert.equal(exit, 0, output);
    assert.match(output, /^# pass 2$/m, output);
    assert.match(output, /^# fail 0$/m, output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
