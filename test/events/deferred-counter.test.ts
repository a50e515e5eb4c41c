import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Counter, Registry } from 'prom-client';
import { DeferredCounter } from '../../src/events/deferred-counter.js';

/** Every series of `name` in the registry's text exposition, by its label part. */
async function series(registry: Registry, name: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(name.length, space), Number(line.slice(space + 1)));
  }
  return found;
}

describe('DeferredCounter', () => {
  it('shows exactly what was counted at every scrape, for any sequence of label values and scrapes', async () => {
    const step = fc.oneof(
      fc.record({ inc: fc.tuple(fc.constantFrom('basic', 'bearer'), fc.constantFrom('authenticated', 'rejected'), fc.constantFrom('verified', 'bad password', 'a"quote')) }),
      fc.constant({ scrape: true as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const registry = new Registry();
        const counter = new Counter({ name: 'outcomes_total', help: 'h', labelNames: ['scheme', 'outcome', 'reason'], registers: [registry] });
        const deferred = new DeferredCounter(counter, ['scheme', 'outcome', 'reason']);
        const expected = new Map<string, number>();
        const check = async (): Promise<void> => {
          const text = await series(registry, 'outcomes_total');
          assert.equal(text.size, expected.size);
          for (const [labels, count] of expected) {
            const [scheme, outcome, reason] = JSON.parse(labels) as string[];
            const escaped = reason!.replaceAll('"', '\\"');
            assert.equal(text.get(`{scheme="${scheme}",outcome="${outcome}",reason="${escaped}"}`), count);
          }
        };
        for (const s of steps) {
          if ('inc' in s) {
            deferred.inc(...s.inc);
            const key = JSON.stringify(s.inc);
            expected.set(key, (expected.get(key) ?? 0) + 1);
          } else await check();
        }
        await check();
      }),
      { numRuns: 60 },
    );
  });

  it('is exact for a reader of counter.get() too, and keeps a collect the counter already had', async () => {
    const registry = new Registry();
    let collected = 0;
    const counter = new Counter({ name: 'tries_total', help: 'h', labelNames: ['service'], registers: [registry], collect: () => void (collected += 1) });
    const deferred = new DeferredCounter(counter, ['service']);
    deferred.inc('orders');
    deferred.inc('orders');
    deferred.inc('billing');
    const values = (await counter.get()).values.map((v) => [v.labels.service, v.value]);
    assert.deepEqual(new Map(values as Array<[string, number]>), new Map([['orders', 2], ['billing', 1]]));
    assert.equal(collected, 1);
    deferred.inc('orders');
    assert.equal((await series(registry, 'tries_total')).get('{service="orders"}'), 3, 'nothing counted twice across collections');
  });
});
