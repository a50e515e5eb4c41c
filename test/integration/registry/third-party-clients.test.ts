/**
 * Real third-party Consul clients work against the embedded registry exactly as against Consul:
 * the `consul` CLI (catalog services, watch -type=service) and the `consul` npm package
 * (register, list, health, catalog, watch). Each scenario runs against both.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Consul from 'consul';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { findConsulBinary } from '../../support/consul-agent.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/index.js';

const run = promisify(execFile);

interface Target {
  httpAddr: string;
  port: number;
}

function consulCli(): string {
  const found = findConsulBinary();
  if ('missing' in found) throw new Error(found.missing);
  return found.path;
}

function scenarios(name: string, getTarget: () => Target, setUp?: () => void): void {
  describe(name, () => {
    setUp?.();
    const service = 'third-party';

    it('the consul npm package registers, lists and reads health and the catalog', async () => {
      const consul = new Consul({ host: '127.0.0.1', port: getTarget().port });
      await consul.agent.service.register({ name: service, id: `${service}-1`, port: 7001, tags: ['a'], check: { ttl: '30s', status: 'passing' } } as never);
      const services = (await consul.agent.service.list()) as Record<string, { Service: string; Port: number }>;
      assert.equal(services[`${service}-1`]?.Service, service);
      assert.equal(services[`${service}-1`]?.Port, 7001);
      const healthy = (await consul.health.service({ service, passing: true } as never)) as { Service: { ID: string } }[];
      assert.deepEqual(healthy.map((entry) => entry.Service.ID), [`${service}-1`]);
      const catalog = (await consul.catalog.service.list()) as Record<string, string[]>;
      assert.deepEqual(catalog[service], ['a']);
    });

    it('the consul npm package watch sees a new instance', async () => {
      const consul = new Consul({ host: '127.0.0.1', port: getTarget().port });
      const watch = consul.watch({ method: consul.health.service, options: { service, passing: 'true' } as never });
      try {
        const counts: number[] = [];
        const sawTwo = new Promise<void>((resolve, reject) => {
          watch.on('change', (data: unknown[]) => {
            counts.push(data.length);
            if (data.length === 2) resolve();
          });
          watch.on('error', reject);
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        await consul.agent.service.register({ name: service, id: `${service}-2`, port: 7002, check: { ttl: '30s', status: 'passing' } } as never);
        await Promise.race([sawTwo, new Promise((_, reject) => setTimeout(() => reject(new Error(`watch saw ${counts.join(',')}`)), 10_000))]);
        assert.equal(counts[0], 1);
      } finally {
        watch.end();
      }
    });

    it('the consul CLI lists the catalog and answers a one-shot service watch', async () => {
      const addr = `-http-addr=${getTarget().httpAddr}`;
      const services = await run(consulCli(), ['catalog', 'services', addr]);
      assert.match(services.stdout, new RegExp(`^${service}$`, 'm'));
      const watch = await run(consulCli(), ['watch', '-type=service', `-service=${service}`, '-passingonly=true', addr], { timeout: 15_000 });
      const entries = JSON.parse(watch.stdout) as { Service: { ID: string } }[];
      assert.deepEqual(entries.map((entry) => entry.Service.ID).sort(), [`${service}-1`, `${service}-2`]);
    });
  });
}

describeWithConsul('third-party Consul clients', (getAgent) => {
  scenarios('against real Consul', () => {
    const agent = getAgent();
    return { httpAddr: agent.httpAddr, port: Number(agent.address.split(':')[1]) };
  });

  let registry: RunningRegistry | undefined;
  scenarios(
    'against the embedded registry',
    () => {
      if (!registry) throw new Error('the embedded registry did not start');
      return { httpAddr: registry.httpAddr, port: registry.port };
    },
    () => {
      before(async () => {
        registry = await startRegistry({ port: 0 });
      });
      after(async () => {
        await registry?.close();
      });
    },
  );
});
