import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverNameFor } from '../../src/client/pools.js';

describe('TLS server name of an instance', () => {
  it("replaces '{service}' in a template with the service name", () => {
    assert.equal(serverNameFor({ service: 'api', address: '127.0.0.1' }, '{service}.service.consul'), 'api.service.consul');
  });

  it('uses a host name address as is', () => {
    assert.equal(serverNameFor({ service: 'api', address: 'api-1.internal' }), 'api-1.internal');
  });

  it('leaves it unset for an IP address, so the IP SAN is what gets checked', () => {
    assert.equal(serverNameFor({ service: 'api', address: '127.0.0.1' }), undefined);
    assert.equal(serverNameFor({ service: 'api', address: '::1' }), undefined);
  });
});
