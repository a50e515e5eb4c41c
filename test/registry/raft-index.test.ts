import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RaftIndex } from '../../src/registry/raft-index.js';
import { newCatalog, service } from './fixtures.js';

describe('the shared raft index', () => {
  it('rises by one per write and tells every listener once per announced change', () => {
    const index = new RaftIndex();
    const heard: number[] = [];
    const stop = index.onChange(() => heard.push(index.current()));
    assert.equal(index.current(), 0);
    assert.equal(index.next(), 1);
    assert.equal(index.next(), 2);
    assert.deepEqual(heard, [], 'taking an index announces nothing');
    index.changed();
    stop();
    index.changed();
    assert.deepEqual(heard, [2]);
  });

  it('is the one the catalog raises: a write elsewhere (KV) takes the next index after the catalog\'s, and catalog writes announce themselves', () => {
    const catalog = newCatalog();
    let announced = 0;
    catalog.raftIndex.onChange(() => (announced += 1));
    const before = catalog.currentIndex();
    assert.equal(catalog.nextIndex(), before + 1);
    catalog.registerService(service('web', 'web'), []);
    assert.equal(catalog.currentIndex(), before + 2);
    assert.equal(announced, 1);
  });
});
