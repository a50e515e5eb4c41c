import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBasicAuthenticator } from '../../src/auth/basic-authenticator.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import type { AuthResult } from '../../src/auth/principal.js';
import { watchUsersFile, type ReloadOutcome, type UsersChange, type UsersSource } from '../../src/auth/users-source.js';
import { writeFileAtomic } from '../../src/files/write-atomic.js';
import { isFarolError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';

/** What every change must beat: a request sees the new users within 2 s. */
const VISIBLE_WITHIN_MS = 2000;

function memoryLogger() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ name: 'test', destination: stream });
  const lines = (): Record<string, unknown>[] => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, text: () => text };
}

async function until(probe: () => boolean, timeoutMs = VISIBLE_WITHIN_MS): Promise<number> {
  const began = performance.now();
  while (!probe()) {
    if (performance.now() - began > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(20);
  }
  return performance.now() - began;
}

describe('users source (a users file that reloads)', () => {
  let dir = '';
  let fileNumber = 0;
  let hashes: Record<'alice' | 'bob' | 'bob2', string>;
  const opened: UsersSource[] = [];
  const fileWith = (text: string): Promise<string> => {
    const path = join(dir, `users-${(fileNumber += 1)}.txt`);
    return writeFile(path, text, { mode: 0o600 }).then(() => path);
  };
  const usersText = (users: Partial<typeof hashes>): string =>
    Object.entries(users).map(([name, hash]) => `${name === 'bob2' ? 'bob' : name}:${hash}\n`).join('');
  const watched = async (path: string, opts: Parameters<typeof watchUsersFile>[1] = {}): Promise<UsersSource> => {
    const source = await watchUsersFile(path, opts);
    opened.push(source);
    return source;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-users-source-'));
    hashes = { alice: await hashPassword('wonderland'), bob: await hashPassword('builder'), bob2: await hashPassword('new-builder') };
  });
  after(async () => {
    for (const source of opened) source.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the file at once, and refuses to start on a missing or invalid one', async () => {
    const source = await watched(await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob })));
    assert.deepEqual(source.names(), ['alice', 'bob']);
    assert.equal(source.lookup('bob'), hashes.bob);
    assert.equal(source.generation, 0);
    await assert.rejects(watchUsersFile(join(dir, 'missing.txt')), (error) => isFarolError(error, 'USERS_FILE_UNREADABLE'));
    await assert.rejects(watchUsersFile(await fileWith('not a users line\n')), (error) => isFarolError(error, 'USERS_FILE_INVALID'));
  });

  it('sees a rename-and-replace (writeFileAtomic, as farol users and editors do) within 2 s, and says who lost access', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
    const { logger, lines, text } = memoryLogger();
    const changes: UsersChange[] = [];
    const source = await watched(path, { logger });
    source.onChange((change) => changes.push(change));

    await writeFileAtomic(path, usersText({ alice: hashes.alice }), 0o600);
    const ms = await until(() => source.lookup('bob') === undefined);
    assert.equal(source.lookup('alice'), hashes.alice);
    assert.equal(source.generation, 1);
    assert.deepEqual(changes, [{ generation: 1, users: 1, revoked: ['bob'] }]);
    const reloaded = lines().filter((line) => line.event === 'users_reloaded');
    assert.equal(reloaded.length, 1);
    assert.equal(reloaded[0]!.users, 1);
    assert.equal(reloaded[0]!.level, 30);
    assert.doesNotMatch(text(), /\$scrypt\$ln=/, 'no hash ever reaches the log');

    // And again: the watch follows the name, not the inode the first rename replaced.
    await writeFileAtomic(path, usersText({ alice: hashes.alice, bob2: hashes.bob2 }), 0o600);
    await until(() => source.lookup('bob') === hashes.bob2);
    assert.deepEqual(changes.at(-1), { generation: 2, users: 2, revoked: [] }, 'a user added revokes nothing');
    console.log(`rename-and-replace seen after ${Math.round(ms)} ms`);
  });

  it('sees an in-place rewrite, and a changed password revokes the user', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
    const changes: UsersChange[] = [];
    const source = await watched(path);
    source.onChange((change) => changes.push(change));
    await writeFile(path, usersText({ alice: hashes.alice, bob2: hashes.bob2 }));
    await until(() => source.lookup('bob') === hashes.bob2);
    assert.deepEqual(changes, [{ generation: 1, users: 2, revoked: ['bob'] }]);
  });

  it('sees changes with the stat poll alone, as on filesystems where fs.watch sees nothing', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
    const source = await watched(path, { fsWatch: false, pollIntervalMs: 1000 });
    await writeFileAtomic(path, usersText({ alice: hashes.alice }), 0o600);
    await until(() => source.lookup('bob') === undefined);
    await writeFile(path, usersText({ bob: hashes.bob }));
    await until(() => source.lookup('alice') === undefined && source.lookup('bob') === hashes.bob);
  });

  it('keeps the last good users when the new file does not parse, logs one error per distinct bad content, and never a hash', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
    const { logger, lines, text } = memoryLogger();
    const outcomes: ReloadOutcome[] = [];
    const source = await watched(path, { logger, onReload: (outcome) => outcomes.push(outcome) });
    const errors = () => lines().filter((line) => line.event === 'users_reload_failed');

    // A half-edited file: bob's hash truncated (which must not be quoted in the error).
    await writeFileAtomic(path, `alice:${hashes.alice}\nbob:${hashes.bob.slice(0, 30)}\n`, 0o600);
    await until(() => errors().length === 1);
    assert.equal(source.lookup('alice'), hashes.alice, 'alice is not locked out');
    assert.equal(source.lookup('bob'), hashes.bob, 'the last good users are kept');
    assert.equal(source.generation, 0);
    assert.equal(errors()[0]!.level, 50);
    assert.equal(errors()[0]!.code, 'USERS_FILE_INVALID');
    assert.equal(errors()[0]!.usersKept, 2);
    assert.match(String(errors()[0]!.msg), /line 2/);

    // The poll and further notices see the same bad content: nothing more is logged.
    const touched = new Date(Date.now() + 5000);
    await utimes(path, touched, touched);
    assert.equal((await source.reload()).status, 'kept');
    await sleep(1500);
    assert.equal(errors().length, 1, `one error for one bad file: ${JSON.stringify(errors())}`);

    // Another bad content is another error; then a good file is reloaded.
    await writeFile(path, 'garbage\n');
    await until(() => errors().length === 2);
    await writeFileAtomic(path, usersText({ alice: hashes.alice }), 0o600);
    await until(() => source.lookup('bob') === undefined);
    assert.equal(source.generation, 1);
    assert.ok(outcomes.some((outcome) => outcome.status === 'kept' && isFarolError(outcome.error, 'USERS_FILE_INVALID')));
    assert.doesNotMatch(text(), /\$scrypt\$ln=/, 'no hash, not even the truncated one, reaches the log');
  });

  it('keeps the last good users when the file is deleted (one error), and loads it again when it comes back', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
    const { logger, lines } = memoryLogger();
    const source = await watched(path, { logger });
    await rm(path);
    await until(() => lines().some((line) => line.event === 'users_reload_failed'));
    assert.equal(source.lookup('bob'), hashes.bob);
    assert.equal((await source.reload()).status, 'kept');
    await sleep(1200);
    const failures = lines().filter((line) => line.event === 'users_reload_failed');
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.code, 'USERS_FILE_UNREADABLE');
    assert.match(String(failures[0]!.msg), /does not exist/);

    await writeFileAtomic(path, usersText({ alice: hashes.alice }), 0o600);
    await until(() => source.lookup('bob') === undefined);
  });

  it('reload() reads now and reports what happened; concurrent calls share reads', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice }));
    const source = await watched(path, { fsWatch: false, pollIntervalMs: 60_000 });
    assert.deepEqual(await source.reload(), { status: 'unchanged', generation: 0, users: 1 });
    await writeFile(path, usersText({ alice: hashes.alice, bob: hashes.bob }));
    const [first, second, third] = await Promise.all([source.reload(), source.reload(), source.reload()]);
    assert.deepEqual(first, { status: 'reloaded', generation: 1, users: 2, revoked: [] });
    assert.equal(second!.status, 'unchanged', 'a call made during a read gets one more read after it');
    assert.equal(second, third, 'calls made during the same read share the next one');
  });

  it('stops watching on close(): later changes are not read, lookups keep the last users', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
    const outcomes: ReloadOutcome[] = [];
    const source = await watched(path, { pollIntervalMs: 200, onReload: (outcome) => outcomes.push(outcome) });
    source.close();
    await writeFileAtomic(path, usersText({ alice: hashes.alice }), 0o600);
    await sleep(700);
    assert.equal(source.lookup('bob'), hashes.bob);
    assert.deepEqual(outcomes, []);
    assert.equal((await source.reload()).status, 'unchanged');
  });

  it('refuses timer options a timer cannot hold', async () => {
    const path = await fileWith(usersText({ alice: hashes.alice }));
    await assert.rejects(watchUsersFile(path, { pollIntervalMs: 2 ** 31 }), (error) => isFarolError(error, 'CONFIG_INVALID'));
    await assert.rejects(watchUsersFile(path, { debounceMs: -1 }), (error) => isFarolError(error, 'CONFIG_INVALID'));
  });

  describe('through the Basic authenticator and its verification cache', () => {
    const login = async (auth: ReturnType<typeof createBasicAuthenticator>, user: string, password: string): Promise<AuthResult['outcome']> =>
      (await auth.authenticate({ headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } })).outcome;

    it('refuses a removed user and an old password as soon as the source has reloaded, although both were cached', async () => {
      const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
      const source = await watched(path, { fsWatch: false, pollIntervalMs: 60_000 });
      const auth = createBasicAuthenticator({ users: source, realm: 'orders' });
      assert.equal(await login(auth, 'bob', 'builder'), 'authenticated');
      assert.equal(await login(auth, 'alice', 'wonderland'), 'authenticated');

      await writeFile(path, usersText({ alice: hashes.alice, bob2: hashes.bob2 }));
      await source.reload();
      assert.equal(await login(auth, 'bob', 'builder'), 'rejected', 'the old password, cached, is refused');
      assert.equal(await login(auth, 'bob', 'new-builder'), 'authenticated');
      assert.equal(await login(auth, 'alice', 'wonderland'), 'authenticated');

      await writeFile(path, usersText({ alice: hashes.alice }));
      await source.reload();
      assert.equal(await login(auth, 'bob', 'new-builder'), 'rejected', 'the removed user, cached, is refused');
    });

    it('refuses a password whose user was removed while it was being verified', async () => {
      const path = await fileWith(usersText({ alice: hashes.alice, bob: hashes.bob }));
      const source = await watched(path, { fsWatch: false, pollIntervalMs: 60_000 });
      let release: () => void = () => undefined;
      const verifying = new Promise<void>((resolve) => (release = resolve));
      const auth = createBasicAuthenticator({
        users: source,
        realm: 'orders',
        verifier: async () => {
          await verifying;
          return true;
        },
      });
      const pending = login(auth, 'bob', 'builder');
      await writeFile(path, usersText({ alice: hashes.alice }));
      await source.reload();
      release();
      assert.equal(await pending, 'rejected');
    });
  });
});
