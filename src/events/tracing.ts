/**
 * OpenTelemetry traces as a subscriber of the event channels, through @opentelemetry/api only:
 * the application registers an SDK (or not). Without one, the API hands out non-recording spans
 * and nothing is kept or propagated.
 *
 * Client: one span per call (INTERNAL, the logical operation) with one CLIENT span per try as its
 * children, so retries and the instance each went to are visible; each try's request carries the
 * W3C `traceparent` of its span. Service: a SERVER span per request continues the caller's trace.
 * Attributes follow OpenTelemetry's HTTP semantic conventions, plus farol.service,
 * farol.instance.id and farol.attempt.
 */
import { context, propagation, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type TextMapSetter, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { channels, subscribe, type EventError, type EventOwner } from './channels.js';
import { methodLabel } from './metric-definitions.js';

const TRACER_NAME = 'farol';

const traced = new Set<EventOwner>();
let unsubscribeAll: (() => void) | undefined;
let tracerVersion: string | undefined;

/**
 * Traces the events of `owner` (a client or a service). One subscription serves every traced
 * owner in the process; returns the function that stops tracing this owner.
 */
export function traceEventsOf(owner: EventOwner, version?: string): () => void {
  tracerVersion ??= version;
  traced.add(owner);
  unsubscribeAll ??= subscribeTracing();
  return () => {
    traced.delete(owner);
    if (traced.size === 0 && unsubscribeAll) {
      unsubscribeAll();
      unsubscribeAll = undefined;
    }
  };
}

/** The API's no-op provider: what a proxy delegates to until an SDK is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

let cachedTracer: { provider: TracerProvider; tracer: Tracer } | undefined;

/**
 * The tracer of the registered SDK, or undefined when none is: then nothing is done at all. Made
 * once per provider; an SDK registered later (or after trace.disable()) is picked up.
 */
function tracer(): Tracer | undefined {
  const global = trace.getTracerProvider();
  const provider = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  if (provider === NOOP_PROVIDER) return undefined;
  if (cachedTracer?.provider !== provider) cachedTracer = { provider, tracer: provider.getTracer(TRACER_NAME, tracerVersion) };
  return cachedTracer.tracer;
}

const headerSetter: TextMapSetter<(name: string, value: string) => void> = {
  set: (addHeader, key, value) => addHeader(key, value),
};

const headerGetter: TextMapGetter<(name: string) => string | undefined> = {
  keys: () => [],
  get: (header, key) => header(key.toLowerCase()),
};

/** Ends a try or call span: its status, and error.type from 400 up or when no response came (HTTP semantic conventions for client spans). */
function endClientSpan(span: Span, outcome: { status: number | undefined; error?: EventError | undefined }): void {
  if (outcome.status !== undefined) span.setAttribute('http.response.status_code', outcome.status);
  const errorType = outcome.error?.code ?? (outcome.status !== undefined && outcome.status >= 400 ? String(outcome.status) : undefined);
  if (errorType !== undefined) {
    span.setAttribute('error.type', errorType);
    span.setStatus({ code: SpanStatusCode.ERROR, ...(outcome.error ? { message: outcome.error.message } : {}) });
  }
  span.end();
}

/**
 * Where a span waits for its end: a symbol-keyed slot on the event's identity object (`call`, `try`,
 * `request`, which Farol makes per call, try and request and nobody else writes to). A WeakMap did
 * the same at several times the cost per event: its entries are ephemerons the collector must trace.
 */
const CALL = Symbol('farol.tracing.call');
const TRY = Symbol('farol.tracing.try');
const REQUEST = Symbol('farol.tracing.request');

interface TracedCall {
  span: Span;
  /** The context of the call span: the parent of its tries, made once per call. */
  context: Context;
  tracer: Tracer;
}

type Slot<K extends symbol, V> = { [key in K]?: V | undefined };

function subscribeTracing(): () => void {
  const offs = [
    subscribe(channels.clientCallStart, (event) => {
      if (!traced.has(event.owner)) return;
      const sdk = tracer();
      if (sdk === undefined) return;
      const method = methodLabel(event.method);
      // Published synchronously inside call(): the active context is the caller's.
      const active = context.active();
      const span = sdk.startSpan(`${method} ${event.service}`, { kind: SpanKind.INTERNAL, attributes: { 'http.request.method': method, 'farol.service': event.service } }, active);
      // Kept even when the sampler dropped it: the tries still carry its trace id with the
      // sampled flag off, so the instances follow the caller's decision instead of starting traces of their own.
      (event.call as Slot<typeof CALL, TracedCall>)[CALL] = { span, context: trace.setSpan(active, span), tracer: sdk };
    }),
    subscribe(channels.clientTryStart, (event) => {
      const call = (event.call as Slot<typeof CALL, TracedCall>)[CALL];
      if (call === undefined) return;
      const method = methodLabel(event.method);
      const attributes: Attributes = {
        'http.request.method': method,
        'server.address': event.instance.address,
        'server.port': event.instance.port,
        'farol.service': event.service,
        'farol.instance.id': event.instance.id,
        'farol.attempt': event.attempt,
      };
      const span = call.tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes }, call.context);
      if (span.isRecording()) (event.try as Slot<typeof TRY, Span>)[TRY] = span;
      propagation.inject(trace.setSpan(call.context, span), event.addHeader, headerSetter);
    }),
    subscribe(channels.clientTryEnd, (event) => {
      const slot = event.try as Slot<typeof TRY, Span>;
      const span = slot[TRY];
      if (span === undefined) return;
      slot[TRY] = undefined;
      endClientSpan(span, event);
    }),
    subscribe(channels.clientRetry, (event) => {
      (event.call as Slot<typeof CALL, TracedCall>)[CALL]?.span.addEvent('retry', { 'farol.attempt': event.attempt, 'farol.instance.id': event.instance, 'farol.retry.reason': String(event.reason) });
    }),
    subscribe(channels.clientCallEnd, (event) => {
      const slot = event.call as Slot<typeof CALL, TracedCall>;
      const call = slot[CALL];
      if (call === undefined) return;
      slot[CALL] = undefined;
      call.span.setAttribute('farol.attempts', event.attempts);
      if (event.instance) call.span.setAttribute('farol.instance.id', event.instance.id);
      endClientSpan(call.span, event);
    }),
    subscribe(channels.serviceRequestStart, (event) => {
      if (!traced.has(event.owner)) return;
      const sdk = tracer();
      if (sdk === undefined) return;
      const method = methodLabel(event.method);
      const parent = propagation.extract(ROOT_CONTEXT, (name: string) => event.header(name), headerGetter);
      const span = sdk.startSpan(
        method,
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': event.path, 'url.scheme': 'https', 'farol.service': event.service, 'farol.instance.id': event.instance } },
        parent,
      );
      if (span.isRecording()) (event.request as Slot<typeof REQUEST, Span>)[REQUEST] = span;
    }),
    subscribe(channels.serviceRequestError, (event) => {
      const span = (event.request as Slot<typeof REQUEST, Span>)[REQUEST];
      if (span === undefined) return;
      span.setAttribute('error.type', event.error.code ?? event.error.type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: event.error.message });
    }),
    subscribe(channels.serviceRequestEnd, (event) => {
      const slot = event.request as Slot<typeof REQUEST, Span>;
      const span = slot[REQUEST];
      if (span === undefined) return;
      slot[REQUEST] = undefined;
      if (event.route !== undefined) {
        span.setAttribute('http.route', event.route);
        span.updateName(`${methodLabel(event.method)} ${event.route}`);
      }
      span.setAttribute('http.response.status_code', event.status);
      // A server span is an error from 500 up only: a 4xx is the caller's mistake.
      if (event.status >= 500) {
        span.setAttribute('error.type', String(event.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
