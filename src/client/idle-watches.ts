/** How long a service may go without a call before its watch is released. Default 5 minutes. */
export const DEFAULT_IDLE_RELEASE_MS = 5 * 60_000;

/**
 * The services not asked for in `idleMs` or more at `now` (ms, any monotonic clock). A service
 * used exactly `idleMs` ago is idle; one never used is not listed.
 */
export function idleServices(lastUsed: Iterable<readonly [string, number]>, now: number, idleMs: number): string[] {
  const idle: string[] = [];
  for (const [service, at] of lastUsed) if (now - at >= idleMs) idle.push(service);
  return idle;
}

/** How often to look for idle watches: often enough to release within 1.5 × idleMs, at most once a second, at least once a minute. */
export function idleSweepIntervalMs(idleMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(idleMs / 2)));
}
