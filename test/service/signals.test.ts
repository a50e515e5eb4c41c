import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { readUsersFileText } from '../../src/auth/users-store.js';
import { reloadOnSignal, type FarolService, type ServiceOptions } from '../../src/service/index.js';
import { memoryLogger } from '../support/memory-logger.js';
import { basic, httpsGet, issueTestPki, serviceStarter, tempDir, writeUsers, type TestPki } from './fixtures.js';

/** A service whose reload() waits until the test lets it finish. */
function fakeService(outcome: 'ok' | 'fail' = 'ok') {
  const releases: (() => void)[] = [];
  let calls = 0;
  return {
    instanceId: 'api-1',
    reloads: () => calls,
    finish: () => releases.shift()?.(),
    reload: () =>
      new Promise<void>((resolve, reject) => {
        calls += 1;
        releases.push(() => (outcome === 'ok' ? resolve() : reject(new Error('users file unreadable'))));
      }),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('reloadOnSignal', () => {
  it('reloads the service on SIGHUP and logs the signal and the outcome', async () => {
    const service = fakeService();
    const { logger, events } = memoryLogger();
    const remove = reloadOnSignal(service, { logger });
    try {
      process.emit('SIGHUP', 'SIGHUP');
      assert.equal(service.reloads(), 1);
      service.finish();
      await tick();
      assert.deepEqual(events(), ['signal', 'reload_done']);
    } finally {
      remove();
    }
  });

  it('makes one more reload for any number of signals received during a reload', async () => {
    const service = fakeService();
    const remove = reloadOnSignal(service);
    try {
      process.emit('SIGHUP', 'SIGHUP');
      process.emit('SIGHUP', 'SIGHUP');
      process.emit('SIGHUP', 'SIGHUP');
      assert.equal(service.reloads(), 1);
      service.finish();
      await tick();
      assert.equal(service.reloads(), 2, 'the signals received meanwhile make one more');
      service.finish();
      await tick();
      assert.equal(service.reloads(), 2);
    } finally {
      remove();
    }
  });

  it('logs a failed reload and keeps the handler', async () => {
    const service = fakeService('fail');
    const { logger, events } = memoryLogger();
    const remove = reloadOnSignal(service, { logger });
    try {
      process.emit('SIGHUP', 'SIGHUP');
      service.finish();
      await tick();
      assert.deepEqual(events(), ['signal', 'reload_failed']);
      process.emit('SIGHUP', 'SIGHUP');
      assert.equal(service.reloads(), 2);
      service.finish();
      await tick();
    } finally {
      remove();
    }
  });

  it('removes its handler when asked; another signal can be chosen', () => {
    const before = process.listenerCount('SIGUSR2');
    const remove = reloadOnSignal(fakeService(), { signal: 'SIGUSR2' });
    assert.equal(process.listenerCount('SIGUSR2'), before + 1);
    remove();
    assert.equal(process.listenerCount('SIGUSR2'), before);
  });
});

describe('service.reload()', () => {
  const password = 'correct horse battery staple';
  let dir: string;
  let pki: TestPki;
  let usersFile: string;
  let agent: Agent;
  const running: FarolService[] = [];

  before(async () => {
    dir = await tempDir();
    pki = await issueTestPki(dir, ['api']);
    usersFile = await writeUsers(dir, { alice: password, bob: password });
    agent = new Agent({ connect: { ca: pki.caPem } });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
  });
  after(async () => {
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  });

  const options = (overrides: Partial<ServiceOptions>): ServiceOptions => ({
    name: 'api',
    port: 0,
    bind: '127.0.0.1',
    tls: { certFile: pki.certFile, keyFile: pki.keyFile },
    usersFile,
    consul: false,
    logFile: join(dir, 'server-log.txt'),
    drain: { delayMs: 0 },
    ...overrides,
  });
  const started = serviceStarter(options, running);

  it('applies a users file change at once: the next request of a removed user on the same connection is refused', async () => {
    const service = await started();
    const whoami = () => httpsGet(agent, `${service.url}/`, { authorization: basic('bob', password) });
    assert.equal((await whoami()).status, 200);
    assert.equal((await whoami()).status, 200, 'the second comes from the connection memo');
    const text = await readUsersFileText(usersFile);
    await writeFile(usersFile, text.split('\n').filter((line) => !line.startsWith('bob:')).join('\n'));
    await service.reload();
    assert.equal((await whoami()).status, 401, 'the memo of this keep-alive connection does not outlive the reload');
    assert.equal((await httpsGet(agent, `${service.url}/`, { authorization: basic('alice', password) })).status, 200);
  });
});
