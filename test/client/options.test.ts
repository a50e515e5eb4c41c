import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from '../../src/client/balancer.js';
import { createClient } from '../../src/client/index.js';
import { groupOptions, resolveClientOptions, serviceOfHost, type ClientOptions } from '../../src/client/options.js';
import { isFarolError } from '../../src/errors.js';
import { createTestPki, type TestPki } from './fixtures.js';

let pki: TestPki | undefined;
async function ca(): Promise<{ pem: string }> {
  pki ??= await createTestPki();
  return { pem: pki.ca.certPem };
}

function refusal(run: () => unknown): { code: string; message: string; hint: string | undefined } {
  try {
    run();
  } catch (error) {
    assert.ok(isFarolError(error), `expected a FarolError, got ${String(error)}`);
    return error;
  }
  return assert.fail('expected a FarolError');
}

describe('client options', () => {
  it('maps every deprecated flat option onto its group, in one place', () => {
    const budget = { percentCanRetry: 0.5 };
    const freshness = { maxStalenessMs: 1000 };
    const grouped = groupOptions({
      ca: '-----BEGIN CERTIFICATE-----x',
      clientCertificate: { cert: 'C', key: 'K' },
      serverName: '{service}.internal',
      timeoutMs: 100,
      deadlineMs: 900,
      retries: 3,
      retryOn: [503],
      retryNonIdempotent: true,
      retryBudget: budget,
      freshness,
    });
    assert.deepEqual(grouped.tls, { ca: { pem: '-----BEGIN CERTIFICATE-----x' }, clientCertificate: { certPem: 'C', keyPem: 'K' }, serverName: '{service}.internal' });
    assert.deepEqual(grouped.retry, { timeoutMs: 100, deadlineMs: 900, retries: 3, retryOn: [503], nonIdempotent: true, budget });
    assert.deepEqual(grouped.discovery, { freshness });
    for (const flat of ['ca', 'clientCertificate', 'serverName', 'timeoutMs', 'deadlineMs', 'retries', 'retryOn', 'retryNonIdempotent', 'retryBudget', 'freshness']) {
      assert.equal(flat in grouped, false, `${flat} is gone from the grouped options`);
    }
    assert.deepEqual(groupOptions({ ca: { caFile: 'certs/ca.pem' } }).tls, { ca: { file: 'certs/ca.pem' } });
  });

  it('refuses a flat option given together with its grouped twin', () => {
    const error = refusal(() => groupOptions({ retries: 1, retry: { retries: 2 } }));
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /retry\.retries.*retries/);
  });

  it('defaults: 2 retries, 10 s per try, a deadline of timeout × (retries + 1), peak-ewma, 32 connections, .service.consul', async () => {
    const resolved = resolveClientOptions({ tls: { ca: await ca() } });
    assert.deepEqual(resolved.retry, { retries: 2, timeoutMs: 10_000, deadlineMs: 30_000, retryOn: undefined, nonIdempotent: false, budget: undefined });
    assert.equal(resolved.connectionsPerInstance, 32);
    assert.equal(resolved.otherHosts, 'pass');
    assert.equal(resolved.serviceOfHost('orders.service.consul'), 'orders');
    assert.equal(typeof resolved.balancer({ service: 'x' }).pick, 'function');
  });

  it("reads discovery with Consul's stale mode unless told otherwise, and passes a chosen mode and bound on", async () => {
    const tls = { ca: await ca() };
    assert.deepEqual(resolveClientOptions({ tls }).consistency, {});
    assert.deepEqual(resolveClientOptions({ tls, discovery: { consistency: 'stale', maxStaleMs: 10_000 } }).consistency, { consistency: 'stale', maxStaleMs: 10_000 });
    assert.deepEqual(resolveClientOptions({ tls, discovery: { consistency: 'consistent' } }).consistency, { consistency: 'consistent' });
  });

  it('takes a balancer factory, called once per service with its name', async () => {
    const seen: string[] = [];
    const resolved = resolveClientOptions({
      tls: { ca: await ca() },
      balancer: ({ service }) => {
        seen.push(service);
        return createBalancer('round-robin');
      },
    });
    resolved.balancer({ service: 'orders' });
    assert.deepEqual(seen, ['orders']);
  });

  it('refuses at creation, naming the option: a bad balancer name, absurd durations, bad retries, a missing CA file', async () => {
    const tls = { ca: await ca() };
    const cases: [ClientOptions, RegExp][] = [
      [{ tls, balancer: 'fastest' as never }, /^balancer must be one of round-robin, random, least-request, peak-ewma/],
      [{ tls, retry: { timeoutMs: -1 } }, /^retry\.timeoutMs must be a positive number/],
      [{ tls, retry: { deadlineMs: 2 ** 31 } }, /^retry\.deadlineMs must be at most 2147483647 \(24\.8 days\)/],
      [{ tls, retry: { retries: 11 } }, /^retry\.retries must be a whole number from 0 to 10/],
      [{ tls, outlier: { baseEjectionMs: Number.POSITIVE_INFINITY } }, /^outlier\.baseEjectionMs/],
      [{ tls, discovery: { freshness: { maxStalenessMs: 0 } } }, /^discovery\.freshness\.maxStalenessMs must be a positive number/],
      [{ tls, connectionsPerInstance: 0 }, /^connectionsPerInstance must be a positive number/],
      [{ tls, otherHosts: 'maybe' as never }, /^otherHosts/],
      [{ tls, discovery: { consistency: 'eventual' as never } }, /^discovery\.consistency/],
      [{ tls, discovery: { consistency: 'default', maxStaleMs: 5000 } }, /maxStaleMs bounds stale reads, but discovery\.consistency is 'default'/],
      [{ tls, discovery: { maxStaleMs: -1 } }, /^discovery\.maxStaleMs must be a positive number/],
    ];
    for (const [options, message] of cases) {
      const error = refusal(() => createClient({ consul: { address: '127.0.0.1:1' }, ...options }));
      assert.equal(error.code, 'CONFIG_INVALID', message.source);
      assert.match(error.message, message);
      assert.ok(error.hint, 'with a hint');
    }
    const missing = refusal(() => createClient({ consul: { address: '127.0.0.1:1' }, tls: { ca: { file: '/nonexistent/farol/ca.pem' } } }));
    assert.equal(missing.code, 'CERT_MISSING');
    const none = refusal(() => createClient({ consul: { address: '127.0.0.1:1' } }));
    assert.equal(none.code, 'CONFIG_INVALID');
  });

  it('maps <service>.service.consul (any case, a trailing dot) to the service, and nothing else', () => {
    const of = serviceOfHost('.service.consul');
    assert.equal(of('Orders.Service.Consul.'), 'orders');
    assert.equal(of('service.consul'), undefined);
    assert.equal(of('a.b.service.consul'), undefined);
    assert.equal(of('example.com'), undefined);
    assert.equal(serviceOfHost('svc.internal')('billing.svc.internal'), 'billing');
    const custom = serviceOfHost((host) => (host.startsWith('api-') ? host.slice(4) : undefined));
    assert.equal(custom('api-orders'), 'orders');
  });
});
