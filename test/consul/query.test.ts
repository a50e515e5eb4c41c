import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseQueryMeta, queryParams, requestTimeoutMs } from '../../src/consul/query.js';
import { isFarolError } from '../../src/errors.js';

describe('query options and response metadata', () => {
  it('reads X-Consul-Index, -KnownLeader, -LastContact and -Results-Filtered-By-ACLs', () => {
    assert.deepEqual(
      parseQueryMeta({
        'x-consul-index': '1234',
        'x-consul-knownleader': 'true',
        'x-consul-lastcontact': '15',
        'x-consul-results-filtered-by-acls': 'true',
      }),
      { lastIndex: 1234, knownLeader: true, lastContactMs: 15, resultsFilteredByAcls: true },
    );
  });

  it('falls back to 0 / false when headers are missing or malformed', () => {
    assert.deepEqual(parseQueryMeta({ 'x-consul-index': 'abc', 'x-consul-lastcontact': '-3' }), {
      lastIndex: 0,
      knownLeader: false,
      lastContactMs: 0,
      resultsFilteredByAcls: false,
    });
  });

  it('sends index only when it is not 0, like the Go client', () => {
    assert.deepEqual(queryParams({ index: 0, wait: '30s' }), { wait: '30s' });
    assert.deepEqual(queryParams({ index: 7, wait: '30s' }), { index: '7', wait: '30s' });
    assert.deepEqual(queryParams(), {});
  });

  it('refuses a wait that is not a Go duration before sending anything', () => {
    assert.throws(() => queryParams({ index: 3, wait: '30' }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
  });

  it('gives an ordinary read the base timeout', () => {
    assert.equal(requestTimeoutMs({ wait: '1m' }, 10_000), 10_000);
  });

  it('gives a blocking query wait + wait/16 + the base timeout', () => {
    assert.equal(requestTimeoutMs({ index: 5, wait: '32s' }, 10_000), 32_000 + 2_000 + 10_000);
  });

  it("uses Consul's 5 minute default wait, and caps the wait at Consul's 10 minute maximum", () => {
    assert.equal(requestTimeoutMs({ index: 5 }, 1000), 300_000 + 18_750 + 1000);
    assert.equal(requestTimeoutMs({ index: 5, wait: '1h' }, 1000), 600_000 + 37_500 + 1000);
  });
});
