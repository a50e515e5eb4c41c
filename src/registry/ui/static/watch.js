/* global setTimeout, clearTimeout */
/**
 * One view, one blocking query, repeated: the loop Consul documents for blocking queries
 * (https://developer.hashicorp.com/consul/api-docs/features/blocking), with no DOM, so Node
 * tests import it too.
 * - The first request has no index; each next one sends the X-Consul-Index of the last answer
 *   and waits (up to `wait`) until the data changes.
 * - An index that goes backwards (a restarted registry) starts over from 0; a missing or
 *   non-positive one is taken as 1, so the next request still blocks.
 * - Errors back off exponentially (1 s doubling to 30 s, with jitter); an answer that comes back
 *   at once without a change waits 1 s, so a server that does not block cannot start a storm.
 * - 401/403 stop the loop: the caller asks for a token and starts a new one.
 */

export const MIN_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 30000;
export const UNCHANGED_PAUSE_MS = 1000;

export class HttpError extends Error {
  /** @param {number} status @param {string} body */
  constructor(status, body) {
    super(body === '' ? `HTTP ${status}` : `HTTP ${status}: ${body}`);
    this.status = status;
    this.body = body;
  }
}

/** The index to send next, from the one sent last and the X-Consul-Index header received. */
export function nextIndex(previous, header) {
  const index = Number(header);
  if (header === null || header === undefined || !Number.isSafeInteger(index) || index < 1) return 1;
  if (index < previous) return 0;
  return index;
}

/** Delay before retry number `failures` (1, 2, ...): half fixed, half random. */
export function backoffMs(failures, random = Math.random) {
  const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.max(0, Math.min(failures - 1, 20)));
  return Math.round(base / 2 + (random() * base) / 2);
}

function abortableSleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs until `signal` aborts or access is denied.
 * `request(url, signal)` resolves with `{ index, body }` (index: the X-Consul-Index header) or
 * rejects (an HttpError for an HTTP status). `onData(body, index)` runs when the data changed,
 * `onState(state)` with { kind: 'live' } | { kind: 'retrying', error, delayMs } | { kind: 'denied', error }.
 */
export async function watch(path, options) {
  const { request, onData, onState = () => {}, signal, wait = '5m', random = Math.random, now = Date.now } = options;
  const sleep = options.sleep ?? abortableSleep;
  let index = 0;
  let failures = 0;
  while (!signal.aborted) {
    const separator = path.includes('?') ? '&' : '?';
    const url = index > 0 ? `${path}${separator}index=${index}&wait=${wait}` : path;
    const started = now();
    let answer;
    try {
      answer = await request(url, signal);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
        onState({ kind: 'denied', error });
        return;
      }
      failures += 1;
      const delayMs = backoffMs(failures, random);
      onState({ kind: 'retrying', error, delayMs });
      await sleep(delayMs, signal);
      continue;
    }
    if (signal.aborted) return;
    failures = 0;
    const next = nextIndex(index, answer.index);
    onState({ kind: 'live' });
    const changed = index === 0 || next !== index;
    if (changed) onData(answer.body, next);
    else if (now() - started < UNCHANGED_PAUSE_MS) await sleep(UNCHANGED_PAUSE_MS, signal);
    index = next;
  }
}
