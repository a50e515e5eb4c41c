/** One call of a repeated run: which instance answered with what, or the error code. */
export type CallSample =
  | { ok: true; instance: string; status: number; latencyMs: number; attempts: number }
  | { ok: false; instance?: string; status?: number; code: string; latencyMs: number; attempts?: number };

export interface LoadReport {
  requests: number;
  failed: number;
  /** Calls answered per instance id (a call counts for the instance that gave its final answer). */
  byInstance: Record<string, number>;
  /** Failed calls by error code or 'HTTP <status>'. */
  failures: Record<string, number>;
  /** Calls that needed more than one try. */
  retried: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  elapsedMs: number;
  perSecond: number;
}

/** Nearest-rank percentile (p in 0..100) of ascending samples; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Sums up a repeated run. A call fails if it threw or answered outside 2xx. */
export function summarize(samples: readonly CallSample[], elapsedMs: number): LoadReport {
  const byInstance: Record<string, number> = {};
  const failures: Record<string, number> = {};
  let failed = 0;
  let retried = 0;
  for (const sample of samples) {
    if (sample.instance !== undefined) byInstance[sample.instance] = (byInstance[sample.instance] ?? 0) + 1;
    if ((sample.attempts ?? 1) > 1) retried += 1;
    if (!sample.ok) {
      failed += 1;
      failures[sample.code] = (failures[sample.code] ?? 0) + 1;
    }
  }
  const latencies = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  return {
    requests: samples.length,
    failed,
    byInstance,
    failures,
    retried,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.length === 0 ? Number.NaN : latencies[latencies.length - 1]!,
    },
    elapsedMs,
    perSecond: elapsedMs > 0 ? (samples.length / elapsedMs) * 1000 : Number.NaN,
  };
}

/** The report as the lines `farol call --repeat` prints. */
export function formatReport(report: LoadReport): string {
  const ms = (value: number): string => (Number.isNaN(value) ? 'n/a' : `${value.toFixed(1)} ms`);
  const lines = [
    `${report.requests} requests in ${(report.elapsedMs / 1000).toFixed(2)} s (${Math.round(report.perSecond)}/s), ${report.failed} failed, ${report.retried} retried`,
    `latency p50 ${ms(report.latencyMs.p50)}  p90 ${ms(report.latencyMs.p90)}  p99 ${ms(report.latencyMs.p99)}  max ${ms(report.latencyMs.max)}`,
    'answered by:',
  ];
  const width = Math.max(0, ...Object.keys(report.byInstance).map((id) => id.length));
  for (const [id, count] of Object.entries(report.byInstance).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const share = report.requests > 0 ? ((count / report.requests) * 100).toFixed(1) : '0.0';
    lines.push(`  ${id.padEnd(width)}  ${String(count).padStart(7)}  ${share.padStart(5)}%`);
  }
  for (const [code, count] of Object.entries(report.failures)) lines.push(`failed: ${count} × ${code}`);
  return `${lines.join('\n')}\n`;
}
