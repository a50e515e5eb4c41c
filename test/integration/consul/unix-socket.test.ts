import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulClient } from '../../../src/consul/index.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';

let socketDir: string | undefined;

describeWithConsul(
  'a Consul agent on a unix socket (unix:// addresses)',
  () => {
    let consul: ConsulClient;
    before(() => {
      consul = new ConsulClient({ address: `unix://${join(socketDir ?? '', 'consul.sock')}` });
    });
    after(async () => {
      await consul.close();
      if (socketDir) await rm(socketDir, { recursive: true, force: true });
    });

    it('reads and writes through the socket', async () => {
      assert.match(await consul.status.leader(), /^127\.0\.0\.1:\d+$/);
      await consul.agent.registerService({ ID: 'sock-1', Name: 'sock', Port: 1 });
      assert.deepEqual(
        (await consul.health.service('sock')).entries.map((e) => e.Service.ID),
        ['sock-1'],
      );
    });
  },
  async () => {
    socketDir = await mkdtemp(join(tmpdir(), 'farol-consul-sock-'));
    // Consul takes a space-separated list: keep the TCP listener the helper waits on, add the socket.
    return { extraConfig: { addresses: { http: `127.0.0.1 unix://${join(socketDir, 'consul.sock')}` } } };
  },
);
