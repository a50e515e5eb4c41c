import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, issueTestPki, writeUsers } from '../service/fixtures.js';

const tsxLoader = import.meta.resolve('tsx');
const entry = new URL('../../src/index.ts', import.meta.url).href;

/** Runs a module body in a fresh node (through tsx) whose working folder is `cwd`. */
function runIn(cwd: string, body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxLoader, '--input-type=module', '-e', body], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the library writes no file unless asked', () => {
  it('createService and createClient without logger or logFile leave the working folder empty and stdout silent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'farol-nofiles-'));
    const app = await mkdtemp(join(tmpdir(), 'farol-app-'));
    try {
      const pki = await issueTestPki(dir);
      const usersFile = await writeUsers(dir, { alice: 'a long enough password' });
      const consulPort = await closedPort();
      const run = await runIn(app, `
        const { createService, createClient } = await import(${JSON.stringify(entry)});
        const service = await createService({
          name: 'api', port: 0, bind: '127.0.0.1', tls: { certFile: ${JSON.stringify(pki.certFile)}, keyFile: ${JSON.stringify(pki.keyFile)} },
          usersFile: ${JSON.stringify(usersFile)}, consul: false, drain: { delayMs: 0 },
        });
        await service.start();
        await service.stop();
        const client = createClient({ consul: { address: '127.0.0.1:${consulPort}', timeoutMs: 500 }, tls: { ca: { file: ${JSON.stringify(pki.caFile)} } }, retries: 0 });
        await client.call('api').catch((error) => process.stderr.write('call failed as expected: ' + error.code + '\\n'));
        await client.close();
      `);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /call failed as expected: CONSUL_UNREACHABLE/);
      assert.equal(run.stdout, '', 'nothing on stdout either');
      assert.deepEqual(await readdir(app), [], 'no logs/ folder, no file');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(app, { recursive: true, force: true });
    }
  });
});
