import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AlwaysOffSampler, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';
import { channels, createEventOwner } from '../../src/events/channels.js';
import { traceEventsOf } from '../../src/events/tracing.js';
import { registerOtelSdk } from '../integration/observability/fixtures/otel-sdk.js';

describe('tracing without an OpenTelemetry SDK', () => {
  it('adds no traceparent and keeps nothing: the handlers return at once', () => {
    const owner = createEventOwner('client', 'no-sdk');
    const stop = traceEventsOf(owner, '1');
    try {
      const call = { owner, call: {}, service: 'orders', method: 'GET', path: '/' };
      const added: Record<string, string> = {};
      channels.clientCallStart.publish(call);
      channels.clientTryStart.publish({ ...call, try: {}, attempt: 1, instance: { id: 'i', address: '127.0.0.1', port: 1 }, addHeader: (name, value) => (added[name] = value) });
      assert.deepEqual(added, {});
    } finally {
      stop();
    }
  });
});

describe('tracing', () => {
  let sdk: ReturnType<typeof registerOtelSdk>;
  before(() => {
    sdk = registerOtelSdk();
  });
  after(() => sdk.shutdown());

  it('makes a call span with one child span per try, and puts the try span in the traceparent it adds', () => {
    sdk.memory.reset();
    const owner = createEventOwner('client', 't1');
    const stop = traceEventsOf(owner, '1');
    try {
      const call = { owner, call: {}, service: 'orders', method: 'GET', path: '/' };
      const first = { id: 'orders-1', address: '127.0.0.1', port: 8001 };
      const second = { id: 'orders-2', address: '127.0.0.1', port: 8002 };
      const headers: Array<Record<string, string>> = [];
      channels.clientCallStart.publish(call);
      for (const [attempt, instance, status] of [[1, first, 503], [2, second, 200]] as const) {
        const tryRef = {};
        const added: Record<string, string> = {};
        channels.clientTryStart.publish({ ...call, try: tryRef, attempt, instance, addHeader: (name, value) => (added[name] = value) });
        headers.push(added);
        channels.clientTryEnd.publish({ ...call, try: tryRef, attempt, instance, durationMs: 1, status, error: undefined });
      }
      channels.clientCallEnd.publish({ ...call, durationMs: 3, attempts: 2, status: 200, instance: second, error: undefined });

      const spans = sdk.memory.getFinishedSpans();
      const callSpan = spans.find((s) => s.name === 'GET orders')!;
      const tries = spans.filter((s) => s.kind === SpanKind.CLIENT);
      assert.equal(tries.length, 2);
      for (const [index, span] of tries.entries()) {
        assert.equal(span.spanContext().traceId, callSpan.spanContext().traceId);
        assert.equal(span.parentSpanContext?.spanId, callSpan.spanContext().spanId);
        assert.equal(span.attributes['farol.attempt'], index + 1);
        assert.equal(headers[index]!.traceparent, `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
      }
      assert.equal(tries[0]!.attributes['farol.instance.id'], 'orders-1');
      assert.equal(tries[0]!.attributes['server.port'], 8001);
      assert.equal(tries[0]!.attributes['http.response.status_code'], 503);
      assert.equal(tries[0]!.attributes['error.type'], '503');
      assert.equal(tries[0]!.status.code, SpanStatusCode.ERROR);
      assert.equal(tries[1]!.status.code, SpanStatusCode.UNSET);
      assert.equal(callSpan.attributes['farol.attempts'], 2);
    } finally {
      stop();
    }
  });

  it('continues an incoming traceparent in a server span named by the route template', () => {
    sdk.memory.reset();
    const owner = createEventOwner('service', 's1');
    const stop = traceEventsOf(owner, '1');
    try {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parentId = '00f067aa0ba902b7';
      const request = {};
      const facts = { owner, service: 'orders', instance: 'orders-1', request, method: 'GET', path: '/orders/7', remoteAddress: '127.0.0.1' };
      channels.serviceRequestStart.publish({ ...facts, header: (name) => (name === 'traceparent' ? `00-${traceId}-${parentId}-01` : undefined) });
      channels.serviceRequestEnd.publish({ ...facts, route: '/orders/:id', status: 500, durationMs: 2, principal: null, healthProbe: false });
      const [span] = sdk.memory.getFinishedSpans();
      assert.equal(span!.name, 'GET /orders/:id');
      assert.equal(span!.kind, SpanKind.SERVER);
      assert.equal(span!.spanContext().traceId, traceId);
      assert.equal(span!.parentSpanContext?.spanId, parentId);
      assert.equal(span!.attributes['http.route'], '/orders/:id');
      assert.equal(span!.status.code, SpanStatusCode.ERROR);
    } finally {
      stop();
    }
  });

  it('leaves other owners and stopped owners alone', () => {
    sdk.memory.reset();
    const owner = createEventOwner('client', 't2');
    traceEventsOf(owner, '1')();
    const stranger = createEventOwner('client', 't3');
    const keep = traceEventsOf(createEventOwner('client', 'traced'), '1');
    try {
      for (const who of [owner, stranger]) {
        const call = { owner: who, call: {}, service: 'x', method: 'GET', path: '/' };
        channels.clientCallStart.publish(call);
        channels.clientCallEnd.publish({ ...call, durationMs: 1, attempts: 1, status: 200, instance: undefined, error: undefined });
      }
      assert.deepEqual(sdk.memory.getFinishedSpans(), []);
    } finally {
      keep();
    }
  });
});

describe('tracing under a sampler that drops the trace', () => {
  let sdk: ReturnType<typeof registerOtelSdk>;
  before(() => {
    sdk = registerOtelSdk({ sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }) });
  });
  after(() => sdk.shutdown());

  it("still sends the trace id with the sampled flag off, so the instance follows the caller's decision", () => {
    sdk.memory.reset();
    const client = createEventOwner('client', 'unsampled-client');
    const service = createEventOwner('service', 'unsampled-service');
    const stops = [traceEventsOf(client, '1'), traceEventsOf(service, '1')];
    try {
      const call = { owner: client, call: {}, service: 'orders', method: 'GET', path: '/' };
      const instance = { id: 'orders-1', address: '127.0.0.1', port: 8001 };
      const tryRef = {};
      const added: Record<string, string> = {};
      channels.clientCallStart.publish(call);
      channels.clientTryStart.publish({ ...call, try: tryRef, attempt: 1, instance, addHeader: (name, value) => (added[name] = value) });
      assert.match(added.traceparent ?? '', /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-00$/);

      const request = {};
      const facts = { owner: service, service: 'orders', instance: 'orders-1', request, method: 'GET', path: '/', remoteAddress: '127.0.0.1' };
      channels.serviceRequestStart.publish({ ...facts, header: (name) => added[name] });
      channels.serviceRequestEnd.publish({ ...facts, route: '/', status: 200, durationMs: 1, principal: null, healthProbe: false });
      channels.clientTryEnd.publish({ ...call, try: tryRef, attempt: 1, instance, durationMs: 1, status: 200, error: undefined });
      channels.clientCallEnd.publish({ ...call, durationMs: 1, attempts: 1, status: 200, instance, error: undefined });

      assert.deepEqual(sdk.memory.getFinishedSpans(), [], 'no span is recorded on either side');
    } finally {
      for (const stop of stops) stop();
    }
  });
});
