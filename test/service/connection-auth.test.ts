import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Authenticator, Principal } from '../../src/auth/index.js';
import { createConnectionAuth } from '../../src/service/connection-auth.js';

const chain: Authenticator[] = [];
const otherChain: Authenticator[] = [];
const alice: Principal = { kind: 'user', id: 'alice' };

function setUp() {
  let time = 0;
  const memo = createConnectionAuth(1000, () => time);
  return { memo, advance: (ms: number) => void (time += ms) };
}

describe('connection auth (what a keep-alive connection last authenticated as)', () => {
  it('answers for the same connection, credentials and authenticators, for one second', () => {
    const { memo, advance } = setUp();
    const connection = {};
    memo.remember(connection, chain, 'Basic YWxpY2U6cHc=', alice);
    assert.deepEqual(memo.principalOf(connection, chain, 'Basic YWxpY2U6cHc='), alice);
    advance(999);
    assert.deepEqual(memo.principalOf(connection, chain, 'Basic YWxpY2U6cHc='), alice);
    advance(1);
    assert.equal(memo.principalOf(connection, chain, 'Basic YWxpY2U6cHc='), undefined, 'after a second the chain runs again');
  });

  it('never answers for other credentials, another connection or another route chain', () => {
    const { memo } = setUp();
    const connection = {};
    memo.remember(connection, chain, 'Basic YWxpY2U6cHc=', alice);
    assert.equal(memo.principalOf(connection, chain, 'Basic YWxpY2U6d3Jvbmc='), undefined);
    assert.equal(memo.principalOf(connection, chain, undefined), undefined);
    assert.equal(memo.principalOf({}, chain, 'Basic YWxpY2U6cHc='), undefined);
    assert.equal(memo.principalOf(connection, otherChain, 'Basic YWxpY2U6cHc='), undefined);
  });

  it('remembers a certificate-only caller (no header) for its connection', () => {
    const { memo } = setUp();
    const connection = {};
    const machine: Principal = { kind: 'certificate', id: 'spiffe://farol.local/client/payments' };
    memo.remember(connection, chain, undefined, machine);
    assert.deepEqual(memo.principalOf(connection, chain, undefined), machine);
    assert.equal(memo.principalOf(connection, chain, 'Bearer abc'), undefined);
  });

  it('forgets what a connection authenticated as once the credentials generation moves (a users file reload)', () => {
    let generation = 0;
    const memo = createConnectionAuth(1000, () => 0, () => generation);
    const connection = {};
    memo.remember(connection, chain, 'Basic Ym9iOnB3', { kind: 'user', id: 'bob' });
    assert.deepEqual(memo.principalOf(connection, chain, 'Basic Ym9iOnB3'), { kind: 'user', id: 'bob' });
    generation = 1;
    assert.equal(memo.principalOf(connection, chain, 'Basic Ym9iOnB3'), undefined, 'the chain runs again, against the new users');
    memo.remember(connection, chain, 'Basic Ym9iOnB3', { kind: 'user', id: 'bob' });
    assert.deepEqual(memo.principalOf(connection, chain, 'Basic Ym9iOnB3'), { kind: 'user', id: 'bob' }, 'remembered again under the new generation');
  });
});
