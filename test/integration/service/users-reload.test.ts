/**
 * Users revoked while `farol serve` runs, against a real Consul agent: the service (the CLI, as a
 * child process) registered in Consul, Farol clients calling it for two users at about 20 calls a
 * second each on pooled keep-alive connections (bounded in time), and the users file changed with
 * the CLI mid-run. A removed user is refused from at most 2 s after `farol users remove` returned
 * while every call of the other user succeeds; an old password likewise, and the new one works
 * within 2 s; SIGHUP reloads and reopens the log; an invalid file keeps the old users.
 */
import { after, afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { basicCredentials } from '../../../src/auth/index.js';
import { createClient, type FarolClient } from '../../../src/client/index.js';
import { writeFileAtomic } from '../../../src/files/write-atomic.js';
import { silentLogger } from '../../../src/log/logger.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { rawHealth } from '../../support/consul-health.js';
import { runFarol, spawnFarol, waitForExit, waitForLine } from '../../support/cli.js';
import { issueTestPki, logLines, tempDir, until, writeUsers, type TestPki } from '../../service/fixtures.js';

const PASSWORDS = { alice: 'alice in wonderland', bob: 'bob the builder' };
const CALLS_PER_SECOND = 20;
const MAX_LOAD_MS = 15_000;
const REFUSED_WITHIN_MS = 2000;

let dir: string;
let pki: TestPki;
let round = 0;

async function prepareAgent(): Promise<{ caFile: string }> {
  dir = await tempDir();
  pki = await issueTestPki(dir, ['users-remove', 'users-password', 'users-sighup', 'users-invalid']);
  return { caFile: pki.caFile };
}

after(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Sample {
  sentAt: number;
  status: number | string;
}

interface Load {
  samples: Sample[];
  stop(): Promise<Sample[]>;
}

/** About CALLS_PER_SECOND calls a second from one client until stopped (or `until` says so), MAX_LOAD_MS at most. */
function startLoad(client: FarolClient, service: string, stopWhen: (sample: Sample) => boolean = () => false): Load {
  let stopped = false;
  const samples: Sample[] = [];
  const began = performance.now();
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped && performance.now() - began < MAX_LOAD_MS) {
      const sentAt = Date.now();
      const call = client.call(service, { path: '/' }).then(
        (result) => {
          const sample = { sentAt, status: result.status };
          samples.push(sample);
          if (stopWhen(sample)) stopped = true;
        },
        (error: Error & { code?: string }) => {
          samples.push({ sentAt, status: `${error.code ?? 'error'}: ${error.message}` });
        },
      );
      const tracked = call.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      await sleep(1000 / CALLS_PER_SECOND);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([...inFlight]);
      return samples.sort((a, b) => a.sentAt - b.sentAt);
    },
  };
}

const refused = (sample: Sample): boolean => sample.status === 401 || sample.status === 429;

describeWithConsul('users file changes while farol serve runs, with a real Consul', (getAgent) => {
  let serving: { child: ChildProcess; service: string } | undefined;
  const clients: FarolClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    if (serving !== undefined && serving.child.exitCode === null) {
      serving.child.kill('SIGTERM');
      await waitForExit(serving.child, 15_000);
    }
    serving = undefined;
  });

  /** `farol serve` for a fresh service with alice and bob, passing in Consul. */
  async function serve(service: string): Promise<{ usersFile: string; logFile: string; child: ChildProcess }> {
    round += 1;
    const runDir = join(dir, `round-${round}`);
    await mkdir(runDir, { recursive: true });
    const usersFile = await writeUsers(runDir, PASSWORDS);
    const logFile = join(runDir, 'server-log.txt');
    const child = spawnFarol([
      'serve', '--service', service, '--port', '0', '--bind', '127.0.0.1',
      '--cert', pki.certFile, '--key', pki.keyFile, '--users', usersFile,
      '--consul', getAgent().address, '--check-interval', '1s', '--drain-delay', '0s', '--drain-timeout', '2s',
      '--log-file', logFile,
    ]);
    serving = { child, service };
    await waitForLine(child, /farol: serving/, 30_000);
    const passing = await until(async () => (await rawHealth(getAgent(), service, true)).length === 1, 15_000);
    assert.ok(passing, `${service} passing in Consul`);
    return { usersFile, logFile, child };
  }

  function clientFor(user: keyof typeof PASSWORDS, password = PASSWORDS[user]): FarolClient {
    const client = createClient({
      consul: { address: getAgent().address },
      tls: { ca: { pem: pki.caPem } },
      credentials: basicCredentials(user, password),
      // A small pool: every call reuses one of two keep-alive connections, so the per-connection memo is in play.
      connectionsPerInstance: 2,
      retries: 0,
      timeoutMs: 5000,
      logger: silentLogger(),
    });
    clients.push(client);
    return client;
  }

  it('refuses a removed user within 2 s of `farol users remove` returning, while every call of another user succeeds', async (t) => {
    const service = 'users-remove';
    const { usersFile, logFile } = await serve(service);
    const alice = startLoad(clientFor('alice'), service);
    const bob = startLoad(clientFor('bob'), service);
    await sleep(1500);

    const removed = await runFarol(['users', 'remove', 'bob', '--file', usersFile]);
    const returnedAt = Date.now();
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /pick the change up within 2 s \(no restart needed\)/);
    const replacedAt = Math.round((await stat(usersFile)).mtimeMs);
    await sleep(REFUSED_WITHIN_MS + 1000);

    const [aliceSamples, bobSamples] = await Promise.all([alice.stop(), bob.stop()]);
    const aliceFailures = aliceSamples.filter((sample) => sample.status !== 200);
    assert.deepEqual(aliceFailures, [], `every one of alice's ${aliceSamples.length} calls succeeds`);
    assert.ok(bobSamples.some((sample) => sample.sentAt < replacedAt && sample.status === 200), 'bob got in before');
    const late = bobSamples.filter((sample) => sample.sentAt >= returnedAt + REFUSED_WITHIN_MS);
    assert.ok(late.length >= 10, `bob kept calling after the deadline (${late.length} calls)`);
    assert.deepEqual(late.filter((sample) => !refused(sample)), [], 'bob is refused from 2 s after the command returned');
    const firstRefusal = bobSamples.find(refused)!;
    assert.equal(firstRefusal.status, 401, 'refused as bad credentials (429 follows once his name is locked)');
    assert.deepEqual(bobSamples.filter((sample) => sample.sentAt > firstRefusal.sentAt && sample.status === 200), [], 'never let in again');

    const lastAccepted = bobSamples.filter((sample) => sample.status === 200).at(-1)!;
    t.diagnostic(
      `bob removed: last call let in was sent ${lastAccepted.sentAt - replacedAt} ms after the file was replaced; first refused call sent ` +
        `${firstRefusal.sentAt - replacedAt} ms after it (${firstRefusal.sentAt - returnedAt} ms after the command returned); ` +
        `alice ${aliceSamples.length} calls, all 200; bob ${bobSamples.length} calls`,
    );
    const { lines } = await logLines(logFile, (l) => l.some((line) => line.event === 'users_reloaded'));
    const reloaded = lines.filter((line) => line.event === 'users_reloaded');
    assert.equal(reloaded.length, 1);
    assert.equal(reloaded[0]!.users, 1);
  });

  it('refuses an old password and accepts the new one within 2 s of `farol users add` returning', async (t) => {
    const service = 'users-password';
    const { usersFile } = await serve(service);
    const alice = startLoad(clientFor('alice'), service);
    // The stale client stops at its first refusal: its failures would otherwise lock the name for the new password too.
    const stale = startLoad(clientFor('bob'), service, refused);
    await sleep(1500);

    const newPassword = 'bob the new builder';
    const changed = await runFarol(['users', 'add', 'bob', '--file', usersFile, '--password-stdin'], { stdin: newPassword });
    const returnedAt = Date.now();
    assert.equal(changed.code, 0, changed.stderr);
    const replacedAt = Math.round((await stat(usersFile)).mtimeMs);
    const fresh = startLoad(clientFor('bob', newPassword), service);
    await sleep(REFUSED_WITHIN_MS + 1000);

    const [aliceSamples, staleSamples, freshSamples] = await Promise.all([alice.stop(), stale.stop(), fresh.stop()]);
    assert.deepEqual(aliceSamples.filter((sample) => sample.status !== 200), []);
    const firstRefusal = staleSamples.find(refused);
    assert.ok(firstRefusal !== undefined, 'the old password is refused');
    assert.ok(firstRefusal.sentAt <= returnedAt + REFUSED_WITHIN_MS, `refused ${firstRefusal.sentAt - returnedAt} ms after the command returned`);
    assert.equal(firstRefusal.status, 401);
    const check = await clientFor('bob').call(service, { path: '/' });
    assert.equal(check.status, 401, 'the old password, tried again, is still refused');

    const firstAccepted = freshSamples.find((sample) => sample.status === 200);
    assert.ok(firstAccepted !== undefined, 'the new password gets in');
    assert.ok(firstAccepted.sentAt <= returnedAt + REFUSED_WITHIN_MS);
    assert.deepEqual(freshSamples.filter((sample) => sample.sentAt >= returnedAt + REFUSED_WITHIN_MS && sample.status !== 200), []);
    t.diagnostic(
      `bob's password changed: old one first refused ${firstRefusal.sentAt - replacedAt} ms after the file was replaced ` +
        `(${firstRefusal.sentAt - returnedAt} ms after the command returned); new one first accepted ${firstAccepted.sentAt - returnedAt} ms after it; ` +
        `new-password calls ${freshSamples.length}, refused ${freshSamples.filter(refused).length}`,
    );
  });

  it('on SIGHUP reloads the users and reopens the log file (logrotate), and keeps serving', async (t) => {
    const service = 'users-sighup';
    const { usersFile, logFile, child } = await serve(service);
    const alice = startLoad(clientFor('alice'), service);
    const bob = startLoad(clientFor('bob'), service);
    await sleep(1000);

    // logrotate: rename, then signal. The users change goes with it (the watch may see it first).
    await rename(logFile, `${logFile}.1`);
    await writeFileAtomic(usersFile, (await readFile(usersFile, 'utf8')).split('\n').filter((line) => !line.startsWith('bob:')).join('\n'), 0o600);
    const signalledAt = Date.now();
    child.kill('SIGHUP');
    const { lines } = await logLines(logFile, (l) => l.some((line) => line.event === 'reload_done') && l.some((line) => line.event === 'access'));
    await sleep(REFUSED_WITHIN_MS);
    const [aliceSamples, bobSamples] = await Promise.all([alice.stop(), bob.stop()]);

    assert.equal(child.exitCode, null, 'SIGHUP does not stop the service');
    assert.ok(lines.some((line) => line.event === 'log_reopened'), 'the new file says it was reopened');
    assert.ok(lines.some((line) => line.event === 'signal' && line.signal === 'SIGHUP'));
    const moved = await logLines(`${logFile}.1`);
    assert.ok(moved.lines.some((line) => line.event === 'access'), 'lines from before the signal stay in the renamed file');
    assert.ok(moved.lines.every((line) => line.event !== 'log_reopened'));
    assert.deepEqual(aliceSamples.filter((sample) => sample.status !== 200), []);
    const late = bobSamples.filter((sample) => sample.sentAt >= signalledAt + REFUSED_WITHIN_MS / 2);
    assert.ok(late.length > 0 && late.every(refused), 'bob is refused after the reload');
    t.diagnostic(`SIGHUP: log reopened, reload done; alice ${aliceSamples.length} calls all 200, bob refused after the reload`);
  });

  it('keeps the users it had when the new users file does not parse: one error logged, nobody locked out', async (t) => {
    const service = 'users-invalid';
    const { usersFile, logFile } = await serve(service);
    const alice = startLoad(clientFor('alice'), service);
    const bob = startLoad(clientFor('bob'), service);
    await sleep(1000);
    await writeFileAtomic(usersFile, 'alice:not-a-hash\nthis is not a users file\n', 0o600);
    await sleep(1500);
    await writeFile(usersFile, 'still garbage\n'); // another bad version: one more error
    await sleep(1500);
    const [aliceSamples, bobSamples] = await Promise.all([alice.stop(), bob.stop()]);
    assert.deepEqual(aliceSamples.filter((sample) => sample.status !== 200), [], 'alice is not locked out');
    assert.deepEqual(bobSamples.filter((sample) => sample.status !== 200), [], 'bob neither');
    const { lines, raw } = await logLines(logFile, (l) => l.filter((line) => line.event === 'users_reload_failed').length >= 2);
    const errors = lines.filter((line) => line.event === 'users_reload_failed');
    assert.equal(errors.length, 2, 'one error per bad version, not one per poll');
    assert.ok(errors.every((line) => line.level === 50 && line.usersKept === 2));
    assert.doesNotMatch(raw, /\$scrypt\$ln=/, 'no hash in the log');
    t.diagnostic(`invalid users file: ${aliceSamples.length + bobSamples.length} calls, all 200; ${errors.length} errors logged`);
  });
}, prepareAgent);
