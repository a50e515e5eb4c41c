/**
 * /v1/kv/ against real Consul 1.15.4 and the embedded registry, with the same assertions: values
 * (base64, raw, binary, empty), flags, cas, key listing with separators, recurse, deletes, blocking
 * queries and their index headers, error answers, and ACLs under default-deny. Every expected text
 * here was asked of a real agent first.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachTarget, type TargetContext } from './targets.js';
import { consulIndex, header, okJson, send, type WireResponse } from './wire.js';

interface DirEntry {
  LockIndex: number;
  Key: string;
  Flags: number;
  Value: string | null;
  CreateIndex: number;
  ModifyIndex: number;
}

const WAIT_SLACK_MS = 1000;
const MAX_VALUE = 512 * 1024;

const ANONYMOUS = 'The anonymous token is used implicitly when a request does not specify a token.';
const anonymousKey = (permission: 'read' | 'write', key: string): string =>
  `Permission denied: anonymous token lacks permission 'key:${permission}' on ${JSON.stringify(key)}. ${ANONYMOUS}`;

async function put(target: TargetContext, path: string, body: string | Buffer = '', headers: Record<string, string> = {}): Promise<WireResponse> {
  return send(target, path, { method: 'PUT', body, headers });
}

/** A KV write's answer: 200, JSON `true` or `false`. */
function answered(response: WireResponse, what: string): boolean {
  assert.equal(response.status, 200, `${what}: ${response.status} ${response.text}`);
  assert.match(header(response, 'content-type') ?? '', /^application\/json/, `${what}: Content-Type`);
  assert.match(response.text, /^(true|false)\n$/, `${what}: body`);
  return response.text === 'true\n';
}

async function putKey(target: TargetContext, key: string, value: string | Buffer = '', query = ''): Promise<void> {
  assert.equal(answered(await put(target, `/v1/kv/${key}${query}`, value), `PUT ${key}`), true);
}

async function entries(target: TargetContext, path: string): Promise<DirEntry[]> {
  return okJson<DirEntry[]>(await send(target, path), `GET ${path}`);
}

function assertNotFound(response: WireResponse, what: string): void {
  assert.deepEqual([response.status, response.text], [404, ''], what);
  consulIndex(response);
}

function assertError(response: WireResponse, status: number, text: string, what: string): void {
  assert.deepEqual([response.status, response.text], [status, text], what);
  assert.equal(header(response, 'content-type'), 'text/plain; charset=utf-8', `${what}: Content-Type`);
}

forEachTarget('KV', (getTarget) => {
  it('stores a value: PUT answers true, GET answers the entry with a base64 Value and X-Consul-Index = ModifyIndex', async () => {
    await putKey(getTarget(), 'app/config', 'hello');
    const response = await send(getTarget(), '/v1/kv/app/config');
    const [entry] = okJson<DirEntry[]>(response, 'GET app/config');
    assert.deepEqual(Object.keys(entry!), ['LockIndex', 'Key', 'Flags', 'Value', 'CreateIndex', 'ModifyIndex']);
    assert.deepEqual({ ...entry, CreateIndex: 0, ModifyIndex: 0 }, { LockIndex: 0, Key: 'app/config', Flags: 0, Value: 'aGVsbG8=', CreateIndex: 0, ModifyIndex: 0 });
    assert.equal(entry!.CreateIndex, entry!.ModifyIndex);
    assert.equal(consulIndex(response), entry!.ModifyIndex);
    assert.equal(header(response, 'x-consul-knownleader'), 'true');
    assert.equal(header(response, 'x-consul-lastcontact'), '0');
  });

  it('answers ?raw with the exact bytes (binary too) as text/plain, nosniff, CSP sandbox', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0a, 0xc3]);
    await putKey(getTarget(), 'app/binary', bytes);
    const response = await send(getTarget(), '/v1/kv/app/binary?raw');
    assert.equal(response.status, 200);
    assert.equal(header(response, 'content-type'), 'text/plain');
    assert.equal(header(response, 'x-content-type-options'), 'nosniff');
    assert.equal(header(response, 'content-security-policy'), 'sandbox');
    consulIndex(response);
    const [entry] = await entries(getTarget(), '/v1/kv/app/binary');
    assert.deepEqual(Buffer.from(entry!.Value!, 'base64'), bytes);
  });

  it('stores an empty value as Value null and answers ?raw with an empty body', async () => {
    await putKey(getTarget(), 'app/empty');
    const [entry] = await entries(getTarget(), '/v1/kv/app/empty');
    assert.equal(entry!.Value, null);
    const raw = await send(getTarget(), '/v1/kv/app/empty?raw');
    assert.deepEqual([raw.status, raw.text], [200, '']);
  });

  it('keeps flags, up to the largest uint64', async () => {
    await putKey(getTarget(), 'app/flags', 'x', '?flags=42');
    assert.equal((await entries(getTarget(), '/v1/kv/app/flags'))[0]!.Flags, 42);
    await putKey(getTarget(), 'app/flags', 'x', '?flags=18446744073709551615');
    const response = await send(getTarget(), '/v1/kv/app/flags');
    assert.match(response.text, /^ {8}"Flags": 18446744073709551615,$/m);
  });

  it('keeps CreateIndex and raises ModifyIndex on an update; an identical write changes nothing', async () => {
    const [before] = await entries(getTarget(), '/v1/kv/app/config');
    await putKey(getTarget(), 'app/config', 'hello again');
    const [after] = await entries(getTarget(), '/v1/kv/app/config');
    assert.equal(after!.CreateIndex, before!.CreateIndex);
    assert.ok(after!.ModifyIndex > before!.ModifyIndex);
    await putKey(getTarget(), 'app/config', 'hello again');
    const [same] = await entries(getTarget(), '/v1/kv/app/config');
    assert.equal(same!.ModifyIndex, after!.ModifyIndex);
  });

  it('cas=0 creates only; cas=N writes only over ModifyIndex N; each answers true or false', async () => {
    assert.equal(answered(await put(getTarget(), '/v1/kv/cas/k?cas=0', 'v1'), 'create'), true);
    assert.equal(answered(await put(getTarget(), '/v1/kv/cas/k?cas=0', 'v2'), 'create again'), false);
    const [entry] = await entries(getTarget(), '/v1/kv/cas/k');
    assert.equal(answered(await put(getTarget(), `/v1/kv/cas/k?cas=${entry!.ModifyIndex + 1000}`, 'v2'), 'stale index'), false);
    assert.equal(answered(await put(getTarget(), '/v1/kv/cas/missing?cas=5', 'v'), 'missing key'), false);
    assert.equal(answered(await put(getTarget(), `/v1/kv/cas/k?cas=${entry!.ModifyIndex}`, 'v2'), 'current index'), true);
    assertNotFound(await send(getTarget(), '/v1/kv/cas/missing'), 'a failed cas creates nothing');
    assert.equal(Buffer.from((await entries(getTarget(), '/v1/kv/cas/k'))[0]!.Value!, 'base64').toString(), 'v2');
  });

  it('answers a missing key with 404, an empty body and an index; GET /v1/kv/ with 400 "Missing key name"', async () => {
    assertNotFound(await send(getTarget(), '/v1/kv/nothing/here'), 'missing key');
    assertNotFound(await send(getTarget(), '/v1/kv/nothing/here?raw'), 'missing key, raw');
    assertError(await send(getTarget(), '/v1/kv/'), 400, 'Missing key name', 'GET without a key');
  });

  it('lists keys, folded at ?separator (and the old ?seperator spelling)', async () => {
    for (const key of ['web/a', 'web/b/c', 'web/b/d', 'web/e/f/g', 'webx']) await putKey(getTarget(), key, key);
    const keys = async (query: string): Promise<string[]> => okJson<string[]>(await send(getTarget(), `/v1/kv/${query}`), query);
    assert.deepEqual(await keys('web?keys&separator=/'), ['web/', 'webx']);
    assert.deepEqual(await keys('web/?keys&separator=/'), ['web/a', 'web/b/', 'web/e/']);
    assert.deepEqual(await keys('web/?keys&seperator=/'), ['web/a', 'web/b/', 'web/e/']);
    assert.deepEqual(await keys('web/?keys'), ['web/a', 'web/b/c', 'web/b/d', 'web/e/f/g']);
    assert.deepEqual(await keys('web/?keys&separator=b'), ['web/a', 'web/b', 'web/e/f/g']);
    const root = await keys('?keys&separator=/');
    assert.ok(root.includes('web/') && root.includes('app/') && root.includes('webx'), JSON.stringify(root));
    assertNotFound(await send(getTarget(), '/v1/kv/zzz/?keys'), 'keys of an empty prefix');
  });

  it('answers ?recurse with every entry under the prefix, in key order, or 404', async () => {
    const listed = await entries(getTarget(), '/v1/kv/web?recurse');
    assert.deepEqual(
      listed.map((e) => e.Key),
      ['web/a', 'web/b/c', 'web/b/d', 'web/e/f/g', 'webx'],
    );
    assert.equal(Buffer.from(listed[1]!.Value!, 'base64').toString(), 'web/b/c');
    assertNotFound(await send(getTarget(), '/v1/kv/zzz?recurse'), 'recurse of an empty prefix');
  });

  it('deletes a key (true), a missing one (true), by cas (false on another index, true on its own)', async () => {
    await putKey(getTarget(), 'del/one', '1');
    await putKey(getTarget(), 'del/two', '2');
    assert.equal(answered(await send(getTarget(), '/v1/kv/del/one', { method: 'DELETE' }), 'delete'), true);
    assertNotFound(await send(getTarget(), '/v1/kv/del/one'), 'deleted key');
    assert.equal(answered(await send(getTarget(), '/v1/kv/del/none', { method: 'DELETE' }), 'delete missing'), true);
    const [two] = await entries(getTarget(), '/v1/kv/del/two');
    assert.equal(answered(await send(getTarget(), `/v1/kv/del/two?cas=${two!.ModifyIndex + 1000}`, { method: 'DELETE' }), 'cas mismatch'), false);
    assert.equal((await entries(getTarget(), '/v1/kv/del/two')).length, 1);
    assert.equal(answered(await send(getTarget(), `/v1/kv/del/two?cas=${two!.ModifyIndex}`, { method: 'DELETE' }), 'cas match'), true);
    assertNotFound(await send(getTarget(), '/v1/kv/del/two'), 'cas-deleted key');
  });

  it('deletes a tree with ?recurse (only under the prefix), and the list’s index moves', async () => {
    const before = consulIndex(await send(getTarget(), '/v1/kv/web/?keys'));
    assert.equal(answered(await send(getTarget(), '/v1/kv/web/b?recurse', { method: 'DELETE' }), 'delete tree'), true);
    const response = await send(getTarget(), '/v1/kv/web/?keys');
    assert.deepEqual(okJson(response, 'keys after'), ['web/a', 'web/e/f/g']);
    assert.ok(consulIndex(response) > before);
    assertNotFound(await send(getTarget(), '/v1/kv/web/b?keys'), 'deleted tree');
    assert.equal(answered(await send(getTarget(), '/v1/kv/web/?recurse', { method: 'DELETE' }), 'delete web/'), true);
    assert.deepEqual(
      (await entries(getTarget(), '/v1/kv/web?recurse')).map((e) => e.Key),
      ['webx'],
    );
  });

  it('refuses bad parameters with Consul’s status codes and texts', async () => {
    const cases: [string, 'PUT' | 'DELETE' | 'GET', number, string][] = [
      ['/v1/kv/bad?flags=x', 'PUT', 500, 'strconv.ParseUint: parsing "x": invalid syntax'],
      ['/v1/kv/bad?flags=-1', 'PUT', 500, 'strconv.ParseUint: parsing "-1": invalid syntax'],
      ['/v1/kv/bad?flags=', 'PUT', 500, 'strconv.ParseUint: parsing "": invalid syntax'],
      ['/v1/kv/bad?flags=18446744073709551616', 'PUT', 500, 'strconv.ParseUint: parsing "18446744073709551616": value out of range'],
      ['/v1/kv/bad?cas=abc', 'PUT', 500, 'strconv.ParseUint: parsing "abc": invalid syntax'],
      ['/v1/kv/bad?cas=1&acquire=x', 'PUT', 400, 'Conflicting flags: acquire=x&cas=1'],
      ['/v1/kv/bad?release=s&cas=1', 'PUT', 400, 'Conflicting flags: cas=1&release=s'],
      ['/v1/kv/bad?acquire=x', 'PUT', 500, 'raft apply failed: invalid session "x"'],
      ['/v1/kv/bad?acquire=', 'PUT', 500, 'raft apply failed: missing session'],
      ['/v1/kv/', 'PUT', 400, 'Missing key name'],
      ['/v1/kv/bad?index=abc', 'PUT', 400, 'Invalid index'],
      ['/v1/kv/bad?wait=zz', 'DELETE', 400, 'Invalid wait time'],
      ['/v1/kv/bad?cas=x', 'DELETE', 500, 'strconv.ParseUint: parsing "x": invalid syntax'],
      ['/v1/kv/bad?recurse&cas=1', 'DELETE', 400, 'Conflicting flags: cas=1&recurse='],
      ['/v1/kv/', 'DELETE', 400, 'Missing key name'],
      ['/v1/kv/bad?index=-1', 'GET', 400, 'Invalid index'],
    ];
    for (const [path, method, status, text] of cases) {
      assertError(await send(getTarget(), path, { method, body: method === 'PUT' ? 'v' : undefined }), status, text, `${method} ${path}`);
    }
    assertNotFound(await send(getTarget(), '/v1/kv/bad'), 'no refused write stored anything');
    assert.equal(answered(await put(getTarget(), '/v1/kv/bad?release=s', 'v'), 'release without a session'), false);
  });

  it('refuses a value above 512 KiB with 413 and Consul’s text, and takes one of exactly 512 KiB', async () => {
    assertError(
      await put(getTarget(), '/v1/kv/big', Buffer.alloc(MAX_VALUE + 1, 0x61)),
      413,
      `Request body(${MAX_VALUE + 1} bytes) too large, max size: ${MAX_VALUE} bytes. See https://www.consul.io/docs/agent/config/config-files#kv_max_value_size.`,
      'PUT 512 KiB + 1',
    );
    assertNotFound(await send(getTarget(), '/v1/kv/big'), 'nothing stored');
    await putKey(getTarget(), 'big', Buffer.alloc(MAX_VALUE, 0x61));
    assert.equal((await send(getTarget(), '/v1/kv/big?raw')).text.length, MAX_VALUE);
  });

  it('answers 405 to another method, naming GET, PUT and DELETE; OPTIONS lists them', async () => {
    const post = await send(getTarget(), '/v1/kv/app/config', { method: 'POST' });
    assertError(post, 405, 'method POST not allowed', 'POST');
    assert.equal(header(post, 'allow'), 'OPTIONS,GET,PUT,DELETE');
  });

  it('holds a read of an unchanged key for ?wait and answers with the same index', async () => {
    const index = consulIndex(await send(getTarget(), '/v1/kv/app/config'));
    const response = await send(getTarget(), `/v1/kv/app/config?index=${index}&wait=1s`);
    assert.equal(response.status, 200);
    assert.equal(consulIndex(response), index);
    assert.ok(response.elapsedMs >= 900, `held ${response.elapsedMs} ms`);
    assert.ok(response.elapsedMs < 1000 + 1000 / 16 + WAIT_SLACK_MS, `held ${response.elapsedMs} ms`);
  });

  it('wakes a blocked key read within 1 s of a put, with a higher index and the new value', async () => {
    const index = consulIndex(await send(getTarget(), '/v1/kv/app/config'));
    const blocked = send(getTarget(), `/v1/kv/app/config?index=${index}&wait=10s`);
    await sleep(300);
    const woke = performance.now();
    await putKey(getTarget(), 'app/config', 'changed');
    const response = await blocked;
    assert.ok(performance.now() - woke < 1000, 'woken within 1 s');
    assert.ok(consulIndex(response) > index);
    const [entry] = okJson<DirEntry[]>(response, 'woken read');
    assert.equal(Buffer.from(entry!.Value!, 'base64').toString(), 'changed');
  });

  it('does not wake a blocked key read for a write to another key', async () => {
    const index = consulIndex(await send(getTarget(), '/v1/kv/app/config'));
    const blocked = send(getTarget(), `/v1/kv/app/config?index=${index}&wait=1s`);
    await sleep(200);
    await putKey(getTarget(), 'elsewhere/key', String(Date.now()));
    const response = await blocked;
    assert.equal(consulIndex(response), index);
    assert.ok(response.elapsedMs >= 900, `held ${response.elapsedMs} ms`);
  });

  it('wakes a blocked ?recurse and ?keys read for a put under the prefix', async () => {
    await putKey(getTarget(), 'watch/a', '1');
    const index = consulIndex(await send(getTarget(), '/v1/kv/watch/?recurse'));
    const recurse = send(getTarget(), `/v1/kv/watch/?recurse&index=${index}&wait=10s`);
    const keys = send(getTarget(), `/v1/kv/watch/?keys&index=${index}&wait=10s`);
    await sleep(300);
    const woke = performance.now();
    await putKey(getTarget(), 'watch/b', '2');
    const [listed, keyList] = await Promise.all([recurse, keys]);
    assert.ok(performance.now() - woke < 1000, 'woken within 1 s');
    assert.deepEqual(
      okJson<DirEntry[]>(listed, 'recurse').map((e) => e.Key),
      ['watch/a', 'watch/b'],
    );
    assert.deepEqual(okJson(keyList, 'keys'), ['watch/a', 'watch/b']);
    assert.ok(consulIndex(listed) > index && consulIndex(keyList) > index);
  });

  it('wakes a blocked read of a key that is deleted, with 404', async () => {
    const index = consulIndex(await send(getTarget(), '/v1/kv/watch/a'));
    const blocked = send(getTarget(), `/v1/kv/watch/a?index=${index}&wait=10s`);
    await sleep(300);
    await send(getTarget(), '/v1/kv/watch/a', { method: 'DELETE' });
    const response = await blocked;
    assertNotFound(response, 'woken by the delete');
    assert.ok(consulIndex(response) > index);
  });

  it('holds a read of a missing key until it is created', async () => {
    const index = consulIndex(await send(getTarget(), '/v1/kv/watch/later'));
    const blocked = send(getTarget(), `/v1/kv/watch/later?index=${index}&wait=10s`);
    await sleep(300);
    await putKey(getTarget(), 'watch/later', 'now');
    const response = await blocked;
    assert.equal(okJson<DirEntry[]>(response, 'created')[0]!.Key, 'watch/later');
    assert.ok(response.elapsedMs < 5000);
  });

  it('empties the whole store with DELETE /v1/kv/?recurse: keys answers [], recurse 404', async () => {
    assert.equal(answered(await send(getTarget(), '/v1/kv/?recurse', { method: 'DELETE' }), 'delete all'), true);
    assert.deepEqual(okJson(await send(getTarget(), '/v1/kv/?keys'), 'keys'), []);
    assertNotFound(await send(getTarget(), '/v1/kv/?recurse'), 'recurse of an empty store');
  });
});

const TOKEN = '3f1b6a52-8c1e-4d2a-9b7f-0c5e2d4a6b81';
const WRONG = '00000000-1111-2222-3333-444444444444';
const withToken = { 'X-Consul-Token': TOKEN };

forEachTarget(
  'KV with ACLs (default deny)',
  (getTarget) => {
    it('writes and reads with the token', async () => {
      assert.equal(answered(await put(getTarget(), '/v1/kv/app/x', '1', withToken), 'PUT with token'), true);
      const response = await send(getTarget(), '/v1/kv/app/x', { headers: withToken });
      assert.equal(okJson<DirEntry[]>(response, 'GET with token')[0]!.Key, 'app/x');
      assert.deepEqual(okJson(await send(getTarget(), '/v1/kv/?keys', { headers: { Authorization: `Bearer ${TOKEN}` } }), 'keys'), ['app/x']);
    });

    it('refuses anonymous writes with 403 and the key:write text', async () => {
      assertError(await put(getTarget(), '/v1/kv/app/y', '1'), 403, anonymousKey('write', 'app/y'), 'PUT');
      assertError(await put(getTarget(), '/v1/kv/app/x?cas=0', '1'), 403, anonymousKey('write', 'app/x'), 'PUT cas');
      assertError(await send(getTarget(), '/v1/kv/app/x', { method: 'DELETE' }), 403, anonymousKey('write', 'app/x'), 'DELETE');
      assertError(await send(getTarget(), '/v1/kv/app?recurse', { method: 'DELETE' }), 403, anonymousKey('write', 'app'), 'DELETE tree');
      assertError(
        await send(getTarget(), '/v1/kv/?recurse', { method: 'DELETE' }),
        403,
        `Permission denied: anonymous token lacks permission 'key:write'. ${ANONYMOUS}`,
        'DELETE everything',
      );
    });

    it('refuses an anonymous read of one key, present or not, with 403 and the key:read text', async () => {
      assertError(await send(getTarget(), '/v1/kv/app/x'), 403, anonymousKey('read', 'app/x'), 'GET');
      assertError(await send(getTarget(), '/v1/kv/app/x?raw'), 403, anonymousKey('read', 'app/x'), 'GET raw');
      assertError(await send(getTarget(), '/v1/kv/app/missing'), 403, anonymousKey('read', 'app/missing'), 'GET missing');
    });

    it('answers anonymous lists with everything filtered out: 404, or [] for the root’s keys', async () => {
      assertNotFound(await send(getTarget(), '/v1/kv/app?recurse'), 'recurse');
      assertNotFound(await send(getTarget(), '/v1/kv/app?keys'), 'keys');
      assertNotFound(await send(getTarget(), '/v1/kv/?recurse'), 'recurse root');
      const root = await send(getTarget(), '/v1/kv/?keys');
      assert.deepEqual(okJson(root, 'root keys'), []);
      consulIndex(root);
    });

    it('refuses any KV request with a wrong token with 403 "ACL not found"', async () => {
      const wrong = { 'X-Consul-Token': WRONG };
      assertError(await put(getTarget(), '/v1/kv/app/y', '1', wrong), 403, 'ACL not found', 'PUT');
      assertError(await send(getTarget(), '/v1/kv/app/x', { headers: wrong }), 403, 'ACL not found', 'GET');
      assertError(await send(getTarget(), '/v1/kv/app?recurse', { headers: wrong }), 403, 'ACL not found', 'recurse');
      assertError(await send(getTarget(), '/v1/kv/?keys', { headers: wrong }), 403, 'ACL not found', 'keys');
      assertError(await send(getTarget(), '/v1/kv/app/x', { method: 'DELETE', headers: wrong }), 403, 'ACL not found', 'DELETE');
    });

    it('checks the parameters and the size before the token', async () => {
      assertError(await put(getTarget(), '/v1/kv/app/x?flags=zz', '1'), 500, 'strconv.ParseUint: parsing "zz": invalid syntax', 'flags');
      assertError(await put(getTarget(), '/v1/kv/', '1'), 400, 'Missing key name', 'no key');
      const big = await put(getTarget(), '/v1/kv/app/big', Buffer.alloc(MAX_VALUE + 1), { 'X-Consul-Token': WRONG });
      assert.equal(big.status, 413);
    });
  },
  { token: TOKEN },
);
