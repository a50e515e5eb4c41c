import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { Try, TryTimedOut, type TryEnd } from '../../src/client/exchange.js';
import { createTestPki, startHttpsServer } from './fixtures.js';

/** A caller's handler that records what reaches it. */
function recorder() {
  const seen: { status?: number; headers?: IncomingHttpHeaders; chunks: Buffer[]; ended: boolean } = { chunks: [], ended: false };
  const handler: Dispatcher.DispatchHandler = {
    onResponseStart: (_c, status, headers) => Object.assign(seen, { status, headers }),
    onResponseData: (_c, chunk) => void seen.chunks.push(chunk),
    onResponseEnd: () => void (seen.ended = true),
  };
  return { seen, handler };
}

const controller: Dispatcher.DispatchController = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} };

function runTry(pool: Pool, path: string, decide: 'forward' | 'drop', timeoutMs: number, caller: Dispatcher.DispatchHandler): { attempt: Try; end: Promise<TryEnd> } {
  let attempt!: Try;
  const end = new Promise<TryEnd>((resolve) => {
    attempt = new Try({ caller, controller, onResponse: () => decide, onEnd: resolve }, timeoutMs);
    attempt.start(pool, { method: 'GET', path, headers: { 'x-asked': 'yes' } });
  });
  return { attempt, end };
}

describe('one try of the exchange stage', () => {
  it('forwards a kept response to the caller chunk by chunk, and drops one that will be retried', async () => {
    const pki = await createTestPki();
    const server = await startHttpsServer(pki.server, (_req, res) => {
      res.setHeader('x-note', 'hello');
      res.write('first ');
      res.end('second');
    });
    const pool = new Pool(`https://127.0.0.1:${server.port}`, { connect: { ca: pki.ca.certPem } });
    try {
      const kept = recorder();
      assert.deepEqual(await runTry(pool, '/x', 'forward', 5000, kept.handler).end, { kind: 'forwarded' });
      assert.equal(kept.seen.status, 200);
      assert.equal(kept.seen.headers?.['x-note'], 'hello');
      assert.equal(Buffer.concat(kept.seen.chunks).toString(), 'first second');
      assert.equal(kept.seen.ended, true);
      assert.equal(server.requests[0]?.url, '/x');

      const dropped = recorder();
      assert.deepEqual(await runTry(pool, '/y', 'drop', 5000, dropped.handler).end, { kind: 'dropped' });
      assert.equal(dropped.seen.status, undefined, 'the caller never sees a dropped response');
      assert.equal(dropped.seen.chunks.length, 0);
    } finally {
      await pool.close();
      await server.close();
    }
  });

  it('gives up, at its own time, a request still queued behind a busy connection; and stops on abort', async () => {
    const pki = await createTestPki();
    const server = await startHttpsServer(pki.server, () => undefined); // never answers
    const pool = new Pool(`https://127.0.0.1:${server.port}`, { connections: 1, connect: { ca: pki.ca.certPem } });
    try {
      const first = runTry(pool, '/first', 'forward', 60_000, recorder().handler);
      const queued = await runTry(pool, '/queued', 'forward', 100, recorder().handler).end;
      assert.equal(queued.kind, 'failed');
      assert.ok(queued.kind === 'failed' && queued.error instanceof TryTimedOut && queued.error.timeoutMs === 100, String(queued));
      first.attempt.abort(new DOMException('stop', 'AbortError'));
      const aborted = await first.end;
      assert.ok(aborted.kind === 'failed' && aborted.error.name === 'AbortError');
    } finally {
      await pool.destroy();
      await server.close();
    }
  });
});
