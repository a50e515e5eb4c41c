import type { Timers } from '../../src/registry/blocking.js';

/** A manual clock implementing the registry's Timers: time moves only on advance(). */
export class FakeClock implements Timers {
  private time = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now = (): number => this.time;

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Moves time forward, firing due timers in order (including timers they schedule). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let guard = 0; guard < 100_000; guard += 1) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.pending) if (t.at <= target && t.at < nextAt) [nextId, nextAt] = [id, t.at];
      if (nextId === undefined) break;
      const timer = this.pending.get(nextId) as { at: number; fn: () => void };
      this.pending.delete(nextId);
      this.time = timer.at;
      timer.fn();
    }
    this.time = target;
  }
}
