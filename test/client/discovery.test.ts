import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { splitConnections } from '../../src/client/discovery.js';

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
