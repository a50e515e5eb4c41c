/**
 * The events of one real call, from the client through Consul to a Farol service and back: every
 * channel subscribed, with a try-start subscriber that adds a header (as a tracer adds
 * traceparent) and a request-start subscriber that reads it on the service.
 */
import assert from 'node:assert/strict';
import { subscribe as subscribeByName, unsubscribe as unsubscribeByName } from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { basicCredentials } from '../../src/auth/index.js';
import { createClient } from '../../src/client/index.js';
import { channels, type ChannelKey, type EventOf } from '../../src/events/channels.js';
import { createService, type FarolService } from '../../src/service/index.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { issueTestPki, tempDir, writeUsers, type TestPki } from '../service/fixtures.js';
import { eventually } from '../support/consul-health.js';

const PASSWORD = 'a long enough password';

describe('the channels module', () => {
  it('names every channel farol:<area>:<what>, each once', () => {
    const names = Object.values(channels).map((channel) => String(channel.name));
    assert.equal(new Set(names).size, names.length);
    for (const name of names) assert.match(name, /^farol:[a-z0-9]+(:[a-z0-9-]+)+$/, name);
  });

  it('can be subscribed to by name, as an application would, without importing Farol', () => {
    const seen: unknown[] = [];
    const onMessage = (message: unknown): void => {
      seen.push(message);
    };
    subscribeByName('farol:client:panic', onMessage);
    try {
      assert.equal(channels.clientPanic.hasSubscribers, true);
      const owner = { kind: 'client' as const, id: 'x' };
      channels.clientPanic.publish({ owner, service: 'api', panic: true, ejected: ['a'], passing: 2 });
      assert.equal(seen.length, 1);
    } finally {
      unsubscribeByName('farol:client:panic', onMessage);
    }
    assert.equal(channels.clientPanic.hasSubscribers, false);
  });
});

describeWithConsul('events of a call end to end (real Consul)', (getAgent) => {
  let pki: TestPki;
  let service: FarolService;
  const events: { key: ChannelKey; event: unknown }[] = [];
  const offs: (() => void)[] = [];
  const byKey = <K extends ChannelKey>(key: K) => events.filter((e) => e.key === key).map((e) => e.event as EventOf<K>);
  const traceparentsSeen: (string | undefined)[] = [];
  const authorizationSeen: (string | undefined)[] = [];

  before(async () => {
    const dir = await tempDir();
    pki = await issueTestPki(dir);
    const usersFile = await writeUsers(dir, { alice: PASSWORD });
    for (const key of Object.keys(channels) as ChannelKey[]) {
      const onMessage = (event: unknown): void => {
        events.push({ key, event });
      };
      channels[key].subscribe(onMessage as never);
      offs.push(() => channels[key].unsubscribe(onMessage as never));
    }
    const addTraceparent = (event: EventOf<'clientTryStart'>): void => {
      event.addHeader('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      event.addHeader('Authorization', 'Basic forged-by-a-subscriber');
    };
    const readHeaders = (event: EventOf<'serviceRequestStart'>): void => {
      traceparentsSeen.push(event.header('traceparent'));
      authorizationSeen.push(event.header('authorization'));
    };
    channels.clientTryStart.subscribe(addTraceparent);
    channels.serviceRequestStart.subscribe(readHeaders);
    offs.push(() => channels.clientTryStart.unsubscribe(addTraceparent), () => channels.serviceRequestStart.unsubscribe(readHeaders));

    service = await createService({
      name: 'orders-events',
      port: 0,
      bind: '127.0.0.1',
      tls: { certFile: pki.certFile, keyFile: pki.keyFile },
      usersFile,
      consul: { address: getAgent().address },
      check: { kind: 'ttl', ttl: '10s' },
      drain: { delayMs: 0 },
      keepRegistered: { intervalMs: 0 },
      routes: (app) => {
        app.get('/orders/:id', async (request) => ({ id: (request.params as { id: string }).id }));
      },
    });
    await service.start();
  });

  after(async () => {
    await service.stop();
    for (const off of offs) off();
  });

  it('publishes start and end of the call, the try and the request, correlated by identity, with no secret in any payload', async () => {
    const client = createClient({
      consul: { address: getAgent().address },
      tls: { ca: { file: pki.caFile } },
      credentials: basicCredentials('alice', PASSWORD),
      retries: 0,
    });
    try {
      await eventually('the instance passing in Consul', async () => ((await client.instances('orders-events')).length === 1 ? true : undefined), 10_000);
      const result = await client.call('orders-events', { path: '/orders/42?card=4111111111111111' });
      assert.equal(result.status, 200);
    } finally {
      await client.close();
    }

    const [callStart] = byKey('clientCallStart');
    const [callEnd] = byKey('clientCallEnd').filter((e) => e.service === 'orders-events');
    assert.ok(callStart && callEnd);
    assert.equal(callEnd.call, callStart.call, 'one call, one identity');
    assert.equal(callEnd.status, 200);
    assert.equal(callEnd.attempts, 1);
    assert.equal(callEnd.error, undefined);
    assert.equal(callEnd.instance?.id, service.instanceId);

    const [tryStart] = byKey('clientTryStart');
    const [tryEnd] = byKey('clientTryEnd');
    assert.ok(tryStart && tryEnd);
    assert.equal(tryEnd.try, tryStart.try);
    assert.equal(tryEnd.call, callStart.call);
    assert.deepEqual({ attempt: tryEnd.attempt, status: tryEnd.status, instance: tryEnd.instance.id }, { attempt: 1, status: 200, instance: service.instanceId });

    assert.deepEqual(traceparentsSeen.filter(Boolean), ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'], 'a header added at try start reaches the instance');
    assert.deepEqual(authorizationSeen, traceparentsSeen.map(() => undefined), 'credential headers are never offered to subscribers');

    const requestEnd = byKey('serviceRequestEnd').find((e) => e.path === '/orders/42');
    assert.ok(requestEnd, JSON.stringify(byKey('serviceRequestEnd')));
    assert.equal(requestEnd.route, '/orders/:id', 'the route template, never the raw path');
    assert.equal(requestEnd.status, 200);
    assert.deepEqual(requestEnd.principal, { id: 'alice', kind: 'user' });
    assert.equal(requestEnd.owner, service.owner);
    const requestStart = byKey('serviceRequestStart').find((e) => e.request === requestEnd.request);
    assert.ok(requestStart, 'request start and end share the request identity');
    const auth = byKey('authOutcome').find((e) => e.request === requestEnd.request);
    assert.deepEqual(auth && { outcome: auth.outcome, scheme: 'scheme' in auth ? auth.scheme : undefined }, { outcome: 'authenticated', scheme: 'basic' });

    assert.ok(byKey('registrationState').some((e) => e.state === 'registered' && e.instance === service.instanceId));
    assert.ok(byKey('serviceState').some((e) => e.state === 'started' && e.instance === service.instanceId));
    assert.ok(byKey('discoveryUpdate').some((e) => e.service === 'orders-events' && e.instances.length === 1));

    const everything = JSON.stringify(events.map((e) => e.event));
    const credentials = Buffer.from(`alice:${PASSWORD}`).toString('base64');
    for (const secret of [PASSWORD, credentials, 'forged-by-a-subscriber', '4111111111111111']) {
      assert.ok(!everything.includes(secret), `${secret} in an event payload`);
    }
  });
});
