import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { consistencyParams, parseQueryMeta, queryParams, validateConsistency } from '../../src/consul/query.js';
import { DEFAULT_DISCOVERY_CONSISTENCY, stalenessOf, tooStaleError } from '../../src/consul/staleness.js';
import { isFarolError } from '../../src/errors.js';
import type { QueryMeta } from '../../src/consul/types.js';

const meta = (over: Partial<QueryMeta> = {}): QueryMeta => ({ lastIndex: 9, knownLeader: true, lastContactMs: 0, resultsFilteredByAcls: false, ...over });

describe('consistency modes, as Go QueryOptions.AllowStale / RequireConsistent send them', () => {
  it("sends nothing for 'default' (as Go does), ?stale for 'stale', ?consistent for 'consistent'", () => {
    assert.deepEqual(consistencyParams({}), {});
    assert.deepEqual(consistencyParams({ consistency: 'default' }), {});
    assert.deepEqual(consistencyParams({ consistency: 'stale' }), { stale: '' });
    assert.deepEqual(consistencyParams({ consistency: 'consistent' }), { consistent: '' });
    assert.deepEqual(queryParams({ index: 5, wait: '1m', consistency: 'stale' }), { index: '5', wait: '1m', stale: '' });
  });

  it('sends maxStaleMs as ?max_stale in Go duration form, whole milliseconds, at least 1 ms', () => {
    assert.deepEqual(consistencyParams({ consistency: 'stale', maxStaleMs: 5000 }), { stale: '', max_stale: '5s' });
    assert.deepEqual(consistencyParams({ maxStaleMs: 90_000 }), { max_stale: '1m30s' });
    assert.deepEqual(consistencyParams({ maxStaleMs: 0.2 }), { max_stale: '1ms' });
    assert.deepEqual(consistencyParams({ maxStaleMs: Number.MAX_VALUE }), { max_stale: '2562047h47m16.854s' });
  });

  it('refuses what Consul would refuse or what means nothing, as CONFIG_INVALID naming the option', () => {
    const invalid = (options: Record<string, unknown>, pattern: RegExp): void =>
      assert.throws(() => validateConsistency(options), (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && pattern.test(error.message));
    invalid({ consistency: 'strong' }, /Invalid consistency "strong"/);
    invalid({ consistency: 'consistent', maxStaleMs: 1000 }, /maxStaleMs bounds stale reads/);
    invalid({ consistency: 'default', maxStaleMs: 1000 }, /maxStaleMs bounds stale reads/);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5s']) invalid({ maxStaleMs: bad }, /Invalid maxStaleMs/);
  });

  it('never sends ?stale together with ?consistent, for any options that validate', () => {
    fc.assert(
      fc.property(fc.constantFrom(undefined, 'default', 'stale', 'consistent'), fc.option(fc.double({ min: -10, max: 1e15, noNaN: true }), { nil: undefined }), (consistency, maxStaleMs) => {
        let params: Record<string, string>;
        try {
          params = consistencyParams({ ...(consistency === undefined ? {} : { consistency }), ...(maxStaleMs === undefined ? {} : { maxStaleMs }) });
        } catch (error) {
          assert.ok(isFarolError(error, 'CONFIG_INVALID'));
          return;
        }
        assert.ok(!('consistent' in params && ('stale' in params || 'max_stale' in params)));
      }),
    );
  });

  it('reads X-Consul-Effective-Consistency when Consul sends it', () => {
    assert.equal(parseQueryMeta({ 'x-consul-effective-consistency': 'stale' }).effectiveConsistency, 'stale');
    assert.equal(parseQueryMeta({}).effectiveConsistency, undefined);
  });
});

describe('staleness of an answer', () => {
  it("discovery reads 'stale' by default, so it answers while there is no leader", () => {
    assert.equal(DEFAULT_DISCOVERY_CONSISTENCY, 'stale');
  });

  it('accepts any answer without maxStaleMs, and one at or under the bound', () => {
    assert.equal(tooStaleError('web', meta({ lastContactMs: 3_600_000, knownLeader: false }), undefined), undefined);
    assert.equal(tooStaleError('web', meta({ lastContactMs: 5000 }), 5000), undefined);
  });

  it('treats an answer staler than maxStaleMs as a failure that says how stale and whether a leader is known', () => {
    const error = tooStaleError('web', meta({ lastContactMs: 12_000, knownLeader: false }), 5000);
    assert.ok(isFarolError(error, 'CONSUL_ERROR'));
    assert.equal(error.message, "Consul's answer about 'web' is 12000 ms stale (X-Consul-LastContact; no leader is known), beyond maxStaleMs 5000");
    assert.deepEqual(error.details, { service: 'web', reason: 'stale', lastContactMs: 12_000, knownLeader: false, maxStaleMs: 5000 });
    assert.match(error.hint ?? '', /maxStaleMs/);
  });

  it('is a failure exactly when lastContactMs exceeds the bound', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 2 ** 40 }), fc.boolean(), (lastContactMs, maxStaleMs, knownLeader) => {
        const error = tooStaleError('s', meta({ lastContactMs, knownLeader }), maxStaleMs);
        assert.equal(error !== undefined, lastContactMs > maxStaleMs);
      }),
    );
  });

  it('gives the facts a watch update carries, with resultsFilteredByAcls always a boolean', () => {
    assert.deepEqual(stalenessOf({ lastIndex: 3, knownLeader: false, lastContactMs: 40 }), {
      lastIndex: 3,
      knownLeader: false,
      lastContactMs: 40,
      resultsFilteredByAcls: false,
    });
  });
});
