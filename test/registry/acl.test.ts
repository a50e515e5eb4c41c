import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { aclDecision, anonymousDenied, presentedToken } from '../../src/registry/acl.js';

describe('registry ACL decisions', () => {
  it('allows everything when no token is configured', () => {
    assert.deepEqual(aclDecision(undefined, undefined, 'write', 'service:write', 'web'), { outcome: 'allow' });
    assert.deepEqual(aclDecision(undefined, 'anything', 'read'), { outcome: 'allow' });
  });

  it('allows the configured token', () => {
    assert.deepEqual(aclDecision('s3cret', 's3cret', 'write', 'service:write', 'web'), { outcome: 'allow' });
  });

  it('refuses any other token with 403 "ACL not found", for reads and writes', () => {
    for (const access of ['read', 'write'] as const) {
      assert.deepEqual(aclDecision('s3cret', 'wrong', access), { outcome: 'deny', status: 403, body: 'ACL not found' });
    }
  });

  it('filters anonymous reads instead of refusing them', () => {
    assert.deepEqual(aclDecision('s3cret', undefined, 'read'), { outcome: 'filter' });
  });

  it('refuses anonymous writes with Consul\'s permission text', () => {
    const decision = aclDecision('s3cret', undefined, 'write', 'service:write', 'web');
    assert.deepEqual(decision, {
      outcome: 'deny',
      status: 403,
      body:
        'Permission denied: anonymous token lacks permission \'service:write\' on "web". ' +
        'The anonymous token is used implicitly when a request does not specify a token.',
    });
    assert.equal(anonymousDenied('service:write', 'web'), (decision as { body: string }).body);
  });

  it('takes the token from X-Consul-Token, then Authorization: Bearer, then ?token=', () => {
    const q = new URLSearchParams('token=from-query');
    assert.equal(presentedToken({ 'x-consul-token': 'a', authorization: 'Bearer b' }, q), 'a');
    assert.equal(presentedToken({ authorization: 'Bearer b' }, q), 'b');
    assert.equal(presentedToken({ authorization: 'bearer   c ' }, new URLSearchParams()), 'c');
    assert.equal(presentedToken({ authorization: 'Basic Zm9vOmJhcg==' }, q), 'from-query');
    assert.equal(presentedToken({}, new URLSearchParams()), undefined);
  });
});
