import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCheckUpdate } from '../../src/registry/decode-check.js';
import { refusal } from './refusal.js';

describe('check update decoding', () => {
  it('reads Status and Output', () => {
    assert.deepEqual(decodeCheckUpdate('{"Status":"warning","Output":"slow"}'), { status: 'warning', output: 'slow' });
  });

  it('refuses a bad status and unknown fields with Consul\'s texts', () => {
    assert.equal(refusal(() => decodeCheckUpdate('{"Status":"bogus"}')).body, "Invalid check status: 'bogus'");
    assert.equal(refusal(() => decodeCheckUpdate('{}')).body, "Invalid check status: ''");
    assert.equal(refusal(() => decodeCheckUpdate('{"Status":"passing","Foo":1}')).body, 'Request decode failed: json: unknown field "Foo"');
  });
});
