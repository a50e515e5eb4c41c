import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from 'undici';
import { runFarol, spawnFarol, waitForExit, waitForLine } from '../support/cli.js';
import { basic, httpsGet, issueTestPki, tempDir, writeUsers, type TestPki } from '../service/fixtures.js';

describe('farol serve --metrics-port', () => {
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  const serveArgs = (extra: string[]): string[] => [
    'serve', '--service', 'metered', '--port', '0', '--no-register', '--cert', pki.certFile, '--key', pki.keyFile, '--users', usersFile,
    '--log-file', join(dir, 'server-log.txt'), ...extra,
  ];

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir, ['metered']);
    usersFile = await writeUsers(dir, { alice: 'a password for metrics' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('serves /metrics over plain HTTP on 127.0.0.1, with requests under their route template', async () => {
    const child = spawnFarol(serveArgs(['--metrics-port', '0']));
    const agent = new Agent({ connect: { ca: pki.caPem } });
    try {
      const [[, url], [, metricsUrl]] = await Promise.all([
        waitForLine(child, /serving \S+ instance \S+ at (\S+)/),
        waitForLine(child, /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/),
      ]);
      const answer = await httpsGet(agent, `${url}/`, { authorization: basic('alice', 'a password for metrics') });
      assert.equal(answer.status, 200);
      await httpsGet(agent, `${url}/no/such/route/42`, { authorization: basic('alice', 'a password for metrics') });
      const text = await (await fetch(metricsUrl!)).text();
      assert.match(text, /http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/",http_response_status_code="200"\} 1/);
      assert.match(text, /http_route="_unmatched",http_response_status_code="404"/);
      assert.doesNotMatch(text, /no\/such\/route/, 'a raw path never becomes a label');
      assert.match(text, /farol_certificate_not_after_timestamp_seconds\{certificate="server"\} \d+/);
      assert.match(text, /farol_registration_state\{state="unregistered"\} 1/);
      assert.match(text, /nodejs_heap_size_total_bytes/);
    } finally {
      await agent.close();
      child.kill('SIGTERM');
      await waitForExit(child);
    }
  });

  it('refuses a port that is not one, naming the flag', async () => {
    const run = await runFarol(serveArgs(['--metrics-port', 'ninety']));
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--metrics-port "ninety"/);
  });

  it('stops, with the port named, when the metrics port is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const run = await runFarol(serveArgs(['--metrics-port', String(port), '--drain-delay', '0s']));
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, new RegExp(`metrics port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(run.stderr, /--metrics-port/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
