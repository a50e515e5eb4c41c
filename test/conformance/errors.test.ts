/**
 * Bad requests: malformed JSON, unknown fields, missing names, bad durations, wrong types, bad
 * statuses, oversized values and bodies, wrong methods and paths. Each gets the status Consul 1.15
 * gives and, where Consul's text is stable (not a JSON-parser message), the same text. Afterwards the
 * registry still serves.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachTarget } from './targets.js';
import type { TargetContext } from './targets.js';
import { getJson, putOk, send } from './wire.js';
import { TEXTS } from './expected.js';

const REGISTER = '/v1/agent/service/register';

async function register(target: TargetContext, body: string | Buffer): Promise<{ status: number; text: string }> {
  const response = await send(target, REGISTER, { method: 'PUT', body, headers: { 'content-type': 'application/json' } });
  return { status: response.status, text: response.text };
}

async function assertNotRegistered(target: TargetContext, id: string): Promise<void> {
  const services = await getJson<Record<string, unknown>>(target, '/v1/agent/services');
  assert.equal(services[id], undefined, `${id} must not be registered after a refused request`);
}

forEachTarget('bad requests', (getTarget) => {
  it('refuses malformed JSON with 400 "Request decode failed: …"', async () => {
    for (const body of ['{"Name":', '{"Name": x}', '{"Name":"a",}', 'not json']) {
      const response = await register(getTarget(), body);
      assert.equal(response.status, 400, body);
      assert.ok(response.text.startsWith(TEXTS.decodeFailed), `${body} -> "${response.text}"`);
    }
  });

  it('says "Request decode failed: EOF" for an empty body and "unexpected EOF" for a truncated one', async () => {
    assert.deepEqual(await register(getTarget(), ''), { status: 400, text: 'Request decode failed: EOF' });
    assert.deepEqual(await register(getTarget(), '{"Name":'), { status: 400, text: 'Request decode failed: unexpected EOF' });
  });

  it('refuses a JSON value that is not an object with 400', async () => {
    for (const body of ['[]', '"web"', '42', 'null']) {
      const response = await register(getTarget(), body);
      if (body === 'null') {
        // Go decodes null into an empty registration, so Consul reports the missing name.
        assert.deepEqual(response, { status: 400, text: TEXTS.missingName }, body);
      } else {
        assert.equal(response.status, 400, body);
        assert.ok(response.text.startsWith(TEXTS.decodeFailed), `${body} -> "${response.text}"`);
      }
    }
  });

  it('refuses an unknown field, at the top level or in a check, naming it', async () => {
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'u-1', Name: 'u', Bogus: 1 })), {
      status: 400,
      text: 'Request decode failed: json: unknown field "Bogus"',
    });
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'u-1', Name: 'u', Check: { TTL: '10s', Nope: true } })), {
      status: 400,
      text: 'Request decode failed: json: unknown field "Nope"',
    });
    await assertNotRegistered(getTarget(), 'u-1');
  });

  it('refuses a registration without a Name with 400 "Missing service name"', async () => {
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'anon', Port: 80 })), { status: 400, text: TEXTS.missingName });
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'anon', Name: '' })), { status: 400, text: TEXTS.missingName });
    await assertNotRegistered(getTarget(), 'anon');
  });

  it('refuses bad durations with Go’s time.ParseDuration texts', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ TTL: 'abc' }, 'time: invalid duration "abc"'],
      [{ TTL: '10parsecs' }, 'time: unknown unit "parsecs" in duration "10parsecs"'],
      [{ TTL: '10' }, 'time: missing unit in duration "10"'],
      [{ TTL: '10s', DeregisterCriticalServiceAfter: 'soon' }, 'time: invalid duration "soon"'],
      [{ TCP: '127.0.0.1:1', Interval: 'zz' }, 'time: invalid duration "zz"'],
      [{ TCP: '127.0.0.1:1', Interval: '10s', Timeout: '1x' }, 'time: unknown unit "x" in duration "1x"'],
    ];
    for (const [check, message] of cases) {
      const response = await register(getTarget(), JSON.stringify({ ID: 'dur-1', Name: 'dur', Check: check }));
      assert.deepEqual(response, { status: 400, text: `${TEXTS.decodeFailed}${message}` }, JSON.stringify(check));
    }
    await assertNotRegistered(getTarget(), 'dur-1');
  });

  it('refuses a TTL that is not positive', async () => {
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'neg-1', Name: 'neg', Check: { TTL: '-5s' } })), {
      status: 400,
      text: 'Invalid check: TTL must be > 0 for TTL checks',
    });
    await assertNotRegistered(getTarget(), 'neg-1');
  });

  it('refuses a field of the wrong JSON type with 400 "Request decode failed: json: cannot unmarshal …"', async () => {
    for (const body of [{ Name: 'typed', Port: '80' }, { Name: 'typed', Tags: 'a,b' }, { Name: 42 }]) {
      const response = await register(getTarget(), JSON.stringify(body));
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.ok(response.text.startsWith(`${TEXTS.decodeFailed}json: cannot unmarshal `), `${JSON.stringify(body)} -> "${response.text}"`);
    }
    await assertNotRegistered(getTarget(), 'typed');
  });

  it('refuses an unknown initial check status with Consul’s text', async () => {
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'st-1', Name: 'st', Check: { TTL: '10s', Status: 'bogus' } })), {
      status: 400,
      text: "Status for checks must 'passing', 'warning', 'critical'",
    });
    await assertNotRegistered(getTarget(), 'st-1');
  });

  it('refuses a Meta value over 512 characters with Consul’s text', async () => {
    const long = 'v'.repeat(513);
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'meta-1', Name: 'meta', Meta: { k: long } })), {
      status: 400,
      text: `Invalid Service Meta: Couldn't load metadata pair ('k', '${long}'): Value is too long (limit: 512 characters)`,
    });
    await assertNotRegistered(getTarget(), 'meta-1');
  });

  it('accepts a 2 MB registration as Consul does (it sets no body limit on agent writes) and keeps serving', async () => {
    const tags = Array.from({ length: 2000 }, (_, i) => `${i}-${'t'.repeat(1000)}`);
    const body = Buffer.from(JSON.stringify({ ID: 'big-1', Name: 'big', Port: 1, Tags: tags }));
    assert.ok(body.length > 2_000_000);
    assert.deepEqual(await register(getTarget(), body), { status: 200, text: '' });
    const services = await getJson<Record<string, { Tags: string[] }>>(getTarget(), '/v1/agent/services');
    assert.equal(services['big-1']?.Tags.length, 2000);
    await putOk(getTarget(), '/v1/agent/service/deregister/big-1');
  });

  it('matches JSON field names case-insensitively, as Go’s decoder does', async () => {
    await putOk(getTarget(), REGISTER, { id: 'lower-1', name: 'lower', port: 5, tags: ['t'] });
    const services = await getJson<Record<string, Record<string, unknown>>>(getTarget(), '/v1/agent/services');
    assert.deepEqual([services['lower-1']?.Service, services['lower-1']?.Port, services['lower-1']?.Tags], ['lower', 5, ['t']]);
    await putOk(getTarget(), '/v1/agent/service/deregister/lower-1');
  });

  it('refuses a wrong method with 405 "method X not allowed"', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const response = await send(getTarget(), REGISTER, { method, ...(method === 'POST' ? { body: '{"Name":"m"}' } : {}) });
      assert.deepEqual([response.status, response.text], [405, TEXTS.methodNotAllowed(method)], method);
    }
    for (const method of ['GET', 'DELETE'] as const) {
      const deregister = await send(getTarget(), '/v1/agent/service/deregister/x', { method });
      assert.deepEqual([deregister.status, deregister.text], [405, TEXTS.methodNotAllowed(method)], `${method} deregister`);
    }
  });

  it('refuses Weights.Passing below 1 with Consul’s text', async () => {
    assert.deepEqual(await register(getTarget(), JSON.stringify({ ID: 'w-1', Name: 'w', Weights: { Passing: 0, Warning: 1 } })), {
      status: 400,
      text: 'Invalid Weights: Passing must be greater than 0',
    });
    await assertNotRegistered(getTarget(), 'w-1');
  });

  it('refuses a check update with an empty body or no Status with Consul’s texts', async () => {
    await putOk(getTarget(), REGISTER, { ID: 'upd-1', Name: 'upd', Check: { TTL: '60s' } });
    const empty = await send(getTarget(), '/v1/agent/check/update/service:upd-1', { method: 'PUT', body: '' });
    assert.deepEqual([empty.status, empty.text], [400, 'Request decode failed: EOF']);
    const noStatus = await send(getTarget(), '/v1/agent/check/update/service:upd-1', { method: 'PUT', json: {} });
    assert.deepEqual([noStatus.status, noStatus.text], [400, "Invalid check status: ''"]);
    await putOk(getTarget(), '/v1/agent/service/deregister/upd-1');
  });

  it('answers an empty service ID or name in the path as Consul does', async () => {
    const deregister = await send(getTarget(), '/v1/agent/service/deregister/', { method: 'PUT' });
    assert.deepEqual([deregister.status, deregister.text], [404, TEXTS.unknownServiceId('')]);
    for (const path of ['/v1/health/service/', '/v1/catalog/service/']) {
      const response = await send(getTarget(), path);
      assert.deepEqual([response.status, response.text], [400, TEXTS.missingName], path);
    }
  });

  it('refuses a negative or out-of-range index and a ?passing that is not a boolean', async () => {
    for (const index of ['-1', '99999999999999999999']) {
      const response = await send(getTarget(), `/v1/health/service/web?index=${index}`);
      assert.deepEqual([response.status, response.text], [400, TEXTS.invalidIndex], index);
    }
    const passing = await send(getTarget(), '/v1/health/service/web?passing=yes');
    assert.deepEqual([passing.status, passing.text], [400, 'Invalid value for ?passing']);
  });

  it('answers an unknown /v1 path with 404 "Invalid URL path: not a recognized HTTP API endpoint"', async () => {
    const response = await send(getTarget(), '/v1/agent/nope');
    // Consul ends this one text with a newline; only the words matter.
    assert.deepEqual([response.status, response.text.trimEnd()], [404, 'Invalid URL path: not a recognized HTTP API endpoint']);
  });

  it('still serves after all of the above', async () => {
    await putOk(getTarget(), REGISTER, { ID: 'after-1', Name: 'after', Port: 1 });
    const services = await getJson<Record<string, unknown>>(getTarget(), '/v1/agent/services');
    assert.ok('after-1' in services, 'a registration after the refused ones succeeds');
  });
});
