import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { channels, subscribe } from '../../src/events/channels.js';
import { isFarolError } from '../../src/errors.js';
import { startRegistry, type RunningRegistry } from '../../src/registry/index.js';
import { createRegistration } from '../../src/service/index.js';
import { until } from './fixtures.js';

async function passingIds(httpAddr: string, name: string): Promise<string[]> {
  const response = await request(`${httpAddr}/v1/health/service/${name}?passing`);
  return ((await response.body.json()) as { Service: { ID: string } }[]).map((e) => e.Service.ID);
}

describe('createRegistration: the lifecycle for a server of any kind', () => {
  let registry: RunningRegistry;

  before(async () => {
    registry = await startRegistry({ port: 0, bind: '127.0.0.1' });
  });

  after(async () => {
    await registry.close();
  });

  it('refuses bad options at creation, as CONFIG_INVALID naming the option', () => {
    const invalid = (options: Record<string, unknown>, field: RegExp): void => {
      assert.throws(() => createRegistration(options as never), (error: unknown) => isFarolError(error, 'CONFIG_INVALID') && field.test(error.message));
    };
    invalid({ service: { name: 'no spaces' } }, /option service\.name/);
    invalid({ service: { name: 'api' }, check: { interval: 'soon' } }, /option check\.interval/);
    invalid({ service: { name: 'api' }, drain: { timeoutMs: 10_000_000 } }, /option drain\.timeoutMs/);
    invalid({ service: { name: 'api' }, surprise: true }, /option surprise: unknown option/);
  });

  it('registers the port it is given, answers /health, and drains in order with the close it is given', async () => {
    const life = createRegistration({ service: { name: 'plain', tags: ['t'] }, consul: { address: registry.address }, check: { kind: 'ttl', ttl: '2s' }, drain: { delayMs: 100 } });
    const states: string[] = [];
    const offs = [
      subscribe(channels.serviceState, (e) => e.owner === life.owner && states.push(e.state)),
      subscribe(channels.registrationState, (e) => e.owner === life.owner && states.push(e.state)),
    ];
    try {
      await life.register({ port: 4443, address: '0.0.0.0' });
      assert.equal(life.url, 'https://127.0.0.1:4443', 'a wildcard bind registers loopback');
      assert.deepEqual(life.healthCheck, { kind: 'ttl' });
      assert.deepEqual(await passingIds(registry.httpAddr, 'plain'), [life.instanceId]);
      assert.equal(life.health().statusCode, 200);

      let closedWhileDraining: boolean | undefined;
      await life.drain(async () => {
        closedWhileDraining = life.draining && life.health().statusCode === 503;
        assert.deepEqual(await passingIds(registry.httpAddr, 'plain'), [], 'out of ?passing before the server closes');
        return { forced: false };
      });
      assert.equal(closedWhileDraining, true);
      assert.equal(life.registered, false);
      assert.deepEqual(states, ['registered', 'started', 'draining', 'maintenance', 'waiting', 'closed', 'deregistered', 'stopped']);
      await assert.rejects(life.register({ port: 4443 }), (error: unknown) => isFarolError(error, 'LISTEN_FAILED'));
    } finally {
      for (const off of offs) off();
    }
  });

  it('keepTrying: serves unregistered with one warning while Consul is down, and registers once it answers', async () => {
    const own = await startRegistry({ port: 0, bind: '127.0.0.1' });
    const port = own.port;
    await own.close();
    let back: RunningRegistry | undefined;
    const warnings: string[] = [];
    const life = createRegistration({
      service: { name: 'late' },
      consul: { address: `127.0.0.1:${port}`, timeoutMs: 300 },
      check: { kind: 'ttl', ttl: '2s' },
      keepRegistered: { intervalMs: 100 },
      drain: { delayMs: 0 },
    });
    const off = subscribe(channels.serviceWarning, (e) => e.owner === life.owner && warnings.push(e.warning));
    try {
      await life.register({ port: 4443, address: '127.0.0.1' }, { keepTrying: true });
      assert.equal(life.registered, false);
      assert.deepEqual(warnings, ['register_failed']);
      back = await startRegistry({ port, bind: '127.0.0.1' });
      assert.ok(await until(async () => (await passingIds(back!.httpAddr, 'late')).includes(life.instanceId), 3000), 'registered by anti-entropy');
      await life.drain(async () => undefined);
      assert.deepEqual(await passingIds(back.httpAddr, 'late'), []);
    } finally {
      off();
      await back?.close();
    }
  });

  it('without keepTrying, a Consul that cannot be reached is an error and nothing stays registered', async () => {
    const own = await startRegistry({ port: 0, bind: '127.0.0.1' });
    const port = own.port;
    await own.close();
    const life = createRegistration({ service: { name: 'strict' }, consul: { address: `127.0.0.1:${port}`, timeoutMs: 300 }, check: { kind: 'ttl' } });
    await assert.rejects(life.register({ port: 4443 }), (error: unknown) => isFarolError(error, 'CONSUL_UNREACHABLE'));
    assert.equal(life.registered, false);
    await life.finish();
  });
});
