import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { goSyntaxError, parseJson } from '../../src/registry/decode-json.js';
import { RegistryHttpError } from '../../src/registry/http-error.js';

describe('Go JSON syntax errors', () => {
  it('names the first offending character and what was expected', () => {
    assert.equal(goSyntaxError('{"a" 1}'), "invalid character '1' after object key");
    assert.equal(goSyntaxError('{"a":1 "b"}'), "invalid character '\"' after object key:value pair");
    assert.equal(goSyntaxError('[1,}'), "invalid character '}' looking for beginning of value");
    assert.equal(goSyntaxError('{"a":'), 'unexpected EOF');
  });

  it('agrees with JSON.parse on what is valid: parseJson refuses exactly what JSON.parse refuses, with a 400', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        let valid = text.trim() !== '';
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        try {
          parseJson(text);
          return valid;
        } catch (error) {
          return !valid && error instanceof RegistryHttpError && error.status === 400 && error.body.startsWith('Request decode failed: ');
        }
      }),
    );
  });
});
