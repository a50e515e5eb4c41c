import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { accessRequirement, authorize } from '../../src/auth/authorization.js';
import type { Principal } from '../../src/auth/principal.js';
import { isFarolError } from '../../src/errors.js';

const reader: Principal = { kind: 'token', id: 'billing', scopes: ['orders:read'] };
const alice: Principal = { kind: 'user', id: 'alice' };
const payments: Principal = { kind: 'certificate', id: 'spiffe://farol.local/client/payments', groups: ['finance'] };

const scope = fc.stringMatching(/^[a-z]{1,6}(:[a-z]{1,6})?$/);

describe('authorize (route access for an authenticated principal)', () => {
  it('allows anyone authenticated when a route requires nothing', () => {
    assert.deepEqual(authorize(alice), { allowed: true });
    assert.deepEqual(authorize(alice, {}, undefined), { allowed: true });
  });

  it('requires every listed scope, and names the missing ones', () => {
    assert.deepEqual(authorize(reader, { scopes: ['orders:read'] }), { allowed: true });
    assert.deepEqual(authorize(reader, { scopes: ['orders:read', 'orders:write'] }), {
      allowed: false,
      reason: 'missing scope orders:write',
      missingScopes: ['orders:write'],
    });
  });

  it('refuses a scope-protected route to users and certificates, which hold no scopes', () => {
    const decision = authorize(alice, { scopes: ['orders:read'] });
    assert.equal(decision.allowed, false);
    assert.equal(authorize(payments, { scopes: ['finance'] }).allowed, false, 'a group is not a scope');
  });

  it('allows only the listed principals, groups and kinds', () => {
    assert.equal(authorize(alice, { principals: ['alice', 'bob'] }).allowed, true);
    assert.equal(authorize(reader, { principals: ['alice'] }).allowed, false);
    assert.equal(authorize(payments, { groups: ['ops', 'finance'] }).allowed, true);
    assert.equal(authorize(alice, { groups: ['finance'] }).allowed, false);
    assert.equal(authorize(payments, { kinds: ['certificate'] }).allowed, true);
    assert.deepEqual(authorize(alice, { kinds: ['certificate'] }), {
      allowed: false,
      reason: 'a user principal may not use this route',
      missingScopes: [],
    });
  });

  it('requires the service-wide and the route requirement both', () => {
    assert.equal(authorize(payments, { groups: ['finance'] }, { groups: ['ops'] }).allowed, false);
    assert.equal(authorize(payments, { kinds: ['certificate'] }, { principals: [payments.id] }).allowed, true);
  });

  it('property: allowed exactly when the held scopes include every required one', () => {
    fc.assert(
      fc.property(fc.uniqueArray(scope, { maxLength: 6 }), fc.uniqueArray(scope, { maxLength: 6 }), (held, required) => {
        const decision = authorize({ kind: 'token', id: 'x', scopes: held }, { scopes: required });
        const missing = required.filter((s) => !held.includes(s));
        assert.equal(decision.allowed, missing.length === 0);
        if (!decision.allowed) assert.deepEqual(decision.missingScopes, missing);
      }),
    );
  });

  it('property: adding a requirement never turns a refusal into an allowance', () => {
    const requirement = fc.record(
      { scopes: fc.array(scope, { maxLength: 3 }), groups: fc.array(scope, { minLength: 1, maxLength: 3 }) },
      { requiredKeys: [] },
    );
    const principal = fc.record({ scopes: fc.array(scope, { maxLength: 4 }), groups: fc.array(scope, { maxLength: 4 }) });
    fc.assert(
      fc.property(principal, requirement, requirement, (held, first, second) => {
        const p: Principal = { kind: 'token', id: 't', ...held };
        if (!authorize(p, first).allowed) assert.equal(authorize(p, first, second).allowed, false);
      }),
    );
  });
});

describe('accessRequirement (checked when a route is configured)', () => {
  it('refuses a scope that no token could carry, at startup', () => {
    for (const bad of ['', 'orders read', 'say"hi"', 'back\\slash']) {
      assert.throws(() => accessRequirement({ scopes: [bad] }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'), bad);
    }
  });

  it('refuses empty principals or groups and unknown kinds', () => {
    assert.throws(() => accessRequirement({ principals: [''] }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
    assert.throws(() => accessRequirement({ groups: [''] }), (error: unknown) => isFarolError(error, 'CONFIG_INVALID'));
    assert.throws(
      () => accessRequirement({ kinds: ['robot' as Principal['kind']] }),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID'),
    );
  });

  it('drops duplicates and keeps only what was given', () => {
    assert.deepEqual(accessRequirement({ scopes: ['a', 'a', 'b'] }), { scopes: ['a', 'b'] });
    assert.deepEqual(accessRequirement({}), {});
  });
});
