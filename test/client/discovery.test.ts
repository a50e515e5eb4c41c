import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { splitConnections } from '../../src/client/discovery.js';
import { resolveClientOptions } from '../../src/client/options.js';
import { isFarolError } from '../../src/errors.js';
import { createTestPki, type TestPki } from './fixtures.js';

let pki: TestPki | undefined;
async function ca(): Promise<{ pem: string }> {
  pki ??= await createTestPki();
  return { pem: pki.ca.certPem };
}

describe('how discovery spends its connections to the agent', () => {
  it('gives two to the shared change detector, up to four to its reads, and the rest to services with a query of their own', () => {
    assert.deepEqual(splitConnections(64), { own: 58, detector: 2, refreshes: 4 });
    assert.deepEqual(splitConnections(8), { own: 2, detector: 2, refreshes: 4 });
    assert.deepEqual(splitConnections(3), { own: 0, detector: 2, refreshes: 1 });
  });

  it('never spends more than it is given (from 3 up)', () => {
    for (let max = 3; max <= 300; max += 1) {
      const { own, detector, refreshes } = splitConnections(max);
      assert.ok(own + detector + refreshes <= max && own >= 0 && refreshes >= 1, String(max));
    }
  });
});

describe('the client option discovery.watches', () => {
  it('passes maxConnections and idleReleaseMs on to discovery (defaults left to it)', async () => {
    const tls = { ca: await ca() };
    assert.deepEqual(resolveClientOptions({ tls }).watches, {});
    assert.deepEqual(resolveClientOptions({ tls, discovery: { watches: { maxConnections: 32, idleReleaseMs: 60_000 } } }).watches, { maxConnections: 32, idleReleaseMs: 60_000 });
    assert.deepEqual(resolveClientOptions({ tls, discovery: { watches: { idleReleaseMs: 0 } } }).watches, { idleReleaseMs: 0 });
  });

  it('refuses, by name, a budget too small for the shared detector and a negative idle time', async () => {
    const tls = { ca: await ca() };
    for (const [watches, name] of [[{ maxConnections: 2 }, 'discovery.watches.maxConnections'], [{ idleReleaseMs: -1 }, 'discovery.watches.idleReleaseMs']] as const) {
      assert.throws(() => resolveClientOptions({ tls, discovery: { watches } }), (error: unknown) => {
        assert.ok(isFarolError(error));
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.ok(error.message.startsWith(name), error.message);
        return true;
      });
    }
  });
});
