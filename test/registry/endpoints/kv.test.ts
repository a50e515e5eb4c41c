import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IndexWaiters } from '../../../src/registry/blocking.js';
import { goEncodeQuery, parseUint64, renderEntries } from '../../../src/registry/endpoints/kv.js';
import type { KvEntry } from '../../../src/registry/kv.js';
import { RegistryApi, type ApiResponse } from '../../../src/registry/router.js';
import { FakeClock } from '../fake-clock.js';
import { newCatalog } from '../fixtures.js';

function setup() {
  const catalog = newCatalog();
  const clock = new FakeClock();
  const api = new RegistryApi({ catalog, waiters: new IndexWaiters(clock), serverAddress: '127.0.0.1:8300', random: () => 0 });
  const send = (method: string, url: string, body: string | Buffer = ''): Promise<ApiResponse> =>
    api.handle({
      method,
      url,
      headers: {},
      body: body.toString(),
      ...(Buffer.isBuffer(body) ? { bodyBytes: body } : {}),
    });
  return { catalog, clock, send };
}

const index = (res: ApiResponse): number => Number(res.headers['x-consul-index']);
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('KV endpoint helpers', () => {
  it('parseUint64 accepts what Go’s strconv.ParseUint(s, 10, 64) accepts, with its error texts', () => {
    assert.equal(parseUint64('0'), 0n);
    assert.equal(parseUint64('18446744073709551615'), 18446744073709551615n);
    assert.deepEqual(parseUint64('18446744073709551616'), { error: 'strconv.ParseUint: parsing "18446744073709551616": value out of range' });
    assert.deepEqual(parseUint64('99999999999999999999x'), { error: 'strconv.ParseUint: parsing "99999999999999999999x": value out of range' });
    for (const bad of ['', '-1', '+1', '1.0', ' 1', '0x10', '1_000']) {
      assert.deepEqual(parseUint64(bad), { error: `strconv.ParseUint: parsing ${JSON.stringify(bad)}: invalid syntax` }, bad);
    }
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 18446744073709551615n }), (n) => {
        assert.equal(parseUint64(n.toString()), n);
      }),
    );
  });

  it('goEncodeQuery sorts keys and escapes as Go’s url.Values.Encode', () => {
    assert.equal(goEncodeQuery(new URLSearchParams('release=s&cas=1')), 'cas=1&release=s');
    assert.equal(goEncodeQuery(new URLSearchParams('recurse&cas=1')), 'cas=1&recurse=');
    assert.equal(goEncodeQuery(new URLSearchParams('b=2&a=x y&a=(!)~')), 'a=x+y&a=%28%21%29~&b=2');
  });

  it('renders entries as Consul: exact uint64 flags, Value null when empty, Session only when held', () => {
    const entry: KvEntry = {
      key: 'odd\n"Flags": "7"',
      flags: 18446744073709551615n,
      value: Buffer.alloc(0),
      createIndex: 5,
      modifyIndex: 6,
      lockIndex: 0,
      session: '',
    };
    const parsed = JSON.parse(renderEntries([entry]).replace(/: (\d{16,})/, ': "$1"')) as Record<string, unknown>[];
    assert.deepEqual(parsed, [{ LockIndex: 0, Key: 'odd\n"Flags": "7"', Flags: '18446744073709551615', Value: null, CreateIndex: 5, ModifyIndex: 6 }]);
    assert.match(renderEntries([entry]), /^ {8}"Flags": 18446744073709551615,$/m);
    assert.match(renderEntries([{ ...entry, session: 's-1' }]), /"Session": "s-1",/);
  });
});

describe('KV over the registry API (no sockets)', () => {
  it('shares one rising index with the catalog', async () => {
    const { send } = setup();
    await send('PUT', '/v1/agent/service/register', '{"Name":"web"}');
    const catalogIndex = index(await send('GET', '/v1/catalog/services'));
    await send('PUT', '/v1/kv/a', 'x');
    const kvIndex = index(await send('GET', '/v1/kv/a'));
    assert.ok(kvIndex > catalogIndex);
    await send('PUT', '/v1/agent/service/register', '{"Name":"db"}');
    assert.ok(index(await send('GET', '/v1/catalog/services')) > kvIndex);
    assert.equal(index(await send('GET', '/v1/kv/a')), kvIndex, 'a catalog write does not move a key’s index');
  });

  it('keeps binary values byte for byte', async () => {
    const { send } = setup();
    const bytes = Buffer.from([0, 0xff, 0xfe, 0x80]);
    await send('PUT', '/v1/kv/bin', bytes);
    const raw = await send('GET', '/v1/kv/bin?raw');
    assert.deepEqual(raw.body, bytes);
  });

  it('a KV write wakes a blocked KV read but not a blocked health read, and a catalog write does not wake the KV read', async () => {
    const { send } = setup();
    await send('PUT', '/v1/agent/service/register', '{"Name":"web"}');
    await send('PUT', '/v1/kv/k', '1');
    const healthIndex = index(await send('GET', '/v1/health/service/web'));
    const keyIndex = index(await send('GET', '/v1/kv/k'));
    let health: ApiResponse | undefined;
    let key: ApiResponse | undefined;
    void send('GET', `/v1/health/service/web?index=${healthIndex}&wait=1m`).then((r) => (health = r));
    void send('GET', `/v1/kv/k?index=${keyIndex}&wait=1m`).then((r) => (key = r));
    await send('PUT', '/v1/agent/service/register', '{"Name":"other"}');
    await send('PUT', '/v1/kv/elsewhere', '1');
    await settle();
    assert.deepEqual([health, key], [undefined, undefined]);
    await send('PUT', '/v1/kv/k', '2');
    await settle();
    assert.ok(key && index(key) > keyIndex);
    assert.equal(health, undefined);
  });

  it('answers a blocked read with the same index once the wait runs out', async () => {
    const { send, clock } = setup();
    await send('PUT', '/v1/kv/k', '1');
    const keyIndex = index(await send('GET', '/v1/kv/k'));
    const pending = send('GET', `/v1/kv/k?index=${keyIndex}&wait=2s`);
    await settle();
    clock.advance(2000);
    const res = await pending;
    assert.deepEqual([res.status, index(res)], [200, keyIndex]);
  });
});
