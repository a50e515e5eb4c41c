import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { ConsulClient } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';

const managementToken = randomUUID();

/** A token whose only policy is `rules`, made with Consul's ACL API (not part of Farol's client). */
async function createToken(httpAddr: string, rules: string): Promise<string> {
  const headers = { 'x-consul-token': managementToken, 'content-type': 'application/json' };
  const name = `farol-test-${randomUUID()}`;
  const policy = await request(`${httpAddr}/v1/acl/policy`, { method: 'PUT', headers, body: JSON.stringify({ Name: name, Rules: rules }) });
  assert.equal(policy.statusCode, 200, await policy.body.text());
  const token = await request(`${httpAddr}/v1/acl/token`, { method: 'PUT', headers, body: JSON.stringify({ Policies: [{ Name: name }] }) });
  assert.equal(token.statusCode, 200);
  return ((await token.body.json()) as { SecretID: string }).SecretID;
}

describeWithConsul(
  'ACL tokens against a real agent with default-deny ACLs',
  (getAgent) => {
    let anonymous: ConsulClient;
    let authorised: ConsulClient;
    before(() => {
      anonymous = new ConsulClient({ address: getAgent().address });
      authorised = new ConsulClient({ address: getAgent().address, token: managementToken });
    });
    after(async () => {
      await anonymous.close();
      await authorised.close();
    });

    it('refuses a registration without a token with CONSUL_ACL_DENIED and a CONSUL_HTTP_TOKEN hint', async () => {
      await assert.rejects(anonymous.agent.registerService({ ID: 'secured-1', Name: 'secured', Port: 1 }), (error: unknown) => {
        assert.ok(isFarolError(error, 'CONSUL_ACL_DENIED'));
        assert.match(error.message, /Permission denied/);
        assert.match(error.hint ?? '', /CONSUL_HTTP_TOKEN/);
        return true;
      });
    });

    it('refuses an unknown token with CONSUL_ACL_DENIED', async () => {
      const stranger = new ConsulClient({ address: getAgent().address, token: randomUUID() });
      try {
        await assert.rejects(stranger.agent.registerService({ ID: 'secured-1', Name: 'secured', Port: 1 }), (error: unknown) =>
          isFarolError(error, 'CONSUL_ACL_DENIED'),
        );
      } finally {
        await stranger.close();
      }
    });

    it('accepts the same registration with the management token, sent as X-Consul-Token', async () => {
      await authorised.agent.registerService({ ID: 'secured-1', Name: 'secured', Port: 1 });
      assert.ok((await authorised.agent.services())['secured-1']);
    });

    it('answers a read without a token with 200 and an empty list, not 403 (and no filtered flag for anonymous)', async () => {
      const hidden = await anonymous.health.service('secured');
      assert.deepEqual(hidden.entries, []);
      // Consul masks X-Consul-Results-Filtered-By-ACLs for blank tokens (agent/consul/rpc.go maskResultsFilteredByACLs).
      assert.equal(hidden.meta.resultsFilteredByAcls, false);
      const visible = await authorised.health.service('secured');
      assert.deepEqual(
        visible.entries.map((e) => e.Service.ID),
        ['secured-1'],
      );
      assert.equal(visible.meta.resultsFilteredByAcls, false);
    });

    it('flags results hidden from a valid token that may not read them (X-Consul-Results-Filtered-By-ACLs)', async () => {
      const nodeReader = await createToken(getAgent().httpAddr, 'node_prefix "" { policy = "read" }');
      const limited = new ConsulClient({ address: getAgent().address, token: nodeReader });
      try {
        const result = await limited.health.service('secured');
        assert.deepEqual(result.entries, []);
        assert.equal(result.meta.resultsFilteredByAcls, true);
      } finally {
        await limited.close();
        await authorised.agent.deregisterService('secured-1');
      }
    });
  },
  { aclToken: managementToken },
);
