/**
 * One call, from the caller's dispatch to the end of the response it gets: discovery → instance
 * selection → credentials → exchange, try after try as the pure retry decision says. The caller
 * sees one request: one controller (abort, pause, resume reach the current try), one response
 * (the one kept), streamed as it comes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { FarolError } from '../errors.js';
import { channels, CREDENTIAL_HEADERS, type EventOwner, type InstanceRef } from '../events/channels.js';
import { classifyNetError } from '../net-errors.js';
import type { CredentialStage } from './credentials.js';
import type { Discovery } from './discovery.js';
import { Try, TryTimedOut, type TryEnd } from './exchange.js';
import { hostPort, type Instance } from './instance.js';
import type { ResolvedClientOptions } from './options.js';
import type { InstancePools } from './pools.js';
import { serverNameFor } from './pools.js';
import type { RetryBudget } from './retry-budget.js';
import { decideRetry, type StopReason, type TryOutcome } from './retry-decision.js';
import { parseRetryAfter, retryDelayMs } from './retry-policy.js';
import type { InstanceSelection } from './selection.js';
import { requestFailureToFarolError } from './tls-errors.js';

/** What every call of one client shares. */
export interface CallContext {
  owner: EventOwner;
  options: ResolvedClientOptions;
  discovery: Discovery;
  selection: InstanceSelection;
  credentials: CredentialStage;
  budget: RetryBudget;
  pools(): Promise<InstancePools>;
}

type Headers = Record<string, string | string[]>;

/** A finished try's facts, for the decision and the events. */
interface TryReport {
  end: TryEnd;
  outcome: TryOutcome;
  status: number | undefined;
  error: FarolError | undefined;
  retryAfterMs: number | undefined;
  /** Set when the response was dropped: for a token refresh, or for a retry after this pause. */
  dropped?: { refresh: true } | { refresh: false; pauseMs: number };
}

export class CallRun implements Dispatcher.DispatchController {
  readonly call = {};
  readonly method: string;
  /** For events: the path without its query string, which can carry secrets. */
  readonly eventPath: string;
  readonly started = performance.now();
  attempts = 0;
  instance: InstanceRef | undefined;
  private current: Try | undefined;
  private abortReason: Error | null = null;
  private isPaused = false;
  private settled = false;
  private readonly headers: Headers;
  private readonly bodyReplayable: boolean;
  private readonly deadline: number;

  constructor(
    private readonly ctx: CallContext,
    readonly service: string,
    private readonly request: Dispatcher.DispatchOptions,
    private readonly caller: Dispatcher.DispatchHandler,
  ) {
    this.method = (request.method ?? 'GET').toUpperCase();
    this.eventPath = withoutQuery(request.path);
    this.headers = normaliseHeaders(request.headers);
    this.bodyReplayable = isReplayable(request.body);
    this.deadline = this.started + ctx.options.retry.deadlineMs;
  }

  get aborted(): boolean {
    return this.abortReason !== null;
  }
  get paused(): boolean {
    return this.isPaused;
  }
  get reason(): Error | null {
    return this.abortReason;
  }

  abort(reason: Error): void {
    if (this.abortReason !== null || this.settled) return;
    this.abortReason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.current?.abort(this.abortReason);
  }
  pause(): void {
    this.isPaused = true;
    this.current?.pause();
  }
  resume(): void {
    this.isPaused = false;
    this.current?.resume();
  }

  /** Starts the call; its end reaches the caller's handler (onResponseEnd or onResponseError), never a rejection. */
  start(): void {
    const { owner } = this.ctx;
    if (channels.clientCallStart.hasSubscribers) {
      channels.clientCallStart.publish({ owner, call: this.call, service: this.service, method: this.method, path: this.eventPath });
    }
    try {
      this.caller.onRequestStart?.(this, {});
    } catch (error) {
      this.fail(error);
      return;
    }
    this.run().catch((error: unknown) => this.fail(error));
  }

  private async run(): Promise<void> {
    const { ctx, service } = this;
    const pools = await ctx.pools();
    let authorization = ctx.credentials.active ? await ctx.credentials.authorization() : undefined;
    let refreshed = false;
    const tried = new Set<string>();
    ctx.budget.deposit();
    let last: TryReport | undefined;
    for (let tryNumber = 1; ; tryNumber += 1) {
      if (this.abortReason) return this.fail(this.abortReason);
      const candidates = ctx.selection.candidates(service, await ctx.discovery.passingInstances(service));
      if (last !== undefined && candidates.wakeInMs > 0) {
        // Every instance asked for a rest (503 + Retry-After): wait for the first, if the deadline allows.
        if (performance.now() + candidates.wakeInMs >= this.deadline) return this.stop(last, tryNumber - 1, 'deadline');
        await sleep(candidates.wakeInMs);
      }
      const instance = ctx.selection.pick(service, candidates.instances, tried);
      if (!instance) {
        if (last !== undefined) return this.stop(last, tryNumber - 1, 'no instance left');
        throw await ctx.discovery.noHealthyInstanceError(service);
      }
      tried.add(instance.id);
      this.attempts = tryNumber;
      let report = await this.tryOn(pools, instance, tryNumber, authorization, (status, headers) => !refreshed && ctx.credentials.canRefresh(status, headers, authorization) && this.bodyReplayable);
      if (report.dropped?.refresh === true && authorization !== undefined) {
        // The token expired or was revoked before its time: one fresh token, once, on the same
        // instance. Not a retry in the budget's sense (nothing failed), but within the deadline.
        refreshed = true;
        authorization = await ctx.credentials.refresh(authorization);
        if (channels.clientCredentialsRefreshed.hasSubscribers) {
          channels.clientCredentialsRefreshed.publish({ owner: ctx.owner, call: this.call, service, method: this.method, path: this.eventPath, instance: instance.id });
        }
        if (this.abortReason) return this.fail(this.abortReason);
        report = await this.tryOn(pools, instance, tryNumber, authorization, () => false);
      }
      if (report.end.kind === 'forwarded') return this.settleForwarded(report);
      last = report;
      let pauseMs: number;
      if (report.dropped?.refresh === false) {
        pauseMs = report.dropped.pauseMs; // decided, and the retry withdrawn, when the response came
      } else {
        const decision = decideRetry({
          outcome: report.outcome,
          method: this.method,
          bodyReplayable: this.bodyReplayable,
          triesMade: tryNumber,
          retries: ctx.options.retry.retries,
          retryOn: ctx.options.retry.retryOn,
          nonIdempotent: ctx.options.retry.nonIdempotent,
          now: performance.now(),
          deadline: this.deadline,
          pauseMs: retryDelayMs(tryNumber),
          budgetAvailable: ctx.budget.balance() > 0,
        });
        if (!decision.retry) return this.stop(report, tryNumber, decision.reason);
        if (!ctx.budget.tryWithdraw()) return this.stop(report, tryNumber, 'retry budget spent');
        pauseMs = decision.pauseMs;
      }
      if (channels.clientRetry.hasSubscribers) {
        channels.clientRetry.publish({
          owner: ctx.owner,
          call: this.call,
          service,
          method: this.method,
          path: this.eventPath,
          attempt: tryNumber,
          instance: instance.id,
          reason: report.error?.code ?? report.status ?? 'ERROR',
          pauseMs,
        });
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  /**
   * One try on `instance`. A response is dropped (for another try) when `refreshFirst` says the
   * token must be refreshed, or when the retry decision would go on; otherwise it is forwarded.
   */
  private tryOn(
    pools: InstancePools,
    instance: Instance,
    attempt: number,
    authorization: string | undefined,
    refreshFirst: (status: number, headers: IncomingHttpHeaders) => boolean,
  ): Promise<TryReport> {
    const { ctx, service } = this;
    const { options, owner } = ctx;
    const serverName = serverNameFor(instance, options.serverName);
    this.instance = { id: instance.id, address: instance.address, port: instance.port };
    const tryRef = {};
    const tryFacts = { owner, call: this.call, try: tryRef, service, method: this.method, path: this.eventPath, attempt, instance: this.instance };
    let headers = this.headers;
    if (authorization !== undefined) headers = withAuthorization(headers, authorization);
    if (channels.clientTryStart.hasSubscribers) {
      const added: Record<string, string> = {};
      channels.clientTryStart.publish({
        ...tryFacts,
        addHeader: (name, value) => {
          const lower = name.toLowerCase();
          if (!CREDENTIAL_HEADERS.has(lower)) added[lower] = value;
        },
      });
      if (Object.keys(added).length > 0) headers = { ...headers, ...added };
    }
    const timeoutMs = Math.max(1, Math.ceil(Math.min(options.retry.timeoutMs, this.deadline - performance.now())));
    const finishBalancer = ctx.selection.start(service, instance);
    const started = performance.now();
    let status: number | undefined;
    let retryAfterMs: number | undefined;
    let dropped: TryReport['dropped'];
    return new Promise<TryReport>((resolve) => {
      const attemptTry = new Try(
        {
          caller: this.caller,
          controller: this,
          onResponse: (statusCode, responseHeaders) => {
            status = statusCode;
            const failed = statusCode >= 500;
            finishBalancer({ latencyMs: elapsed(started), ok: !failed });
            if (failed) ctx.selection.recordFailure(service, instance.id);
            else ctx.selection.recordSuccess(service, instance.id);
            retryAfterMs = statusCode === 503 ? parseRetryAfter(responseHeaders['retry-after'], Date.now()) : undefined;
            if (retryAfterMs !== undefined) ctx.selection.rest(service, instance.id, retryAfterMs);
            if (refreshFirst(statusCode, responseHeaders)) {
              dropped = { refresh: true };
              return 'drop';
            }
            // Decided now, as the headers come: a response that is not retried goes to the caller as it streams.
            const decision = decideRetry({
              outcome: { kind: 'response', status: statusCode, retryAfterMs },
              method: this.method,
              bodyReplayable: this.bodyReplayable,
              triesMade: attempt,
              retries: options.retry.retries,
              retryOn: options.retry.retryOn,
              nonIdempotent: options.retry.nonIdempotent,
              now: performance.now(),
              deadline: this.deadline,
              pauseMs: retryAfterMs !== undefined ? 0 : retryDelayMs(attempt),
              budgetAvailable: ctx.budget.balance() > 0,
            });
            if (!decision.retry) {
              if (decision.reason === 'deadline' || decision.reason === 'retry budget spent') this.publishRetryRefused(attempt, decision.reason);
              return 'forward';
            }
            if (this.abortReason || !ctx.budget.tryWithdraw()) {
              if (!this.abortReason) this.publishRetryRefused(attempt, 'retry budget spent');
              return 'forward';
            }
            dropped = { refresh: false, pauseMs: decision.pauseMs };
            return 'drop';
          },
          onEnd: (end) => {
            this.current = undefined;
            let error: FarolError | undefined;
            let outcome: TryOutcome;
            if (end.kind === 'failed') {
              finishBalancer({ latencyMs: elapsed(started), ok: false });
              error = this.tryError(end.error, instance, serverName, timeoutMs, pools);
              const failure = end.error instanceof TryTimedOut ? undefined : classifyNetError(pools.tlsAlertBehind(end.error) ?? end.error);
              outcome = { kind: 'failure', neverSent: failure?.neverSent ?? false, aborted: this.abortReason !== null };
              if (this.abortReason === null) ctx.selection.recordFailure(service, instance.id);
            } else {
              outcome = { kind: 'response', status: status!, retryAfterMs };
              if (end.kind === 'forwarded' && end.error !== undefined) error = this.bodyError(end.error, instance, serverName);
            }
            if (channels.clientTryEnd.hasSubscribers) {
              channels.clientTryEnd.publish({
                ...tryFacts,
                durationMs: elapsed(started),
                status: end.kind === 'failed' ? undefined : status,
                error: error === undefined ? undefined : { code: error.code, message: error.message },
                ...(end.kind === 'failed' ? {} : { retryAfterMs }),
              });
            }
            resolve({ end, outcome, status: end.kind === 'failed' ? undefined : status, error, retryAfterMs, ...(dropped ? { dropped } : {}) });
          },
        },
        timeoutMs,
      );
      this.current = attemptTry;
      if (this.isPaused) attemptTry.pause();
      const { origin: _origin, ...rest } = this.request;
      attemptTry.start(pools.poolFor({ instance, serverName }), { ...rest, headers, headersTimeout: timeoutMs, bodyTimeout: options.retry.timeoutMs });
      if (this.abortReason) attemptTry.abort(this.abortReason);
    });
  }

  private tryError(error: Error, instance: Instance, serverName: string | undefined, timeoutMs: number, pools: InstancePools): FarolError {
    if (this.abortReason !== null) {
      return this.abortReason instanceof FarolError ? this.abortReason : new FarolError('ABORTED', `the call to '${this.service}' was aborted`, { cause: this.abortReason });
    }
    const { options } = this.ctx;
    if (error instanceof TryTimedOut) {
      const within = timeoutMs < options.retry.timeoutMs ? `the ${options.retry.deadlineMs} ms deadline of the call` : `${options.retry.timeoutMs} ms`;
      return new FarolError('TIMEOUT', `'${this.service}' at ${hostPort(instance)} did not answer within ${within}`, {
        hint: 'raise --timeout (retry.timeoutMs in the library), or check the load and the logs of that instance',
        details: { service: this.service, target: hostPort(instance) },
      });
    }
    return requestFailureToFarolError(pools.tlsAlertBehind(error) ?? error, {
      service: this.service,
      target: hostPort(instance),
      expectedName: serverName ?? instance.address,
      timeoutMs,
    });
  }

  private bodyError(error: Error, instance: Instance, serverName: string | undefined): FarolError {
    if (this.abortReason !== null) return this.abortReason instanceof FarolError ? this.abortReason : new FarolError('ABORTED', `the call to '${this.service}' was aborted`, { cause: error });
    return requestFailureToFarolError(error, { service: this.service, target: hostPort(instance), expectedName: serverName ?? instance.address, timeoutMs: this.ctx.options.retry.timeoutMs });
  }

  /** The kept response went to the caller; its end (already given to the caller) ends the call. */
  private settleForwarded(report: TryReport): void {
    this.settled = true;
    if (report.error !== undefined) {
      this.publishEnd(undefined, report.error);
      this.caller.onResponseError?.(this, this.abortReason !== null && !(this.abortReason instanceof FarolError) ? this.abortReason : report.error);
      return;
    }
    this.publishEnd(report.status, undefined);
  }

  /** No further try: the last outcome becomes the call's. */
  private stop(last: TryReport, tries: number, reason: StopReason | 'no instance left'): void {
    this.attempts = tries;
    if (reason === 'deadline' || reason === 'retry budget spent' || reason === 'no instance left') this.publishRetryRefused(tries, reason);
    // A dropped response is gone; what the caller gets is the error of the last failure, or the
    // status that could not be retried, as a FarolError.
    this.fail(last.error ?? lastStatusError(this.service, last.status));
  }

  private publishRetryRefused(attempts: number, reason: 'deadline' | 'retry budget spent' | 'no instance left'): void {
    if (channels.clientRetryRefused.hasSubscribers) {
      channels.clientRetryRefused.publish({ owner: this.ctx.owner, call: this.call, service: this.service, method: this.method, path: this.eventPath, attempts, reason });
    }
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const farolError = error instanceof FarolError ? error : this.abortReason !== null ? undefined : new FarolError('REQUEST_FAILED', `the call to '${this.service}' failed: ${String(error)}`, { cause: error });
    this.publishEnd(undefined, farolError ?? new FarolError('ABORTED', `the call to '${this.service}' was aborted`, { cause: error }));
    // An abort gives the caller back its own reason, as undici's dispatchers do.
    this.caller.onResponseError?.(this, this.abortReason !== null && !(this.abortReason instanceof FarolError) ? this.abortReason : (farolError ?? (error as Error)));
  }

  private publishEnd(status: number | undefined, error: FarolError | undefined): void {
    if (!channels.clientCallEnd.hasSubscribers) return;
    channels.clientCallEnd.publish({
      owner: this.ctx.owner,
      call: this.call,
      service: this.service,
      method: this.method,
      path: this.eventPath,
      durationMs: elapsed(this.started),
      attempts: this.attempts,
      status,
      instance: this.instance,
      error: error === undefined ? undefined : { code: error.code, message: error.message },
    });
  }
}

function lastStatusError(service: string, status: number | undefined): FarolError {
  return new FarolError('REQUEST_FAILED', `'${service}' answered ${String(status)} on every try`, { hint: 'check the logs of the instances' });
}

/** A body that can be sent again on another try: none, text or bytes. A stream is read once. */
export function isReplayable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

/** undici's header forms (object, flat array, iterable of pairs) as one object with lower-case names. */
export function normaliseHeaders(given: Dispatcher.DispatchOptions['headers']): Headers {
  const headers: Headers = {};
  const add = (name: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    const key = name.toLowerCase();
    const text = Array.isArray(value) ? value.map(String) : String(value);
    const existing = headers[key];
    headers[key] = existing === undefined ? text : ([] as string[]).concat(existing, text);
  };
  if (given === undefined || given === null) return headers;
  if (Array.isArray(given)) {
    if (given.length > 0 && Array.isArray(given[0])) for (const [name, value] of given as unknown as [string, string][]) add(name, value);
    else for (let i = 0; i + 1 < given.length; i += 2) add(String(given[i]), given[i + 1]);
  } else if (typeof (given as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of given as Iterable<[string, string]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(given)) add(name, value);
  }
  return headers;
}

function withAuthorization(headers: Headers, authorization: string): Headers {
  return { ...headers, authorization };
}

function withoutQuery(path: string): string {
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
