/**
 * ACLs: started with a token, the registry refuses writes without it (and any request with a wrong
 * token) exactly as Consul 1.15 with default policy deny does, hides everything from anonymous reads,
 * and accepts the token from X-Consul-Token or Authorization: Bearer.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachTarget } from './targets.js';
import { eventually, getJson, header, okJson, putOk, send } from './wire.js';
import { TEXTS } from './expected.js';

const TOKEN = '3f1b6a52-8c1e-4d2a-9b7f-0c5e2d4a6b81';
const WRONG = '00000000-1111-2222-3333-444444444444';
const withToken = { 'X-Consul-Token': TOKEN };
const withBearer = { Authorization: `Bearer ${TOKEN}` };
const registration = { ID: 'secure-1', Name: 'secure', Port: 7443, Tags: ['acl'], Check: { TTL: '60s', Status: 'passing' } };

forEachTarget(
  'ACL with a token',
  (getTarget) => {
    it('refuses a registration without a token with 403 and Consul’s anonymous-token text', async () => {
      const response = await send(getTarget(), '/v1/agent/service/register', { method: 'PUT', json: registration });
      assert.deepEqual([response.status, response.text], [403, TEXTS.anonymousDenied('secure')]);
      assert.equal(header(response, 'x-consul-default-acl-policy'), 'deny');
    });

    it('refuses a registration with a wrong token, in either header, with 403 "ACL not found"', async () => {
      const wrongHeaders: Record<string, string>[] = [{ 'X-Consul-Token': WRONG }, { Authorization: `Bearer ${WRONG}` }];
      for (const headers of wrongHeaders) {
        const response = await send(getTarget(), '/v1/agent/service/register', { method: 'PUT', json: registration, headers });
        assert.deepEqual([response.status, response.text], [403, TEXTS.aclNotFound], Object.keys(headers)[0]);
      }
    });

    it('accepts the token from X-Consul-Token and from Authorization: Bearer', async () => {
      await putOk(getTarget(), '/v1/agent/service/register', registration, withToken);
      await putOk(getTarget(), '/v1/agent/service/register', { ...registration, ID: 'secure-2' }, withBearer);
      const services = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/services', withBearer);
      assert.deepEqual(Object.keys(services).filter((id) => id.startsWith('secure-')).sort(), ['secure-1', 'secure-2']);
    });

    it('shows everything to a read with the token', async () => {
      const ok = await eventually(async () => {
        const entries = await getJson<unknown[]>(getTarget(), '/v1/health/service/secure', withToken);
        return entries.length === 2;
      }, 5000);
      assert.ok(ok, 'both instances appear in health/service with the token');
      const catalog = await getJson<Record<string, string[]>>(getTarget(), '/v1/catalog/services', withBearer);
      assert.deepEqual(catalog.secure, ['acl']);
      const checks = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/checks', withToken);
      assert.ok('service:secure-1' in checks);
    });

    it('answers anonymous reads with 200 and empty results, as default-deny Consul does', async () => {
      assert.deepEqual(await getJson(getTarget(), '/v1/agent/services'), {});
      assert.deepEqual(await getJson(getTarget(), '/v1/agent/checks'), {});
      assert.deepEqual(await getJson(getTarget(), '/v1/health/service/secure'), []);
      assert.deepEqual(await getJson(getTarget(), '/v1/health/service/secure?passing'), []);
      assert.deepEqual(await getJson(getTarget(), '/v1/catalog/services'), {});
      assert.deepEqual(await getJson(getTarget(), '/v1/catalog/service/secure'), []);
    });

    it('refuses reads with a wrong token with 403 "ACL not found"', async () => {
      for (const path of ['/v1/agent/services', '/v1/health/service/secure', '/v1/catalog/services', '/v1/catalog/service/secure']) {
        const response = await send(getTarget(), path, { headers: { 'X-Consul-Token': WRONG } });
        assert.deepEqual([response.status, response.text], [403, TEXTS.aclNotFound], path);
      }
    });

    it('answers /v1/status/leader and /v1/status/peers without a token', async () => {
      const leader = okJson<unknown>(await send(getTarget(), '/v1/status/leader'), 'status/leader');
      assert.equal(typeof leader, 'string');
      assert.notEqual(leader, '');
      assert.ok(Array.isArray(okJson(await send(getTarget(), '/v1/status/peers'), 'status/peers')));
    });

    it('refuses deregistration and check updates without a token with 403 and the anonymous-token text', async () => {
      const deregister = await send(getTarget(), '/v1/agent/service/deregister/secure-1', { method: 'PUT' });
      assert.deepEqual([deregister.status, deregister.text], [403, TEXTS.anonymousDenied('secure')]);
      for (const verb of ['pass', 'warn', 'fail']) {
        const response = await send(getTarget(), `/v1/agent/check/${verb}/service:secure-1`, { method: 'PUT' });
        assert.deepEqual([response.status, response.text], [403, TEXTS.anonymousDenied('secure')], verb);
      }
      const update = await send(getTarget(), '/v1/agent/check/update/service:secure-1', { method: 'PUT', json: { Status: 'critical' } });
      assert.deepEqual([update.status, update.text], [403, TEXTS.anonymousDenied('secure')]);
      const checks = await getJson<Record<string, { Status: string }>>(getTarget(), '/v1/agent/checks', withToken);
      assert.equal(checks['service:secure-1']?.Status, 'passing', 'the refused writes changed nothing');
    });

    it('decodes the body before authorising: malformed JSON without a token is a 400, not a 403', async () => {
      const response = await send(getTarget(), '/v1/agent/service/register', { method: 'PUT', body: '{"Name":' });
      assert.equal(response.status, 400);
      assert.ok(response.text.startsWith(TEXTS.decodeFailed), response.text);
    });

    it('deregisters with the token', async () => {
      await putOk(getTarget(), '/v1/agent/service/deregister/secure-1', undefined, withToken);
      await putOk(getTarget(), '/v1/agent/service/deregister/secure-2', undefined, withBearer);
      const services = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/services', withToken);
      assert.deepEqual(Object.keys(services).filter((id) => id.startsWith('secure-')), []);
    });
  },
  { token: TOKEN },
);
