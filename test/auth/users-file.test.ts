import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isFarolError } from '../../src/errors.js';
import { hashPassword, verifyPassword } from '../../src/auth/password-hash.js';
import { parseUsersFile } from '../../src/auth/users-file.js';
import { addUser, readUsersFile, removeUser } from '../../src/auth/users-store.js';

async function rejectsWith(promise: Promise<unknown>, code: string, check?: (error: { message: string; hint?: string }) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isFarolError(error), `expected a FarolError, got ${String(error)}`);
    assert.equal(error.code, code);
    check?.({ message: error.message, hint: error.hint });
    return true;
  });
}

function rejectsSyncWith(fn: () => unknown, code: string, check?: (error: { message: string; hint?: string }) => void): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isFarolError(error), `expected a FarolError, got ${String(error)}`);
    assert.equal(error.code, code);
    check?.({ message: error.message, hint: error.hint });
    return true;
  });
}

describe('users file', () => {
  let dir = '';
  let fileNumber = 0;
  const newPath = (): string => join(dir, `users-${(fileNumber += 1)}.txt`);
  const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
  let hashOfPw = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-users-'));
    hashOfPw = await hashPassword('pw');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds a user to a new file with mode 0600 and never writes the plaintext password', async () => {
    const path = newPath();
    assert.equal(await addUser(path, 'alice', 'wonderland-42'), 'added');
    assert.equal(await modeOf(path), 0o600);
    const text = await readFile(path, 'utf8');
    assert.match(text, /^alice:\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\n$/);
    assert.equal(text.includes('wonderland-42'), false);
    const users = await readUsersFile(path);
    assert.deepEqual(users.names(), ['alice']);
    assert.equal(await verifyPassword('wonderland-42', users.lookup('alice') ?? ''), true);
  });

  it('updates an existing user in place and keeps comments, blank lines and order', async () => {
    const path = newPath();
    const original = ['# team accounts', '', `alice:${hashOfPw}`, '  # ops', `bob:${hashOfPw}`, ''].join('\n');
    await writeFile(path, original, { mode: 0o644 });

    assert.equal(await addUser(path, 'alice', 'new-secret'), 'updated');
    assert.equal(await addUser(path, 'carol', 'carol-secret'), 'added');
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.equal(lines.length, 7);
    assert.deepEqual([lines[0], lines[1], lines[3], lines[4], lines[6]], ['# team accounts', '', '  # ops', `bob:${hashOfPw}`, '']);
    assert.match(lines[2] ?? '', /^alice:\$scrypt\$/);
    assert.match(lines[5] ?? '', /^carol:\$scrypt\$/);
    assert.equal(await modeOf(path), 0o600, 'a rewrite tightens the mode to 0600');

    const users = await readUsersFile(path);
    assert.deepEqual(users.names(), ['alice', 'bob', 'carol']);
    assert.equal(await verifyPassword('new-secret', users.lookup('alice') ?? ''), true);
    assert.equal(await verifyPassword('pw', users.lookup('alice') ?? ''), false);
    assert.equal(await verifyPassword('carol-secret', users.lookup('carol') ?? ''), true);
    const text = await readFile(path, 'utf8');
    assert.equal(text.includes('new-secret') || text.includes('carol-secret'), false);
  });

  it('removes a user and keeps everything else', async () => {
    const path = newPath();
    await writeFile(path, ['# accounts', `alice:${hashOfPw}`, `bob:${hashOfPw}`, '# end'].join('\n') + '\n');
    await removeUser(path, 'alice');
    assert.equal(await readFile(path, 'utf8'), ['# accounts', `bob:${hashOfPw}`, '# end'].join('\n') + '\n');
    assert.equal(await modeOf(path), 0o600);
    assert.deepEqual((await readUsersFile(path)).names(), ['bob']);
  });

  it('leaves no temporary files behind', async () => {
    const before = await readdir(dir);
    const path = newPath();
    await addUser(path, 'dave', 'pw1');
    await addUser(path, 'dave', 'pw2');
    await removeUser(path, 'dave');
    const created = (await readdir(dir)).filter((name) => !before.includes(name));
    assert.deepEqual(created, [path.slice(dir.length + 1)]);
  });

  it('reports removing an unknown user as USER_NOT_FOUND, listing who is there', async () => {
    const path = newPath();
    await writeFile(path, `alice:${hashOfPw}\nbob:${hashOfPw}\n`);
    await rejectsWith(removeUser(path, 'Alice'), 'USER_NOT_FOUND', ({ message, hint }) => {
      assert.equal(message, `user "Alice" is not in users file ${path}`);
      assert.match(hint ?? '', /alice, bob/);
    });
    assert.equal(await readFile(path, 'utf8'), `alice:${hashOfPw}\nbob:${hashOfPw}\n`);
  });

  it('reports a missing file as USERS_FILE_UNREADABLE with a hint to create it', async () => {
    const path = join(dir, 'missing.txt');
    const expectMissing = ({ message, hint }: { message: string; hint?: string }): void => {
      assert.equal(message, `users file ${path} does not exist`);
      assert.equal(hint, `create it with \`farol users add NAME --file ${path}\``);
    };
    await rejectsWith(readUsersFile(path), 'USERS_FILE_UNREADABLE', expectMissing);
    await rejectsWith(removeUser(path, 'alice'), 'USERS_FILE_UNREADABLE', expectMissing);
  });

  it('reports a directory, or a file in a missing folder, as USERS_FILE_UNREADABLE', async () => {
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    await rejectsWith(readUsersFile(folder), 'USERS_FILE_UNREADABLE', ({ message }) => assert.equal(message, `users file ${folder} is a directory`));
    const nowhere = join(dir, 'no-such-folder', 'users.txt');
    await rejectsWith(addUser(nowhere, 'alice', 'pw'), 'USERS_FILE_UNREADABLE', ({ message }) => assert.match(message, /folder does not exist/));
  });

  it('reports a bad line as USERS_FILE_INVALID with its line number, without quoting it', async () => {
    const cases: Array<[string, RegExp]> = [
      ['hunter2', /line 3: expected NAME:HASH$/],
      ['alice:hunter2', /line 3: the password hash of "alice" is not a \$scrypt\$ hash/],
      ['ali ce:' + hashOfPw, /line 3: the user name contains whitespace/],
      [':' + hashOfPw, /line 3: the user name is empty/],
      [`bob:${hashOfPw.replace('ln=14', 'ln=25')}`, /line 3: the password hash of "bob" is not a \$scrypt\$ hash within the accepted cost limits/],
      [`zed:${hashOfPw}`, /line 3: user "zed" is already defined on line 2/],
    ];
    for (const [badLine, expected] of cases) {
      const path = newPath();
      await writeFile(path, `# users\nzed:${hashOfPw}\n${badLine}\n`);
      await rejectsWith(readUsersFile(path), 'USERS_FILE_INVALID', ({ message, hint }) => {
        assert.match(message, expected);
        assert.equal(message.startsWith(`users file ${path} line 3: `), true);
        assert.equal(message.includes('hunter2'), false);
        assert.match(hint ?? '', /farol users add NAME --file/);
      });
    }
  });

  it('refuses to rewrite a file it cannot parse', async () => {
    const path = newPath();
    await writeFile(path, 'this is not a users file\n');
    await rejectsWith(addUser(path, 'alice', 'pw'), 'USERS_FILE_INVALID', ({ message }) => assert.match(message, /line 1/));
    await rejectsWith(removeUser(path, 'alice'), 'USERS_FILE_INVALID');
    assert.equal(await readFile(path, 'utf8'), 'this is not a users file\n');
  });

  it('refuses invalid user names and empty passwords before touching the file', async () => {
    const path = newPath();
    for (const name of ['', 'a:b', 'a b', 'tab\tname', 'new\nline', '#comment', 'x'.repeat(129)]) {
      await rejectsWith(addUser(path, name, 'pw'), 'CONFIG_INVALID', ({ message }) => assert.match(message, /^invalid user name: /));
    }
    await rejectsWith(addUser(path, 'alice', ''), 'PASSWORD_REQUIRED');
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });

  it('accepts Unicode names up to 128 characters, CRLF line ends and a byte order mark', async () => {
    const longName = 'é'.repeat(128);
    const users = parseUsersFile(`\uFEFF# hi\r\nJosé:${hashOfPw}\r\n${longName}:${hashOfPw}\r\n\r\n`, 'users.txt');
    assert.deepEqual(users.names(), ['José', longName]);
    assert.equal(users.lookup('josé'), undefined);
    assert.equal(users.lookup('__proto__'), undefined);
  });

  it('keeps a file readable only by its owner even when it was made wider before', async () => {
    const path = newPath();
    await writeFile(path, '');
    await chmod(path, 0o666);
    await addUser(path, 'erin', 'pw');
    assert.equal(await modeOf(path), 0o600);
  });
});

describe('parseUsersFile', () => {
  it('gives an empty db for a file of comments', () => {
    assert.deepEqual(parseUsersFile('# nothing yet\n\n', 'users.txt').names(), []);
  });

  it('throws USERS_FILE_INVALID synchronously for a bad line', () => {
    rejectsSyncWith(() => parseUsersFile('\n\nnope\n', 'users.txt'), 'USERS_FILE_INVALID', ({ message }) =>
      assert.equal(message, 'users file users.txt line 3: expected NAME:HASH'),
    );
  });
});
