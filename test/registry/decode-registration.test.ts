import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRegistration } from '../../src/registry/decode-registration.js';
import { RegistryHttpError } from '../../src/registry/http-error.js';
import { refusal } from './refusal.js';

describe('service registration decoding', () => {
  it('fills Consul\'s defaults: ID = Name, weights 1/1, empty tags and meta', () => {
    const { service, checks } = decodeRegistration('{"Name":"web"}');
    assert.deepEqual(service, { id: 'web', name: 'web', tags: [], address: '', port: 0, meta: {}, weights: { Passing: 1, Warning: 1 }, enableTagOverride: false });
    assert.deepEqual(checks, []);
  });

  it('matches field names case-insensitively and accepts snake_case, as Consul does', () => {
    const { service, checks } = decodeRegistration('{"name":"web","id":"w1","check":{"ttl":"5s","deregister_critical_service_after":"2m"}}');
    assert.equal(service.id, 'w1');
    assert.equal(checks[0]?.ttlMs, 5000);
    assert.equal(checks[0]?.deregisterCriticalAfterMs, 120_000);
  });

  it('names checks service:<id>, numbering them when there are several', () => {
    assert.deepEqual(decodeRegistration('{"Name":"web","Check":{"TTL":"5s"}}').checks.map((c) => c.checkId), ['service:web']);
    const many = decodeRegistration('{"Name":"web","ID":"w1","Check":{"TTL":"5s"},"Checks":[{"TTL":"5s"},{"CheckID":"mine","TTL":"5s"}]}');
    assert.deepEqual(many.checks.map((c) => c.checkId), ['service:w1:1', 'service:w1:2', 'mine']);
    assert.equal(many.checks[0]?.name, "Service 'web' check");
  });

  it('starts checks critical unless Status says otherwise', () => {
    assert.equal(decodeRegistration('{"Name":"w","Check":{"TTL":"5s"}}').checks[0]?.status, 'critical');
    assert.equal(decodeRegistration('{"Name":"w","Check":{"TTL":"5s","Status":"passing"}}').checks[0]?.status, 'passing');
  });

  it('applies Consul\'s minimums: 1s interval, 1m DeregisterCriticalServiceAfter, 10s default timeout', () => {
    const [check] = decodeRegistration('{"Name":"w","Check":{"TCP":"127.0.0.1:1","Interval":"10ms","DeregisterCriticalServiceAfter":"1s"}}').checks;
    assert.equal(check?.intervalMs, 1000);
    assert.equal(check?.deregisterCriticalAfterMs, 60_000);
    assert.equal(check?.timeoutMs, 10_000);
    assert.equal(check?.interval, '10ms', 'the interval as given, in Go form');
  });

  it('defaults FailuresBeforeWarning to FailuresBeforeCritical, as Consul', () => {
    const [check] = decodeRegistration('{"Name":"w","Check":{"TCP":"127.0.0.1:1","Interval":"5s","FailuresBeforeCritical":3,"SuccessBeforePassing":2}}').checks;
    assert.deepEqual([check?.successBeforePassing, check?.failuresBeforeWarning, check?.failuresBeforeCritical], [2, 3, 3]);
  });

  it('keeps HTTP details and TLSServerName', () => {
    const [check] = decodeRegistration('{"Name":"w","Check":{"HTTP":"https://localhost:1/health","Interval":"5s","TLSServerName":"w.service.consul","Method":"HEAD","Header":{"X":["1"]}}}').checks;
    assert.equal(check?.type, 'http');
    assert.equal(check?.tlsServerName, 'w.service.consul');
    assert.equal(check?.method, 'HEAD');
    assert.deepEqual(check?.header, { X: ['1'] });
  });

  it('refuses with the texts a real Consul 1.15 agent gives', () => {
    const cases: [string, string][] = [
      ['{bad', "Request decode failed: invalid character 'b' looking for beginning of object key string"],
      ['', 'Request decode failed: EOF'],
      ['{"Foo":1}', 'Request decode failed: json: unknown field "Foo"'],
      ['{"Name":"w","Check":{"Bar":1}}', 'Request decode failed: json: unknown field "Bar"'],
      ['{}', 'Missing service name'],
      ['{"Name":5}', 'Request decode failed: json: cannot unmarshal number into Go struct field .Alias.Name of type string'],
      ['{"Name":"x","Port":"80"}', 'Request decode failed: json: cannot unmarshal string into Go struct field .Alias.Port of type int'],
      ['{"Name":"w","Check":{"TTL":"bogus"}}', 'Request decode failed: time: invalid duration "bogus"'],
      ['{"Name":"w","Check":{"HTTP":"http://x"}}', 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks'],
      ['{"Name":"w","Check":{"TTL":"5s","Interval":"5s"}}', 'Invalid check: Interval and TTL cannot both be specified'],
      ['{"Name":"w","Check":{"Notes":"x"}}', 'Invalid check: TTL must be > 0 for TTL checks'],
      ['{"Name":"x","Address":"0.0.0.0"}', 'Invalid service address'],
      ['null', 'Missing service name'],
      ['{"Name":"w","Check":{"TTL":"10parsecs"}}', 'Request decode failed: time: unknown unit "parsecs" in duration "10parsecs"'],
      ['{"Name":"w","Check":{"TTL":"10"}}', 'Request decode failed: time: missing unit in duration "10"'],
      ['{"Name":"w","Check":{"TTL":"-5s"}}', 'Invalid check: TTL must be > 0 for TTL checks'],
      ['{"Name":"w","Check":{"TTL":"5s","Status":"bogus"}}', "Status for checks must 'passing', 'warning', 'critical'"],
      ['{"Name":"w","Meta":{"consul-x":"1"}}', "Invalid Service Meta: Couldn't load metadata pair ('consul-x', '1'): Key prefix 'consul-' is reserved for internal use"],
      ['{"Name":"w","Meta":{"a b":"1"}}', "Invalid Service Meta: Couldn't load metadata pair ('a b', '1'): Key contains invalid characters"],
      ['{"Name":"w","Weights":{"Passing":0}}', 'Invalid Weights: Passing must be greater than 0'],
    ];
    for (const [body, text] of cases) assert.deepEqual(refusal(() => decodeRegistration(body)), { status: 400, body: text }, body);
  });

  it('never throws anything but a 400 on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        try {
          decodeRegistration(text);
        } catch (error) {
          return error instanceof RegistryHttpError && error.status === 400;
        }
        return true;
      }),
    );
  });
});
