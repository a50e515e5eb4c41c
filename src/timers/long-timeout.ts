/**
 * Timers of any length. Node turns a setTimeout/setInterval delay above 2^31-1 ms (24.8 days)
 * into 1 ms (with a TimeoutOverflowWarning), so a 720h check interval would run every millisecond.
 * A long timer here is a chain of timeouts of at most 2^31-1 ms toward a deadline, re-reading the
 * clock at each link. The step planning is pure (planStep) and the clock is injectable.
 * Written by hand: the npm packages for this (long-timeout, safe-timers) are unmaintained, untyped
 * and cannot take an injected clock.
 */

/** The longest delay Node's timers honour. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The primitive timers a long timer is built on: Node's by default, a fake clock in tests. */
export interface BaseTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const nodeTimers: BaseTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The next link toward `deadline` at `now`: at most MAX_TIMER_DELAY_MS. `final` means the link
 * reaches the deadline, so its firing fires the timer (even if the host clock says a fraction of
 * a millisecond is left); otherwise the chain re-plans when it fires. A NaN deadline is due now.
 */
export function planStep(deadline: number, now: number): { delayMs: number; final: boolean } {
  const remaining = deadline - now;
  if (Number.isNaN(remaining) || remaining <= 0) return { delayMs: 0, final: true };
  if (remaining <= MAX_TIMER_DELAY_MS) return { delayMs: remaining, final: true };
  return { delayMs: MAX_TIMER_DELAY_MS, final: false };
}

/** A delay clamped to what setTimeout honours: [0, 2^31-1] ms, NaN as 0. For single waits whose end is not worth chaining. */
export function clampTimerDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(ms, MAX_TIMER_DELAY_MS);
}

export interface LongTimer {
  /** Stops the timer; it never fires afterwards. Idempotent. */
  cancel(): void;
  /** Like Timeout.unref(): a pending timer does not keep the process alive. */
  unref(): this;
  ref(): this;
  hasRef(): boolean;
}

export interface LongTimerOptions {
  timers?: BaseTimers;
  /** Start unref'd. */
  unref?: boolean;
}

function applyRef(handle: unknown, refed: boolean): void {
  const h = handle as { ref?: () => void; unref?: () => void } | undefined;
  if (refed) h?.ref?.();
  else h?.unref?.();
}

class LongTimeout implements LongTimer {
  private handle: unknown;
  private done = false;
  private refed: boolean;

  constructor(
    private readonly fn: () => void,
    private readonly deadline: number,
    private readonly timers: BaseTimers,
    refed: boolean,
  ) {
    this.refed = refed;
    this.arm();
  }

  private arm(): void {
    const step = planStep(this.deadline, this.timers.now());
    this.handle = this.timers.setTimeout(() => {
      this.handle = undefined;
      if (this.done) return;
      if (!step.final) {
        this.arm();
        return;
      }
      this.done = true;
      this.fn();
    }, step.delayMs);
    applyRef(this.handle, this.refed);
  }

  cancel(): void {
    this.done = true;
    if (this.handle !== undefined) this.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }

  unref(): this {
    this.refed = false;
    applyRef(this.handle, false);
    return this;
  }

  ref(): this {
    this.refed = true;
    applyRef(this.handle, true);
    return this;
  }

  hasRef(): boolean {
    return this.refed && !this.done;
  }
}

/** Calls `fn` once after `ms` (any length; NaN or ≤ 0: on the next turn). */
export function setLongTimeout(fn: () => void, ms: number, opts: LongTimerOptions = {}): LongTimer {
  const timers = opts.timers ?? nodeTimers;
  return new LongTimeout(fn, timers.now() + ms, timers, opts.unref !== true);
}

class LongInterval implements LongTimer {
  private current: LongTimeout | undefined;
  private stopped = false;
  private refed: boolean;

  constructor(
    private readonly fn: () => void,
    private readonly periodMs: number,
    private readonly timers: BaseTimers,
    refed: boolean,
  ) {
    this.refed = refed;
    this.schedule();
  }

  // The next period counts from when this one fired, as Node's setInterval does.
  private schedule(): void {
    this.current = new LongTimeout(
      () => {
        if (this.stopped) return;
        this.schedule();
        this.fn();
      },
      this.timers.now() + this.periodMs,
      this.timers,
      this.refed,
    );
  }

  cancel(): void {
    this.stopped = true;
    this.current?.cancel();
  }

  unref(): this {
    this.refed = false;
    this.current?.unref();
    return this;
  }

  ref(): this {
    this.refed = true;
    this.current?.ref();
    return this;
  }

  hasRef(): boolean {
    return this.refed && !this.stopped;
  }
}

/** Calls `fn` every `ms` (any length; below 1 ms counts as 1 ms, as in Node) until cancelled. */
export function setLongInterval(fn: () => void, ms: number, opts: LongTimerOptions = {}): LongTimer {
  const period = ms >= 1 ? ms : 1;
  return new LongInterval(fn, period, opts.timers ?? nodeTimers, opts.unref !== true);
}

/**
 * Resolves after `ms` (any length), or at once when `signal` aborts; never rejects. For waits
 * that used `setTimeout` from node:timers/promises with a delay a user or a server chose.
 */
export function longSleep(ms: number, opts: LongTimerOptions & { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = opts;
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setLongTimeout(done, ms, opts);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Timers whose setTimeout takes any delay: the registry's check runner and blocking queries use these. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Timers built on long timers over `base`. */
export function longTimers(base: BaseTimers = nodeTimers): Timers {
  return {
    setTimeout: (fn, ms) => setLongTimeout(fn, ms, { timers: base }),
    clearTimeout: (handle) => (handle as LongTimer | undefined)?.cancel(),
  };
}
