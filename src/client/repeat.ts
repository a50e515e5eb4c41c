import { performance } from 'node:perf_hooks';
import { isFarolError } from '../errors.js';
import type { CallOptions, FarolClient } from './client.js';
import { summarize, type CallSample, type LoadReport } from './load-report.js';

export interface RepeatOptions {
  /** How many calls in all. */
  requests: number;
  /** How many in flight at once. */
  concurrency: number;
  call?: CallOptions;
  /** Stops early (the calls in flight finish) when aborted. */
  signal?: AbortSignal;
}

/**
 * Calls `service` `requests` times with `concurrency` calls in flight, and sums up which
 * instance answered, what failed and how long each call took. Never throws for a failed call.
 */
export async function repeatCalls(client: FarolClient, service: string, opts: RepeatOptions): Promise<LoadReport> {
  const samples: CallSample[] = [];
  let issued = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (issued < opts.requests && !opts.signal?.aborted) {
      issued += 1;
      const callStarted = performance.now();
      try {
        const result = await client.call(service, opts.call);
        const ok = result.status >= 200 && result.status < 300;
        samples.push(
          ok
            ? { ok, instance: result.instance.id, status: result.status, latencyMs: result.latencyMs, attempts: result.attempts }
            : { ok, instance: result.instance.id, status: result.status, code: `HTTP ${result.status}`, latencyMs: result.latencyMs, attempts: result.attempts },
        );
      } catch (error) {
        samples.push({ ok: false, code: isFarolError(error) ? error.code : 'ERROR', latencyMs: performance.now() - callStarted });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, opts.requests)) }, worker));
  return summarize(samples, performance.now() - started);
}
