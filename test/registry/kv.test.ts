import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareKeys, foldKeys, KvApplyError, KvStore, type KvDelete, type KvWrite } from '../../src/registry/kv.js';

function newStore(start = 0): { store: KvStore; notified: () => number; index: () => number } {
  let index = start;
  let notifications = 0;
  const store = new KvStore({
    nextIndex: () => (index += 1),
    notify: () => {
      notifications += 1;
    },
  });
  return { store, notified: () => notifications, index: () => index };
}

const buf = (text: string) => Buffer.from(text);
const set = (key: string, value: string, flags = 0n): KvWrite => ({ op: 'set', key, value: buf(value), flags });
const cas = (key: string, value: string, at: number): KvWrite => ({ op: 'cas', key, value: buf(value), flags: 0n, cas: at });

describe('KV store: writes', () => {
  it('creates an entry with CreateIndex = ModifyIndex from the shared index, and notifies', () => {
    const { store, notified } = newStore(41);
    assert.equal(store.put(set('foo', 'bar', 42n)), true);
    assert.deepEqual(store.get('foo'), { key: 'foo', flags: 42n, value: buf('bar'), createIndex: 42, modifyIndex: 42, lockIndex: 0, session: '' });
    assert.equal(store.maxIndex(), 42);
    assert.equal(notified(), 1);
  });

  it('keeps CreateIndex and raises ModifyIndex on an update', () => {
    const { store } = newStore();
    store.put(set('foo', 'a'));
    store.put(set('foo', 'b'));
    assert.deepEqual([store.get('foo')?.createIndex, store.get('foo')?.modifyIndex], [1, 2]);
  });

  it('changes nothing, not even an index, when the same value and flags are written again', () => {
    const { store, notified, index } = newStore();
    store.put(set('foo', 'a', 7n));
    assert.equal(store.put(set('foo', 'a', 7n)), true);
    assert.deepEqual([store.get('foo')?.modifyIndex, index(), notified()], [1, 1, 1]);
  });

  it('keeps uint64 flags exactly', () => {
    const { store } = newStore();
    store.put(set('f', '', 18446744073709551615n));
    assert.equal(store.get('f')?.flags, 18446744073709551615n);
  });

  it('cas=0 creates only; cas=N writes only over ModifyIndex N', () => {
    const { store } = newStore();
    assert.equal(store.put(cas('k', 'v1', 0)), true);
    assert.equal(store.put(cas('k', 'v2', 0)), false);
    assert.equal(store.put(cas('k', 'v2', 99)), false);
    assert.equal(store.put(cas('missing', 'v', 1)), false);
    assert.equal(store.put(cas('k', 'v2', 1)), true);
    assert.equal(store.get('k')?.value.toString(), 'v2');
    assert.equal(store.get('missing'), undefined);
  });

  it('refuses to lock without sessions with Consul’s texts, and answers false to an unlock', () => {
    const { store } = newStore();
    store.put(set('k', 'v'));
    const lock = (session: string): KvWrite => ({ op: 'lock', key: 'k', value: buf(''), flags: 0n, session });
    assert.throws(() => store.put(lock('')), (e: unknown) => e instanceof KvApplyError && e.message === 'missing session');
    assert.throws(() => store.put(lock('x')), (e: unknown) => e instanceof KvApplyError && e.message === 'invalid session "x"');
    assert.equal(store.put({ op: 'unlock', key: 'k', value: buf(''), flags: 0n, session: 'x' }), false);
    assert.equal(store.put({ op: 'unlock', key: 'nope', value: buf(''), flags: 0n, session: 'x' }), false);
  });
});

describe('KV store: deletes', () => {
  it('deletes a key (true), and a missing key changes nothing (still true)', () => {
    const { store, index } = newStore();
    store.put(set('a', '1'));
    assert.equal(store.delete({ op: 'delete', key: 'nope' }), true);
    assert.equal(index(), 1);
    assert.equal(store.delete({ op: 'delete', key: 'a' }), true);
    assert.deepEqual([store.get('a'), store.maxIndex()], [undefined, 2]);
  });

  it('delete-cas: false on a different index, true on the same one or on a missing key', () => {
    const { store } = newStore();
    store.put(set('a', '1'));
    assert.equal(store.delete({ op: 'delete-cas', key: 'a', cas: 5 }), false);
    assert.ok(store.get('a'));
    assert.equal(store.delete({ op: 'delete-cas', key: 'a', cas: 1 }), true);
    assert.equal(store.delete({ op: 'delete-cas', key: 'a', cas: 7 }), true);
    assert.equal(store.get('a'), undefined);
  });

  it('deletes a tree by prefix (not the keys that only share a string prefix with "web/")', () => {
    const { store } = newStore();
    for (const key of ['web/a', 'web/b/c', 'webx', 'other']) store.put(set(key, key));
    store.delete({ op: 'delete-tree', prefix: 'web/' });
    assert.deepEqual(store.keys(''), ['other', 'webx']);
  });

  it('an empty tree delete changes nothing; the whole store can be emptied', () => {
    const { store, index } = newStore();
    store.put(set('a', '1'));
    store.delete({ op: 'delete-tree', prefix: 'zz' });
    assert.equal(index(), 1);
    store.delete({ op: 'delete-tree', prefix: '' });
    assert.deepEqual([store.size, store.maxIndex()], [0, 2]);
  });
});

describe('KV store: reads and their indexes', () => {
  it('a missing key answers with the store’s index', () => {
    const { store } = newStore();
    assert.equal(store.keyIndex('nope'), 0);
    store.put(set('a', '1'));
    store.put(set('b', '1'));
    assert.deepEqual([store.keyIndex('a'), store.keyIndex('nope')], [1, 2]);
  });

  it('a list answers with the highest index under its prefix, tombstones included, else the store’s', () => {
    const { store } = newStore();
    store.put(set('web/a', '1')); // 1
    store.put(set('web/b', '1')); // 2
    store.put(set('db/a', '1')); // 3
    assert.equal(store.listIndex('web/'), 2);
    store.delete({ op: 'delete', key: 'web/b' }); // 4
    store.put(set('db/b', '1')); // 5
    assert.equal(store.listIndex('web/'), 4, 'the delete of web/b moved the index of web/');
    assert.equal(store.listIndex('nothing/'), 5, 'no entry and no tombstone: the store’s index');
    assert.equal(store.listIndex(''), 5);
    store.delete({ op: 'delete-tree', prefix: 'db/' }); // 6
    assert.equal(store.listIndex('db/'), 6);
    assert.equal(store.listIndex('db/a'), 6, 'no tombstone starts with db/a: the store’s index');
  });

  it('forgets the oldest tombstones beyond its bound', () => {
    let index = 0;
    const store = new KvStore({ nextIndex: () => (index += 1), maxTombstones: 2 });
    for (const key of ['a/1', 'b/1', 'c/1']) store.put(set(key, 'x'));
    for (const key of ['a/1', 'b/1', 'c/1']) store.delete({ op: 'delete', key });
    store.put(set('z', 'x'));
    assert.equal(store.listIndex('a/'), 7, 'a/1’s tombstone is gone: the store’s index');
    assert.equal(store.listIndex('b/'), 5);
  });

  it('lists keys with a separator as Consul does', () => {
    const { store } = newStore();
    for (const key of ['web/a', 'web/b/c', 'web/b/d', 'web/e/f/g', 'webx', 'other']) store.put(set(key, 'x'));
    assert.deepEqual(store.keys('web', '/'), ['web/', 'webx']);
    assert.deepEqual(store.keys('web/', '/'), ['web/a', 'web/b/', 'web/e/']);
    assert.deepEqual(store.keys('', '/'), ['other', 'web/', 'webx']);
    assert.deepEqual(store.keys('web/', 'b'), ['web/a', 'web/b', 'web/e/f/g']);
    assert.deepEqual(store.keys('web/', ''), ['web/a', 'web/b/c', 'web/b/d', 'web/e/f/g']);
  });

  it('orders keys by their UTF-8 bytes, as Consul’s radix tree does', () => {
    const { store } = newStore();
    for (const key of ['\u{1F600}', '\uFF21', 'a']) store.put(set(key, 'x'));
    assert.deepEqual(store.keys(''), ['a', '\uFF21', '\u{1F600}']);
  });
});

// ---- property tests against a plain model ----

const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', '/', '\u00e9', '\u{1F600}'), maxLength: 4 });
const valueArb = fc.constantFrom('', 'x', 'y');
const flagsArb = fc.constantFrom(0n, 1n, 18446744073709551615n);

type Op = { kind: 'put'; write: KvWrite } | { kind: 'delete'; request: KvDelete };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ key: keyArb, value: valueArb, flags: flagsArb }).map(({ key, value, flags }): Op => ({ kind: 'put', write: { op: 'set', key, value: buf(value), flags } })),
  fc
    .record({ key: keyArb, value: valueArb, flags: flagsArb, cas: fc.nat(30) })
    .map(({ key, value, flags, cas: at }): Op => ({ kind: 'put', write: { op: 'cas', key, value: buf(value), flags, cas: at } })),
  keyArb.map((key): Op => ({ kind: 'delete', request: { op: 'delete', key } })),
  fc.record({ key: keyArb, cas: fc.nat(30) }).map(({ key, cas: at }): Op => ({ kind: 'delete', request: { op: 'delete-cas', key, cas: at } })),
  keyArb.map((prefix): Op => ({ kind: 'delete', request: { op: 'delete-tree', prefix } })),
);

interface ModelEntry {
  value: string;
  flags: bigint;
  createIndex: number;
  modifyIndex: number;
}

/** The obvious implementation: a Map, a counter, Buffer.compare for order, a filter for prefixes. */
class Model {
  readonly entries = new Map<string, ModelEntry>();
  index = 0;

  apply(op: Op): boolean {
    if (op.kind === 'put') {
      const w = op.write;
      if (w.op !== 'set' && w.op !== 'cas') throw new Error('not modelled');
      const old = this.entries.get(w.key);
      if (w.op === 'cas') {
        if (w.cas === 0 && old) return false;
        if (w.cas !== 0 && old?.modifyIndex !== w.cas) return false;
      }
      const value = w.value.toString();
      if (old && old.value === value && old.flags === w.flags) return true;
      this.index += 1;
      this.entries.set(w.key, { value, flags: w.flags, createIndex: old?.createIndex ?? this.index, modifyIndex: this.index });
      return true;
    }
    const r = op.request;
    if (r.op === 'delete-tree') {
      const doomed = [...this.entries.keys()].filter((k) => k.startsWith(r.prefix));
      if (doomed.length > 0) this.index += 1;
      for (const k of doomed) this.entries.delete(k);
      return true;
    }
    const old = this.entries.get(r.key);
    if (!old) return true;
    if (r.op === 'delete-cas' && old.modifyIndex !== r.cas) return false;
    this.index += 1;
    this.entries.delete(r.key);
    return true;
  }

  sortedKeys(prefix: string): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }
}

/** Consul's fold, written the long way: split the rest at the first separator. */
function referenceFold(keys: string[], prefix: string, separator: string): string[] {
  const out: string[] = [];
  for (const key of keys) {
    const rest = key.slice(prefix.length);
    const cut = separator === '' ? -1 : rest.indexOf(separator);
    const listed = cut === -1 ? key : prefix + rest.slice(0, cut) + separator;
    if (!out.includes(listed)) out.push(listed);
  }
  return out;
}

describe('KV store: properties', () => {
  it('behaves as a plain Map model over any sequence of puts, cas, deletes and tree deletes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), fc.array(keyArb, { minLength: 1, maxLength: 5 }), (ops, probes) => {
        let index = 0;
        const store = new KvStore({ nextIndex: () => (index += 1) });
        const model = new Model();
        for (const op of ops) {
          const got = op.kind === 'put' ? store.put(op.write) : store.delete(op.request);
          assert.equal(got, model.apply(op), JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
          assert.equal(index, model.index, 'the store takes an index exactly when something changed');
          assert.equal(store.maxIndex(), model.index);
        }
        assert.deepEqual(store.keys(''), model.sortedKeys(''));
        for (const [key, entry] of model.entries) {
          const got = store.get(key);
          assert.deepEqual(
            got && { value: got.value.toString(), flags: got.flags, createIndex: got.createIndex, modifyIndex: got.modifyIndex },
            entry,
          );
        }
        for (const probe of probes) if (!model.entries.has(probe)) assert.equal(store.get(probe), undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('every change takes a strictly higher index than the one before', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        let index = 100;
        const seen: number[] = [];
        const store = new KvStore({
          nextIndex: () => (index += 3),
          notify: () => seen.push(store.maxIndex()),
        });
        for (const op of ops) if (op.kind === 'put') store.put(op.write);
        else store.delete(op.request);
        for (let i = 1; i < seen.length; i += 1) assert.ok(seen[i]! > seen[i - 1]!);
        for (const entry of store.list('')) {
          assert.ok(entry.createIndex <= entry.modifyIndex && entry.modifyIndex <= store.maxIndex());
        }
      }),
      { numRuns: 200 },
    );
  });

  it('recurse, keys and separator agree with a reference implementation', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(keyArb, { maxLength: 20 }),
        keyArb,
        fc.constantFrom('', '/', 'a', '\u{1F600}', 'a/'),
        (keys, prefix, separator) => {
          let index = 0;
          const store = new KvStore({ nextIndex: () => (index += 1) });
          for (const key of keys) store.put(set(key, key));
          const expected = keys.filter((k) => k.startsWith(prefix)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
          assert.deepEqual(
            store.list(prefix).map((e) => e.key),
            expected,
          );
          assert.deepEqual(store.keys(prefix, separator), referenceFold(expected, prefix, separator));
          assert.deepEqual(foldKeys(expected, prefix, separator), referenceFold(expected, prefix, separator));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('compareKeys orders as UTF-8 bytes do', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        assert.equal(Math.sign(compareKeys(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
    );
  });
});
