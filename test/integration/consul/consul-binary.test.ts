import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findConsulBinary, expectedConsulVersion } from '../../support/consul-agent.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'gated-suite.ts');

function runGatedSuite(env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  // Without NODE_TEST_CONTEXT the child reports in plain text instead of to this runner.
  const { NODE_TEST_CONTEXT: _context, ...parentEnv } = process.env;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', fixture], {
    env: { ...parentEnv, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('finding the Consul binary and gating the real-Consul suites', () => {
  it('reads the pinned Consul version from tools/consul/go.mod', () => {
    assert.match(expectedConsulVersion() ?? '', /^\d+\.\d+\.\d+$/);
  });

  it('honours CONSUL_BIN, and says what is wrong when it points nowhere', () => {
    assert.deepEqual(findConsulBinary({ ...process.env, CONSUL_BIN: process.execPath }), { path: process.execPath });
    const missing = findConsulBinary({ ...process.env, CONSUL_BIN: '/nonexistent/consul' });
    assert.ok('missing' in missing);
    assert.match(missing.missing, /CONSUL_BIN=\/nonexistent\/consul/);
  });

  it('names Go and the build script when nothing is found', () => {
    const empty = { PATH: '', HOME: '/nonexistent-home', FAROL_CACHE_DIR: '/nonexistent-cache' };
    const missing = findConsulBinary(empty);
    assert.ok('missing' in missing);
    assert.match(missing.missing, /Go 1\.21\+/);
    assert.match(missing.missing, /scripts\/build-consul\.sh/);
  });

  it('skips the suite loudly outside CI when Consul is missing', () => {
    const { status, output } = runGatedSuite({ CONSUL_BIN: '/nonexistent/consul', CI: '' });
    assert.equal(status, 0, output);
    assert.match(output, /SKIPPED "a suite that needs Consul"/);
    assert.match(output, /Go 1\.21\+/);
    assert.match(output, /a suite that needs Consul .*# no Consul binary/);
    assert.doesNotMatch(output, /would talk to Consul/);
  });

  it('fails the suite under CI=true when Consul is missing', () => {
    const { status, output } = runGatedSuite({ CONSUL_BIN: '/nonexistent/consul', CI: 'true' });
    assert.notEqual(status, 0, output);
    assert.match(output, /no Consul binary for "a suite that needs Consul"/);
  });
});
