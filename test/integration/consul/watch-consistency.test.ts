import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient, watchHealthService } from '../../../src/consul/index.js';
import type { QueryMeta } from '../../../src/consul/index.js';
import { channels, type EventOf } from '../../../src/events/channels.js';
import { isFarolError, type FarolError } from '../../../src/errors.js';

/**
 * The watch against a scripted stand-in for an agent on 127.0.0.1: it records each query string
 * and answers with the X-Consul-* headers a follower sends, so the consistency parameters, the
 * staleness bound and the answer events are checked without a cluster.
 */
interface Script {
  lastContactMs: number;
  knownLeader: boolean;
  index: number;
}

const entry = { Node: { Node: 'n1', Address: '127.0.0.1' }, Service: { ID: 'web-1', Service: 'web', Address: '127.0.0.1', Port: 8443, Tags: [] }, Checks: [] };

describe('the health watch reads stale by default and bounds staleness', () => {
  let server: Server;
  let consul: ConsulClient;
  const queries: URLSearchParams[] = [];
  const script: Script = { lastContactMs: 40, knownLeader: false, index: 10 };

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      queries.push(url.searchParams);
      const blocking = url.searchParams.get('index') === String(script.index);
      const answer = (): void => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-consul-index': String(script.index),
          'x-consul-knownleader': String(script.knownLeader),
          'x-consul-lastcontact': String(script.lastContactMs),
        });
        res.end(JSON.stringify([entry]));
      };
      // A caught-up blocking query is held briefly, as Consul holds it until `wait`.
      if (blocking) setTimeout(answer, 50);
      else answer();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    consul = new ConsulClient({ address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  after(async () => {
    await consul.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends ?stale unless told otherwise, and gives every update Consul's QueryMeta (lastContactMs, knownLeader, lastIndex)", async () => {
    queries.length = 0;
    const answers: EventOf<'consulWatchAnswer'>[] = [];
    const onAnswer = (event: EventOf<'consulWatchAnswer'>): void => void answers.push(event);
    channels.consulWatchAnswer.subscribe(onAnswer);
    const updates: QueryMeta[] = [];
    const watch = watchHealthService(consul, 'web', { passing: true, wait: '1s', onUpdate: (_entries, meta) => updates.push(meta) });
    try {
      await watch.firstResult;
      assert.ok(queries.length >= 1);
      assert.ok(queries.every((q) => q.has('stale') && !q.has('consistent') && !q.has('max_stale')));
      assert.deepEqual(updates[0], { lastIndex: 10, knownLeader: false, lastContactMs: 40, resultsFilteredByAcls: false });
      const first = answers.find((a) => a.service === 'web');
      assert.ok(first);
      assert.deepEqual({ ...first, owner: undefined }, {
        owner: undefined,
        service: 'web',
        consistency: 'stale',
        changed: true,
        instances: 1,
        consul: { lastIndex: 10, knownLeader: false, lastContactMs: 40, resultsFilteredByAcls: false },
      });
    } finally {
      watch.stop();
      channels.consulWatchAnswer.unsubscribe(onAnswer);
    }
  });

  it("sends ?consistent or nothing for the other modes, and refuses a bad mode when the watch is made", async () => {
    for (const [consistency, has] of [['consistent', 'consistent'], ['default', undefined]] as const) {
      queries.length = 0;
      const watch = watchHealthService(consul, 'web', { consistency, wait: '1s', onUpdate: () => undefined });
      try {
        await watch.firstResult;
        const [query] = queries;
        assert.ok(query);
        assert.equal(query.has('stale'), false);
        assert.equal(query.has('consistent'), has === 'consistent');
      } finally {
        watch.stop();
      }
    }
    assert.throws(
      () => watchHealthService(consul, 'web', { consistency: 'consistent', maxStaleMs: 1000, onUpdate: () => undefined }),
      (error: unknown) => isFarolError(error, 'CONFIG_INVALID'),
    );
  });

  it('treats an answer staler than maxStaleMs as a failure (onError, no update), sending ?max_stale, and recovers when fresh', async () => {
    queries.length = 0;
    script.lastContactMs = 12_000;
    const errors: FarolError[] = [];
    const updates: QueryMeta[] = [];
    const watch = watchHealthService(consul, 'web', {
      maxStaleMs: 5000,
      wait: '1s',
      backoff: { baseMs: 20, maxMs: 40 },
      onUpdate: (_entries, meta) => updates.push(meta),
      onError: (error) => errors.push(error),
    });
    try {
      await assert.rejects(watch.firstResult, (error: unknown) => isFarolError(error, 'CONSUL_ERROR') && /12000 ms stale/.test(error.message));
      assert.equal(updates.length, 0);
      assert.equal(queries[0]?.get('max_stale'), '5s');
      assert.ok(queries[0]?.has('stale'));
      assert.equal(errors[0]?.details?.reason, 'stale');
      script.lastContactMs = 30;
      const deadline = performance.now() + 2000;
      while (updates.length === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(updates[0]?.lastContactMs, 30);
    } finally {
      watch.stop();
      script.lastContactMs = 40;
    }
  });
});
