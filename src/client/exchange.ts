/**
 * The exchange stage: one try of a call on one instance's pool. Until the response headers come
 * it is the try's own; then the call decides, synchronously (body chunks may follow in the same
 * tick), whether the response goes to the caller (streamed, chunk by chunk, with back-pressure)
 * or is read to its end and dropped because another try follows.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/** Why a try was given up: its time was up before the response headers came. */
export class TryTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no response within ${timeoutMs} ms`);
    this.name = 'TryTimedOut';
  }
}

export type TryEnd =
  /** The response went to the caller and ended. */
  | { kind: 'forwarded'; error?: undefined }
  /** The response went to the caller and then broke (error mid-body, or aborted). */
  | { kind: 'forwarded'; error: Error }
  /** The response was dropped (read to its end) for another try. */
  | { kind: 'dropped' }
  /** No response: the error undici gave, a TryTimedOut, or the abort reason. */
  | { kind: 'failed'; error: Error };

export interface TryHooks {
  /** The response headers came: 'forward' hands it to `caller`, 'drop' reads it to its end for nothing. */
  onResponse(statusCode: number, headers: IncomingHttpHeaders): 'forward' | 'drop';
  /** Where a forwarded response goes, with `controller` as the controller the caller sees. */
  caller: Dispatcher.DispatchHandler;
  controller: Dispatcher.DispatchController;
  onEnd(end: TryEnd): void;
}

/**
 * One request on `dispatcher`. `timeoutMs` bounds the wait for the response headers; past them,
 * undici's bodyTimeout (given in `request`) bounds each wait for body data.
 */
export class Try implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private pendingAbort: Error | undefined;
  private pausedEarly = false;
  private mode: 'waiting' | 'forward' | 'drop' | 'ended' = 'waiting';
  private readonly timer: NodeJS.Timeout;
  /** performance.now() when the response headers came. */
  headersAt: number | undefined;

  constructor(
    private readonly hooks: TryHooks,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(giveUpTry, timeoutMs, this, timeoutMs);
  }

  start(dispatcher: Dispatcher, request: Dispatcher.DispatchOptions): void {
    try {
      dispatcher.dispatch(request, this);
    } catch (error) {
      this.finish({ kind: 'failed', error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  abort(reason: Error): void {
    if (this.mode === 'ended') return;
    if (this.controller) this.controller.abort(reason);
    else this.pendingAbort = reason;
    if (this.mode === 'waiting' && !this.controller) this.finish({ kind: 'failed', error: reason });
  }

  pause(): void {
    if (this.controller) this.controller.pause();
    else this.pausedEarly = true;
  }

  resume(): void {
    if (this.controller) this.controller.resume();
    else this.pausedEarly = false;
  }

  giveUp(reason: Error): void {
    if (this.mode !== 'waiting') return;
    this.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) controller.abort(this.pendingAbort);
    else if (this.pausedEarly) controller.pause();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.mode !== 'waiting') return;
    if (statusCode < 200) return; // 1xx: informational, the real response follows
    clearTimeout(this.timer);
    this.headersAt = performance.now();
    this.mode = this.hooks.onResponse(statusCode, headers);
    if (this.mode === 'forward') this.hooks.caller.onResponseStart?.(this.hooks.controller, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.mode === 'forward') this.hooks.caller.onResponseData?.(this.hooks.controller, chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.mode === 'forward') {
      this.finish({ kind: 'forwarded' });
      this.hooks.caller.onResponseEnd?.(this.hooks.controller, trailers);
    } else {
      this.finish({ kind: 'dropped' });
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.mode === 'forward') this.finish({ kind: 'forwarded', error });
    else if (this.mode === 'drop') this.finish({ kind: 'dropped' });
    else this.finish({ kind: 'failed', error });
  }

  private finish(end: TryEnd): void {
    if (this.mode === 'ended') return;
    this.mode = 'ended';
    clearTimeout(this.timer);
    this.hooks.onEnd(end);
  }
}

function giveUpTry(attempt: Try, timeoutMs: number): void {
  attempt.giveUp(new TryTimedOut(timeoutMs));
}
