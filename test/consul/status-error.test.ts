import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isFarolError } from '../../src/errors.js';
import {
  ConsulStatusError,
  isConsulStatusError,
  isUnknownCheckError,
  isUnknownServiceError,
  parseConsulErrorBody,
} from '../../src/consul/status-error.js';

const request = { method: 'PUT', path: '/v1/agent/service/register', address: '127.0.0.1:8500' };
const accessor = '0f5a1c2e-9b7d-4c1e-8a3b-6d2f4e1c9a70';

describe('parseConsulErrorBody: the reason in a Consul error body', () => {
  it("reads Consul 1.15's permission-denied text for a token: permission, resource and AccessorID", () => {
    const body = `Permission denied: token with AccessorID '${accessor}' lacks permission 'service:write' on "web"`;
    assert.deepEqual(parseConsulErrorBody(403, body), {
      kind: 'permission-denied',
      anonymous: false,
      permission: 'service:write',
      resource: 'web',
      accessorId: accessor,
    });
  });

  it('reads the anonymous form, with the sentence Consul appends about the implicit token', () => {
    const body =
      "Permission denied: anonymous token lacks permission 'node:read' on \"farol-node\". The anonymous token is used implicitly when a request does not specify a token.";
    assert.deepEqual(parseConsulErrorBody(403, body), { kind: 'permission-denied', anonymous: true, permission: 'node:read', resource: 'farol-node' });
  });

  it('reads a permission without a resource (operator:read) and keeps escaped quotes in names', () => {
    assert.deepEqual(parseConsulErrorBody(403, `Permission denied: token with AccessorID '${accessor}' lacks permission 'operator:read'`), {
      kind: 'permission-denied',
      anonymous: false,
      permission: 'operator:read',
      accessorId: accessor,
    });
    const quoted = parseConsulErrorBody(403, `Permission denied: anonymous token lacks permission 'key:read' on "a\\"b"`);
    assert.equal(quoted.kind === 'permission-denied' ? quoted.resource : undefined, 'a"b');
  });

  it('tolerates the older bare "Permission denied" and a cause text (Consul before 1.11, or PermissionDenied(msg))', () => {
    assert.deepEqual(parseConsulErrorBody(403, 'Permission denied'), { kind: 'permission-denied', anonymous: false });
    assert.deepEqual(parseConsulErrorBody(403, 'rpc error making call: Permission denied\n'), { kind: 'permission-denied', anonymous: false });
    assert.deepEqual(parseConsulErrorBody(403, 'Permission denied: Missing service:write on web'), { kind: 'permission-denied', anonymous: false });
  });

  it("recognises Go's answer to plain HTTP on an HTTPS port, and hints at https:// and CONSUL_CACERT", () => {
    assert.deepEqual(parseConsulErrorBody(400, 'Client sent an HTTP request to an HTTPS server.\n'), { kind: 'https-required' });
    const error = new ConsulStatusError({ status: 400, body: 'Client sent an HTTP request to an HTTPS server.' }, { ...request, address: '127.0.0.1:8501' });
    assert.match(error.hint ?? '', /127\.0\.0\.1:8501 serves HTTPS: write https:\/\/ in CONSUL_HTTP_ADDR .*CONSUL_CACERT/);
    assert.match(new ConsulStatusError({ status: 500, body: 'No cluster leader' }, request).hint ?? '', /no leader/);
  });

  it('tells an unknown token, disabled ACLs and a missing leader apart', () => {
    assert.deepEqual(parseConsulErrorBody(403, 'ACL not found'), { kind: 'acl-not-found' });
    assert.deepEqual(parseConsulErrorBody(401, 'ACL support disabled'), { kind: 'acl-disabled' });
    assert.deepEqual(parseConsulErrorBody(500, 'No cluster leader'), { kind: 'no-leader' });
    assert.deepEqual(parseConsulErrorBody(500, 'rpc error making call: No cluster leader'), { kind: 'no-leader' });
  });

  it('reads unknown service and check IDs in the 1.15 forms (404) and the older ones (500)', () => {
    assert.deepEqual(parseConsulErrorBody(404, 'Unknown service ID "web-1". Ensure that the service ID is passed, not the service name.'), {
      kind: 'unknown-service',
      id: 'web-1',
    });
    assert.deepEqual(parseConsulErrorBody(404, 'unknown service ID: web-1'), { kind: 'unknown-service', id: 'web-1' });
    assert.deepEqual(parseConsulErrorBody(404, 'Unknown check ID "service:web-1". Ensure that the check ID is passed, not the check name.'), {
      kind: 'unknown-check',
      id: 'service:web-1',
    });
    assert.deepEqual(parseConsulErrorBody(404, 'Unknown check'), { kind: 'unknown-check' });
    assert.deepEqual(parseConsulErrorBody(500, 'rpc error making call: Unknown service web-1'), { kind: 'unknown-service', id: 'web-1' });
    assert.deepEqual(parseConsulErrorBody(500, 'Unknown check ID "x"'), { kind: 'unknown-check', id: 'x' });
    assert.deepEqual(parseConsulErrorBody(500, 'the unknown check'), { kind: 'other' });
    assert.deepEqual(parseConsulErrorBody(404, ''), { kind: 'other' });
  });

  it('never throws and always returns a known kind, whatever the status and body', () => {
    const kinds = new Set(['permission-denied', 'acl-not-found', 'acl-disabled', 'unknown-service', 'unknown-check', 'https-required', 'no-leader', 'other']);
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.string({ maxLength: 300 }), (status, body) => {
        const reason = parseConsulErrorBody(status, body);
        assert.ok(kinds.has(reason.kind));
      }),
    );
  });

  it('round-trips any permission and resource name Consul would print', () => {
    const resource = fc.constantFrom('service', 'node', 'key', 'agent', 'operator', 'acl', 'query', 'session', 'event', 'intention', 'mesh', 'peering');
    const level = fc.constantFrom('read', 'write', 'list', 'deny');
    const name = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\n\r]/.test(s));
    fc.assert(
      fc.property(resource, level, name, fc.boolean(), (res, lvl, target, anonymous) => {
        const quoted = JSON.stringify(target);
        const who = anonymous ? 'anonymous token' : `token with AccessorID '${accessor}'`;
        const reason = parseConsulErrorBody(403, `Permission denied: ${who} lacks permission '${res}:${lvl}' on ${quoted}`);
        assert.equal(reason.kind, 'permission-denied');
        if (reason.kind !== 'permission-denied') return;
        assert.equal(reason.permission, `${res}:${lvl}`);
        assert.equal(reason.anonymous, anonymous);
        if (!/\\u[0-9a-f]{4}/.test(quoted)) assert.equal(reason.resource, target);
      }),
    );
  });
});

describe('ConsulStatusError: a typed non-2xx answer, like Go api.StatusError', () => {
  it('carries status, body and reason; a 403 is CONSUL_ACL_DENIED whose hint names the missing permission', () => {
    const body = `Permission denied: token with AccessorID '${accessor}' lacks permission 'service:write' on "web"`;
    const error = new ConsulStatusError({ status: 403, body }, request);
    assert.ok(isFarolError(error, 'CONSUL_ACL_DENIED'));
    assert.ok(isConsulStatusError(error, 403));
    assert.equal(error.status, 403);
    assert.equal(error.body, body);
    assert.deepEqual(error.missingPermission, { permission: 'service:write', resource: 'web' });
    assert.equal(error.message, `Consul denied PUT /v1/agent/service/register: ${body}`);
    assert.match(error.hint ?? '', /service:write on "web"/);
    assert.deepEqual(error.details, { status: 403, address: '127.0.0.1:8500', permission: 'service:write', resource: 'web' });
  });

  it('tells an anonymous request to set CONSUL_HTTP_TOKEN, and an unknown token that it is not known', () => {
    const anonymous = new ConsulStatusError({ status: 403, body: "Permission denied: anonymous token lacks permission 'service:write' on \"web\"" }, request);
    assert.match(anonymous.hint ?? '', /^set CONSUL_HTTP_TOKEN .*service:write on "web"/);
    const unknown = new ConsulStatusError({ status: 403, body: 'ACL not found' }, request);
    assert.match(unknown.hint ?? '', /not a token this Consul cluster knows/);
    assert.match(unknown.hint ?? '', /created moments ago may not have reached every Consul server yet .*try again in a few seconds/);
    assert.equal(unknown.missingPermission, undefined);
  });

  it('is CONSUL_ERROR for other statuses, and the unknown-ID predicates look at the parsed reason, never at the message', () => {
    const check = new ConsulStatusError({ status: 404, body: 'Unknown check ID "c1". Ensure that the check ID is passed, not the check name.' }, request);
    assert.ok(isFarolError(check, 'CONSUL_ERROR'));
    assert.ok(isUnknownCheckError(check));
    assert.ok(!isUnknownServiceError(check));
    const service = new ConsulStatusError({ status: 404, body: 'unknown service ID: web-1' }, request);
    assert.ok(isUnknownServiceError(service));
    assert.ok(isUnknownServiceError(new ConsulStatusError({ status: 500, body: 'Unknown service web-1' }, request)));
    assert.ok(!isUnknownServiceError(new ConsulStatusError({ status: 404, body: '404 page not found' }, request)));
    assert.ok(!isConsulStatusError(new Error('Unknown check ID "c1"')));
  });
});
