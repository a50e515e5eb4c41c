import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { channels, createEventOwner } from '../../src/events/channels.js';
import { ownedBy, resolveRegistry, subscribeClientMetrics, subscribeServiceMetrics } from '../../src/events/metrics.js';
import { serveMetrics } from '../../src/events/serve-metrics.js';

/** The value of one series in the registry's text exposition, or undefined when absent. */
async function sample(registry: Registry, series: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const instance = { id: 'orders-1', address: '127.0.0.1', port: 8443 };

describe('service metrics', () => {
  it('observe a request under its route template, method and status, and count it in flight meanwhile', async () => {
    const registry = new Registry();
    const owner = createEventOwner('service', 'orders-a');
    const off = subscribeServiceMetrics({ registry, owns: ownedBy(owner), version: '9.9.9' });
    try {
      const request = {};
      const facts = { owner, service: 'orders', instance: 'orders-a', request, method: 'GET', path: '/orders/42', remoteAddress: '127.0.0.1' };
      channels.serviceRequestStart.publish({ ...facts, header: () => undefined });
      assert.equal(await sample(registry, 'http_server_active_requests{http_request_method="GET"}'), 1);
      channels.serviceRequestEnd.publish({ ...facts, route: '/orders/:id', status: 200, durationMs: 30, principal: null, healthProbe: false });
      assert.equal(await sample(registry, 'http_server_active_requests{http_request_method="GET"}'), 0);
      const base = 'http_server_request_duration_seconds_bucket{le="0.05",http_request_method="GET",http_route="/orders/:id",http_response_status_code="200"}';
      assert.equal(await sample(registry, base), 1);
      const text = await registry.metrics();
      assert.doesNotMatch(text, /\/orders\/42/, 'the raw path never becomes a label');
      assert.match(text, /farol_build_info\{version="9\.9\.9",nodejs_version="v\d+/);
      assert.match(text, /process_cpu_user_seconds_total/, "Node's default process metrics are on");
    } finally {
      off();
    }
  });

  it('count requests in flight across the service hosts sharing a registry, and never below zero for an end without a start', async () => {
    const registry = new Registry();
    const a = createEventOwner('service', 'a');
    const b = createEventOwner('service', 'b');
    const offs = [subscribeServiceMetrics({ registry, owns: ownedBy(a), version: '1' }), subscribeServiceMetrics({ registry, owns: ownedBy(b), version: '1' })];
    try {
      const facts = (owner: typeof a, request: object) => ({ owner, service: 's', instance: owner.id, request, method: 'POST', path: '/', remoteAddress: '::1' });
      const [r1, r2, r3] = [{}, {}, {}];
      channels.serviceRequestStart.publish({ ...facts(a, r1), header: () => undefined });
      channels.serviceRequestStart.publish({ ...facts(b, r2), header: () => undefined });
      assert.equal(await sample(registry, 'http_server_active_requests{http_request_method="POST"}'), 2);
      const end = { route: '/', status: 200, durationMs: 1, principal: null, healthProbe: false };
      channels.serviceRequestEnd.publish({ ...facts(a, r1), ...end });
      channels.serviceRequestEnd.publish({ ...facts(b, r3), ...end });
      channels.serviceRequestEnd.publish({ ...facts(a, r1), ...end });
      assert.equal(await sample(registry, 'http_server_active_requests{http_request_method="POST"}'), 1, 'an end without its start, or a second end, changes nothing');
      assert.equal(await sample(registry, 'http_server_request_duration_seconds_count{http_request_method="POST",http_route="/",http_response_status_code="200"}'), 3);
    } finally {
      for (const off of offs) off();
    }
  });

  it('label an unmatched route with one fixed value, fold unknown methods into _OTHER, and ignore other owners', async () => {
    const registry = new Registry();
    const owner = createEventOwner('service', 'a');
    const stranger = createEventOwner('service', 'b');
    const off = subscribeServiceMetrics({ registry, owns: ownedBy(owner), version: '1' });
    try {
      for (const [who, path] of [[owner, '/x/1'], [owner, '/y/2'], [stranger, '/z']] as const) {
        channels.serviceRequestEnd.publish({ owner: who, service: 's', instance: 'a', request: {}, method: 'BREW', path, remoteAddress: '::1', route: undefined, status: 404, durationMs: 1, principal: null, healthProbe: false });
      }
      assert.equal(await sample(registry, 'http_server_request_duration_seconds_count{http_request_method="_OTHER",http_route="_unmatched",http_response_status_code="404"}'), 2);
    } finally {
      off();
    }
  });

  it('count auth outcomes by scheme, outcome and reason; show registration, drain and certificate expiry', async () => {
    const registry = new Registry();
    const owner = createEventOwner('service', 'a');
    const off = subscribeServiceMetrics({ registry, owns: ownedBy(owner), version: '1' });
    try {
      const facts = { owner, service: 's', instance: 'a', request: {}, method: 'GET', path: '/', remoteAddress: '127.0.0.1' };
      channels.authOutcome.publish({ ...facts, outcome: 'rejected', scheme: 'Basic', status: 401, reason: 'bad password', username: 'alice', hadCredentials: true });
      channels.authOutcome.publish({ ...facts, outcome: 'limited', status: 429, reason: 'address locked', retryAfterSec: 2 });
      channels.registrationState.publish({ owner, service: 's', instance: 'a', state: 'registered', consul: '127.0.0.1:8500' });
      channels.serviceState.publish({ owner, service: 's', instance: 'a', state: 'draining', reason: 'SIGTERM', delayMs: 0, registered: true });
      channels.certificateExpiry.publish({ owner, instance: 'a', notAfter: '2030-01-01T00:00:00.000Z', serial: '01', warning: undefined });
      assert.equal(await sample(registry, 'farol_auth_outcomes_total{scheme="basic",outcome="rejected",reason="bad_password"}'), 1);
      assert.equal(await sample(registry, 'farol_login_limiter_refusals_total{reason="address_locked"}'), 1);
      assert.equal(await sample(registry, 'farol_registration_state{state="registered"}'), 1);
      assert.equal(await sample(registry, 'farol_registration_state{state="unregistered"}'), 0);
      assert.equal(await sample(registry, 'farol_service_draining'), 1);
      assert.equal(await sample(registry, 'farol_certificate_not_after_timestamp_seconds{certificate="server"}'), Date.parse('2030-01-01T00:00:00Z') / 1000);
    } finally {
      off();
    }
  });
});

describe('client metrics', () => {
  it('observe each try per service, count retries, budget refusals and ejections, and show the instances by state', async () => {
    const registry = new Registry();
    const owner = createEventOwner('client', 'c1');
    let clock = 1000;
    const off = subscribeClientMetrics({ registry, owns: ownedBy(owner), version: '1', now: () => clock });
    try {
      const second = { id: 'orders-2', address: '127.0.0.2', port: 8443 };
      channels.discoveryUpdate.publish({ owner, service: 'orders', instances: [instance, second] });
      const call = { owner, call: {}, service: 'orders', method: 'GET', path: '/?secret=1' };
      channels.clientTryStart.publish({ ...call, try: {}, attempt: 1, instance, addHeader: () => undefined });
      channels.clientTryEnd.publish({ ...call, try: {}, attempt: 1, instance, durationMs: 12, status: undefined, error: { code: 'CONNECTION_REFUSED', message: 'refused' } });
      channels.clientEjection.publish({ owner, service: 'orders', instance: instance.id, durationMs: 30_000, ejections: 1 });
      channels.clientRetry.publish({ ...call, attempt: 1, instance: instance.id, reason: 'CONNECTION_REFUSED', pauseMs: 0 });
      channels.clientTryStart.publish({ ...call, try: {}, attempt: 2, instance: second, addHeader: () => undefined });
      channels.clientTryEnd.publish({ ...call, try: {}, attempt: 2, instance: second, durationMs: 20, status: 200, error: undefined });
      channels.clientRetryRefused.publish({ ...call, attempts: 1, reason: 'retry budget spent' });
      channels.clientTryEnd.publish({ ...call, try: {}, attempt: 1, instance: second, durationMs: 3, status: 503, error: undefined, retryAfterMs: 5000 });

      assert.equal(await sample(registry, 'farol_client_tries_total{service="orders"}'), 2);
      assert.equal(await sample(registry, 'http_client_request_duration_seconds_count{service="orders",http_request_method="GET",http_response_status_code="",error_type="CONNECTION_REFUSED"}'), 1);
      assert.equal(await sample(registry, 'http_client_request_duration_seconds_count{service="orders",http_request_method="GET",http_response_status_code="200",error_type=""}'), 1);
      assert.equal(await sample(registry, 'farol_client_retries_total{service="orders",reason="CONNECTION_REFUSED"}'), 1);
      assert.equal(await sample(registry, 'farol_client_retry_budget_refusals_total{service="orders"}'), 1);
      assert.equal(await sample(registry, 'farol_client_outlier_ejections_total{service="orders"}'), 1);
      assert.equal(await sample(registry, 'farol_client_outlier_ejections_active{service="orders"}'), 1);
      assert.equal(await sample(registry, 'farol_client_instances{service="orders",state="passing"}'), 2);
      assert.equal(await sample(registry, 'farol_client_instances{service="orders",state="ejected"}'), 1);
      assert.equal(await sample(registry, 'farol_client_instances{service="orders",state="resting"}'), 1, 'a 503 with Retry-After rests the instance');
      assert.doesNotMatch(await registry.metrics(), /orders-1|secret/, 'no instance ids (opt-in) and no paths in labels');

      clock += 30_001;
      assert.equal(await sample(registry, 'farol_client_outlier_ejections_active{service="orders"}'), 0, 'the ejection has run out');
    } finally {
      off();
    }
  });

  it('label tries with the instance id only when asked', async () => {
    const registry = new Registry();
    const owner = createEventOwner('client', 'c2');
    const off = subscribeClientMetrics({ registry, owns: ownedBy(owner), version: '1', instanceLabels: true });
    try {
      const call = { owner, call: {}, service: 'orders', method: 'GET', path: '/' };
      channels.clientTryEnd.publish({ ...call, try: {}, attempt: 1, instance, durationMs: 5, status: 200, error: undefined });
      assert.match(await registry.metrics(), /farol_instance_id="orders-1"/);
    } finally {
      off();
    }
  });

  it('show panic mode, discovery staleness in seconds, and watch errors', async () => {
    const registry = new Registry();
    const owner = createEventOwner('client', 'c3');
    let clock = 0;
    const off = subscribeClientMetrics({ registry, owns: ownedBy(owner), version: '1', now: () => clock });
    try {
      channels.discoveryUpdate.publish({ owner, service: 'orders', instances: [instance] });
      channels.clientPanic.publish({ owner, service: 'orders', panic: true, ejected: ['orders-1'], passing: 1 });
      channels.consulWatchError.publish({ owner, service: 'orders', error: { code: 'CONSUL_UNREACHABLE', message: 'down' }, failures: 1, retryInMs: 100 });
      channels.discoveryStale.publish({ owner, service: 'orders', error: { code: 'CONSUL_UNREACHABLE', message: 'down' }, serving: 1, maxStalenessMs: 60_000 });
      clock += 4000;
      assert.equal(await sample(registry, 'farol_client_panic_mode{service="orders"}'), 1);
      assert.equal(await sample(registry, 'farol_client_discovery_watch_errors_total{service="orders"}'), 1);
      assert.equal(await sample(registry, 'farol_client_discovery_staleness_seconds{service="orders"}'), 4);
      channels.discoveryRecovered.publish({ owner, service: 'orders' });
      assert.equal(await sample(registry, 'farol_client_discovery_staleness_seconds{service="orders"}'), 0);
    } finally {
      off();
    }
  });
});

describe('metrics option', () => {
  it('takes true (the default registry), false, or a Registry; anything else is a configuration error', () => {
    const registry = new Registry();
    assert.equal(resolveRegistry(registry), registry);
    assert.equal(resolveRegistry(false), undefined);
    assert.ok(resolveRegistry(true));
    assert.throws(() => resolveRegistry('yes' as never), { code: 'CONFIG_INVALID' });
  });

  it('says so, as a configuration error, when the registry already has a metric of the same name', () => {
    const registry = new Registry();
    new Counter({ name: 'farol_client_tries_total', help: 'someone else', registers: [registry] });
    assert.throws(() => subscribeClientMetrics({ registry, owns: () => false, version: '1' }), { code: 'CONFIG_INVALID', message: /farol_client_tries_total/ });
  });
});

describe('serveMetrics', () => {
  it('serves the registry at /metrics on loopback in the text format, and nothing else', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({});
    const server = await serveMetrics(registry, { port: 0 });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      subscribeServiceMetrics({ registry, owns: () => false, version: '1' })();
      const ok = await fetch(server.url);
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /text\/plain; version=0\.0\.4/);
      assert.match(await ok.text(), /# TYPE http_server_request_duration_seconds histogram/);
      assert.equal((await fetch(server.url.replace('/metrics', '/other'))).status, 404);
      assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
  });

  it('says which port is taken', async () => {
    const first = await serveMetrics(new Registry(), { port: 0 });
    try {
      await assert.rejects(serveMetrics(new Registry(), { port: first.port }), { code: 'PORT_IN_USE', message: new RegExp(`metrics port ${first.port}`) });
    } finally {
      await first.close();
    }
  });
});
