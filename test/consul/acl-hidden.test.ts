import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hiddenByAclError, readPolicyFor } from '../../src/consul/acl-hidden.js';
import { isFarolError } from '../../src/errors.js';
import type { QueryMeta } from '../../src/consul/types.js';

const meta = (over: Partial<QueryMeta> = {}): QueryMeta => ({ lastIndex: 5, knownLeader: true, lastContactMs: 0, resultsFilteredByAcls: false, ...over });

describe('an empty answer hidden by ACLs is told apart from "none registered"', () => {
  it('says "your token may not read service X" when Consul flags results filtered by ACLs, with the policy to add', () => {
    const error = hiddenByAclError('orders', { entries: [], meta: meta({ resultsFilteredByAcls: true, defaultAclPolicy: 'deny' }) }, { hasToken: true });
    assert.ok(isFarolError(error, 'CONSUL_ACL_DENIED'));
    assert.match(error.message, /your token may not read service orders$/);
    assert.equal(error.hint, `add to the token's policy ${readPolicyFor('orders')} (see docs/consul.md)`);
    assert.match(error.hint ?? '', /service "orders" \{ policy = "read" \} and node_prefix "" \{ policy = "read" \}/);
  });

  it('without a token under default-deny (Consul never flags the anonymous token) names both explanations and CONSUL_HTTP_TOKEN', () => {
    const error = hiddenByAclError('orders', { entries: [], meta: meta({ defaultAclPolicy: 'deny' }) }, { hasToken: false });
    assert.ok(isFarolError(error, 'CONSUL_ACL_DENIED'));
    assert.match(error.message, /either none is registered or the anonymous token may not read service orders/);
    assert.match(error.hint ?? '', /^set CONSUL_HTTP_TOKEN/);
  });

  it('says nothing when nothing points at ACLs: no ACLs, default allow, a token with nothing filtered, or instances found', () => {
    assert.equal(hiddenByAclError('orders', { entries: [], meta: meta() }, { hasToken: false }), undefined);
    assert.equal(hiddenByAclError('orders', { entries: [], meta: meta({ defaultAclPolicy: 'allow' }) }, { hasToken: false }), undefined);
    assert.equal(hiddenByAclError('orders', { entries: [], meta: meta({ defaultAclPolicy: 'deny' }) }, { hasToken: true }), undefined);
    assert.equal(hiddenByAclError('orders', { entries: [{}], meta: meta({ resultsFilteredByAcls: true }) }, { hasToken: true }), undefined);
  });
});
