import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchServiceChanges } from '../../src/consul/watch-catalog.js';
import type { ConsulClient, HealthCheck, QueryMeta } from '../../src/consul/index.js';
import { FarolError } from '../../src/errors.js';
import { createEventOwner } from '../../src/events/channels.js';

function check(service: string, modifyIndex: number): HealthCheck {
  return { Node: 'n1', CheckID: `${service}-ttl`, ServiceName: service, ModifyIndex: modifyIndex } as HealthCheck;
}
const meta = (lastIndex: number): QueryMeta => ({ lastIndex, knownLeader: true, lastContactMs: 0, resultsFilteredByAcls: false });

type Step<T> = T | Error;

/**
 * A Consul client that answers the detector's two endpoints from scripts, in order; past the
 * end of a script a query blocks until it is aborted, as an idle blocking query would. Records
 * the index each query was sent with.
 */
function scriptedConsul(checks: Step<{ checks: HealthCheck[]; index: number }>[], catalog: Step<{ index: number }>[]) {
  const sent = { checks: [] as number[], catalog: [] as number[] };
  let blocked = 0;
  const answer = async <T>(script: Step<T>[], signal: AbortSignal | undefined): Promise<T> => {
    const step = script.shift();
    if (step === undefined) {
      blocked += 1;
      await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
      throw new FarolError('ABORTED', 'stopped');
    }
    if (step instanceof Error) throw step;
    return step;
  };
  const client = {
    owner: createEventOwner('consul', 'scripted'),
    health: {
      state: async (_state: string, opts: { index?: number; signal?: AbortSignal }) => {
        sent.checks.push(opts.index ?? 0);
        const step = await answer(checks, opts.signal);
        return { checks: step.checks, meta: meta(step.index) };
      },
    },
    catalog: {
      services: async (opts: { index?: number; signal?: AbortSignal }) => {
        sent.catalog.push(opts.index ?? 0);
        const step = await answer(catalog, opts.signal);
        return { services: {}, meta: meta(step.index) };
      },
    },
  };
  /** Resolves once both scripts are spent and both loops wait on a blocking query (at most 5 s). */
  const drained = async (): Promise<void> => {
    const started = performance.now();
    while (blocked < 2 && performance.now() - started < 5000) await sleep(5);
  };
  return { client: client as unknown as ConsulClient, sent, drained };
}

const shown = (change: ReadonlySet<string> | 'all'): string | string[] => (change === 'all' ? 'all' : [...change].sort());

describe('the shared change detector (one blocking query on every check, one on the catalog)', () => {
  it('says "all" first, then names the services whose checks moved, blocking on the last index', async () => {
    const { client, sent, drained } = scriptedConsul(
      [{ checks: [check('orders', 3), check('billing', 4)], index: 10 }, { checks: [check('orders', 11), check('billing', 4)], index: 11 }, { checks: [check('orders', 11), check('billing', 4)], index: 11 }],
      [{ index: 7 }],
    );
    const changes: (string | string[])[] = [];
    const watch = watchServiceChanges(client, { events: createEventOwner('client', 't'), onChange: (c) => changes.push(shown(c)) });
    await drained();
    watch.stop();
    assert.deepEqual(changes, ['all', ['orders']]);
    assert.deepEqual(sent.checks, [0, 10, 11, 11]);
    assert.deepEqual(sent.catalog, [0, 7]);
  });

  it('says "all" when the catalog index moves (a registration or a moved address touches no check)', async () => {
    const { client, drained } = scriptedConsul([{ checks: [], index: 10 }], [{ index: 7 }, { index: 9 }]);
    const changes: (string | string[])[] = [];
    const watch = watchServiceChanges(client, { events: createEventOwner('client', 't'), onChange: (c) => changes.push(shown(c)) });
    await drained();
    watch.stop();
    assert.deepEqual(changes, ['all', 'all']);
  });

  it('after a failed query, reports the error, restarts from index 0 and says "all" again (changes may have been missed)', async () => {
    const { client, sent, drained } = scriptedConsul(
      [{ checks: [check('orders', 3)], index: 10 }, new FarolError('CONSUL_UNREACHABLE', 'down'), { checks: [check('orders', 3)], index: 10 }],
      [{ index: 7 }],
    );
    const changes: (string | string[])[] = [];
    const errors: string[] = [];
    const watch = watchServiceChanges(client, {
      events: createEventOwner('client', 't'),
      backoff: { baseMs: 1, maxMs: 1 },
      onChange: (c) => changes.push(shown(c)),
      onError: (error) => errors.push(error.code),
    });
    await drained();
    watch.stop();
    assert.deepEqual(errors, ['CONSUL_UNREACHABLE']);
    assert.deepEqual(changes, ['all', 'all']);
    assert.deepEqual(sent.checks.slice(0, 3), [0, 10, 0]);
  });

  it('restarts from 0 when the index goes backwards (a restarted agent) and says "all" on the answer after', async () => {
    const { client, drained } = scriptedConsul([{ checks: [], index: 10 }, { checks: [], index: 4 }, { checks: [check('orders', 5)], index: 5 }], [{ index: 7 }]);
    const changes: (string | string[])[] = [];
    const watch = watchServiceChanges(client, { events: createEventOwner('client', 't'), onChange: (c) => changes.push(shown(c)) });
    await drained();
    watch.stop();
    assert.deepEqual(changes, ['all', 'all']);
  });
});
