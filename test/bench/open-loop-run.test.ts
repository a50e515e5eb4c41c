import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLoop, type Send } from '../../bench/fixtures/open-loop-run.js';
import { latencySpec, quantile } from '../../bench/fixtures/latency-chart.js';

const settings = { rate: 100, hardTimeoutMs: 2_000, maxInFlight: 1_000 };

describe('bench:tail open-loop load', () => {
  it('sends rate × seconds requests, each on its own schedule, whatever the earlier ones are doing', async () => {
    // The first request stalls 300 ms; in a closed loop the ones behind it would wait.
    let sent = 0;
    const sentAt: number[] = [];
    const send: Send = async () => {
      sent += 1;
      sentAt.push(performance.now());
      if (sent === 1) await sleep(300);
      return 200;
    };
    const result = await openLoop(send, settings, 0.5, true);
    assert.equal(result.scheduled, 50);
    assert.equal(result.ok, 50);
    // Forty-nine requests went out while the first was still stalled (within a generous bound).
    const duringStall = sentAt.filter((at) => at - sentAt[0]! < 300).length;
    assert.ok(duringStall >= 25, `only ${duringStall} requests were sent during the first one's stall`);
  });

  it('counts latency from the intended start, so a generator that falls behind shows it', async () => {
    // Blocking the event loop for 200 ms delays the sending itself: requests due during the block
    // go out late, and their latency includes the wait.
    let blocked = false;
    const send: Send = async () => {
      if (!blocked) {
        blocked = true;
        const until = performance.now() + 200;
        while (performance.now() < until) {
          // a deliberate, bounded 200 ms busy wait
        }
      }
      return 200;
    };
    const result = await openLoop(send, settings, 0.5, true);
    const worst = Math.max(...result.okLatenciesMs);
    assert.ok(worst >= 150, `the worst latency was ${worst} ms, not counted from the intended start`);
  });

  it('counts non-200 answers, errors and drops apart from successes', async () => {
    let n = 0;
    const send: Send = async (signal) => {
      n += 1;
      if (n % 5 === 0) throw new Error('refused');
      if (n % 5 === 1) return 503;
      if (n % 5 === 2) {
        // held until aborted by the hard timeout
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
      }
      return 200;
    };
    const result = await openLoop(send, { rate: 100, hardTimeoutMs: 100, maxInFlight: 1_000 }, 0.2, true);
    assert.equal(result.scheduled, 20);
    assert.equal(result.badStatus, 4);
    assert.equal(result.errors, 8); // 4 refused + 4 timed out
    assert.equal(result.ok, 8);
    assert.equal(result.okLatenciesMs.length, 8);
    assert.equal(result.dropped, 0);
  });

  it('drops a request due while maxInFlight are in flight, rather than queueing it', async () => {
    const send: Send = async () => {
      await sleep(100);
      return 200;
    };
    const result = await openLoop(send, { rate: 100, hardTimeoutMs: 1_000, maxInFlight: 2 }, 0.2, true);
    assert.equal(result.scheduled, 20);
    assert.ok(result.dropped > 0);
    assert.equal(result.ok + result.dropped, 20);
  });
});

describe('bench:tail latency chart', () => {
  it('takes quantiles from the sorted samples', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    assert.equal(quantile(sorted, 0.5), 501);
    assert.equal(quantile(sorted, 0.99), 991);
    assert.equal(quantile(sorted, 0.999), 1000);
    assert.ok(Number.isNaN(quantile(new Float64Array(0), 0.5)));
  });

  it('marks p50, p99 and p99.9 on each row, p99.9 only when a row has enough samples', () => {
    const spec = latencySpec('t', [
      { label: 'many', sortedMs: Float64Array.from({ length: 1000 }, (_, i) => i + 1) },
      { label: 'few', sortedMs: Float64Array.from({ length: 200 }, (_, i) => i + 1) },
    ]) as unknown as { layer: { data: { values: { row: string; percentile: string }[] } }[] };
    const marks = spec.layer[1]!.data.values;
    assert.deepEqual(marks.filter((m) => m.row === 'many').map((m) => m.percentile), ['p50', 'p99', 'p99.9']);
    assert.deepEqual(marks.filter((m) => m.row === 'few').map((m) => m.percentile), ['p50', 'p99']);
  });
});
