// The client's dispatcher against a real Consul: fetch (Node's global one and undici's), undici's
// request and setGlobalDispatcher, balancing over three instances in child processes, a retry
// after one is SIGKILLed mid-run, a 100 MiB streamed response in bounded memory, a streamed
// request body, abort and timeout, and the hosts that are not services.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fetch as undiciFetch, getGlobalDispatcher, request as undiciRequest, setGlobalDispatcher } from 'undici';
import { createClient, type FarolClient } from '../../../src/client/index.js';
import { ConsulClient } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { createTestPki, registerInstance, uniqueServiceName, waitForHealth, type RegisteredInstance, type TestPki } from '../../client/fixtures.js';

const INSTANCE = fileURLToPath(new URL('./fixtures/instance.mjs', import.meta.url));

interface ChildInstance {
  name: string;
  port: number;
  child: ChildProcess;
}

async function startChild(pki: TestPki, name: string): Promise<ChildInstance> {
  const child = spawn(process.execPath, [INSTANCE], {
    env: { ...process.env, FAROL_TEST_NAME: name, FAROL_TEST_CERT: pki.server.certPem, FAROL_TEST_KEY: pki.server.keyPem },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 10 s`)), 10_000);
    let out = '';
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      const match = /port (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${String(code)}`)));
  });
  return { name, port, child };
}

/** A way to run the garbage collector without --expose-gc on the test runner's command line. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Node's global fetch takes an undici Dispatcher at run time, but its RequestInit type names the
 * Dispatcher of undici-types (bundled with @types/node), which TypeScript sees as another class.
 */
function init(options: object): RequestInit {
  return options as RequestInit;
}

/** The FarolError behind a fetch failure (fetch wraps it in a TypeError('fetch failed')). */
function farolCause(error: unknown): unknown {
  return error instanceof TypeError && error.cause !== undefined ? error.cause : error;
}

describeWithConsul('client dispatcher against a real Consul agent', (getAgent) => {
  let pki: TestPki;
  let consul: ConsulClient;
  let client: FarolClient;
  const service = uniqueServiceName('orders');
  const children: ChildInstance[] = [];
  const registered: RegisteredInstance[] = [];
  const others: FarolClient[] = [];

  before(async () => {
    pki = await createTestPki();
    consul = new ConsulClient({ address: getAgent().address });
    for (const name of ['a', 'b', 'c']) {
      const instance = await startChild(pki, name);
      children.push(instance);
      registered.push(await registerInstance(consul, { service, id: `${service}-${name}`, port: instance.port, status: 'passing' }));
    }
    await waitForHealth(consul, service, { registered: 3, passing: 3 });
    client = createClient({ consul, tls: { ca: { pem: pki.ca.certPem } }, balancer: 'round-robin', retry: { retries: 2, timeoutMs: 5000 } });
  });

  after(async () => {
    await client.close();
    await Promise.all(others.map((other) => other.close()));
    await Promise.all(registered.map((instance) => instance.deregister().catch(() => undefined)));
    for (const { child } of children) child.kill('SIGKILL');
    await consul.close();
  });

  function another(opts: Partial<Parameters<typeof createClient>[0]>): FarolClient {
    const made = createClient({ consul, tls: { ca: { pem: pki.ca.certPem } }, ...opts });
    others.push(made);
    return made;
  }

  const url = (path: string): string => `https://${service}.service.consul${path}`;

  it("Node's global fetch with the dispatcher balances over the three instances", async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i += 1) {
      const response = await fetch(url('/who'), init({ dispatcher: client.dispatcher }));
      assert.equal(response.status, 200);
      const { instance } = (await response.json()) as { instance: string };
      seen.set(instance, (seen.get(instance) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['a', 'b', 'c']);
    for (const count of seen.values()) assert.equal(count, 10, 'round-robin gives each instance a third');
  });

  it("undici's fetch and request go through the dispatcher too", async () => {
    const fetched = await undiciFetch(url('/who'), { dispatcher: client.dispatcher });
    assert.equal(fetched.status, 200);
    assert.match(((await fetched.json()) as { instance: string }).instance, /^[abc]$/);
    const requested = await undiciRequest(url('/who?x=1'), { dispatcher: client.dispatcher });
    assert.equal(requested.statusCode, 200);
    assert.match(((await requested.body.json()) as { instance: string }).instance, /^[abc]$/);
  });

  it('setGlobalDispatcher makes plain fetch Consul-aware, and other hosts still work through a plain Agent', async () => {
    const plain: Server = createHttpServer((_req, res) => res.end('plain'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const previous = getGlobalDispatcher();
    setGlobalDispatcher(client.dispatcher);
    try {
      const response = await fetch(url('/who'));
      assert.equal(response.status, 200);
      assert.match(((await response.json()) as { instance: string }).instance, /^[abc]$/);
      const other = await fetch(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/`);
      assert.equal(await other.text(), 'plain');
    } finally {
      setGlobalDispatcher(previous);
      plain.closeAllConnections();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it("refuses other hosts with NOT_A_SERVICE when otherHosts is 'refuse', and plain http to a service", async () => {
    const strict = another({ otherHosts: 'refuse' });
    const refused = await fetch('https://example.invalid/', init({ dispatcher: strict.dispatcher })).then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => farolCause(error),
    );
    assert.ok(isFarolError(refused, 'NOT_A_SERVICE'), String(refused));
    assert.ok(refused.hint);
    const plainHttp = await fetch(`http://${service}.service.consul/who`, init({ dispatcher: client.dispatcher })).then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => farolCause(error),
    );
    assert.ok(isFarolError(plainHttp, 'NOT_A_SERVICE'), String(plainHttp));
  });

  it('streams a 100 MiB response in bounded memory, the instance held back while the reader pauses', async (t) => {
    const total = 100 * 1024 * 1024;
    // RSS keeps freed chunks until the collector runs, so the growth measured is that of live
    // memory (heap and buffers) right after a collection, every 8 MiB and after a 1 s pause.
    const gc = collector();
    const live = (): number => {
      gc();
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    await (await fetch(url('/big?mb=4'), init({ dispatcher: client.dispatcher }))).arrayBuffer(); // warm up
    const before = live();
    const rssBefore = process.memoryUsage().rss;
    let peak = before;
    let peakRss = rssBefore;
    const response = await fetch(url('/big?mb=100'), init({ dispatcher: client.dispatcher }));
    assert.equal(response.status, 200);
    let received = 0;
    let nextSample = 8 * 1024 * 1024;
    let paused = false;
    const started = Date.now();
    for await (const chunk of response.body!) {
      received += (chunk as Uint8Array).byteLength;
      if (!paused && received >= 20 * 1024 * 1024) {
        paused = true;
        await sleep(1000); // the instance keeps writing only if back-pressure does not reach it
      }
      if (received >= nextSample) {
        nextSample += 8 * 1024 * 1024;
        peak = Math.max(peak, live());
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
      assert.ok(Date.now() - started < 60_000, 'the stream ends within 60 s');
    }
    assert.equal(received, total);
    const growthMb = (peak - before) / 1024 / 1024;
    t.diagnostic(`live memory growth ${growthMb.toFixed(1)} MiB, RSS growth ${((peakRss - rssBefore) / 1024 / 1024).toFixed(1)} MiB, for 100 MiB streamed`);
    assert.ok(growthMb < 40, `live memory grew by ${growthMb.toFixed(1)} MiB while streaming 100 MiB (RSS: ${((peakRss - rssBefore) / 1024 / 1024).toFixed(1)} MiB)`);
  });

  it('streams a request body (fetch with a ReadableStream, undici.request with a Readable)', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x62);
    const chunks = 80; // 5 MiB
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === chunks) controller.close();
        else {
          pulled += 1;
          controller.enqueue(chunk);
        }
      },
    });
    const response = await fetch(url('/count'), init({ method: 'POST', body: stream, duplex: 'half', dispatcher: client.dispatcher }));
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { bytes: number }).bytes, chunks * chunk.byteLength);

    const readable = Readable.from((function* () {
      for (let i = 0; i < chunks; i += 1) yield Buffer.from(chunk);
    })());
    const requested = await undiciRequest(url('/count'), { method: 'POST', body: readable, dispatcher: client.dispatcher });
    assert.equal(((await requested.body.json()) as { bytes: number }).bytes, chunks * chunk.byteLength);
  });

  it('an AbortSignal stops a request waiting for its response, and one mid-body', async () => {
    const waiting = new AbortController();
    const started = Date.now();
    setTimeout(() => waiting.abort(), 200);
    await assert.rejects(fetch(url('/slow'), init({ signal: waiting.signal, dispatcher: client.dispatcher })), (error: unknown) => {
      assert.equal((error as Error).name, 'AbortError');
      return true;
    });
    assert.ok(Date.now() - started < 3000, 'the abort ends the call at once');

    const midBody = new AbortController();
    const response = await fetch(url('/big?mb=50'), init({ signal: midBody.signal, dispatcher: client.dispatcher }));
    const reader = response.body!.getReader();
    await reader.read();
    midBody.abort();
    await assert.rejects(
      (async () => {
        for (;;) if ((await reader.read()).done) return;
      })(),
      (error: unknown) => (error as Error).name === 'AbortError',
    );
  });

  it('times out with TIMEOUT after retry.timeoutMs per try, and honours AbortSignal.timeout', async () => {
    const quick = another({ retry: { retries: 0, timeoutMs: 300 } });
    const started = Date.now();
    const failure = await fetch(url('/slow'), init({ dispatcher: quick.dispatcher })).then(
      () => assert.fail('expected a timeout'),
      (error: unknown) => farolCause(error),
    );
    assert.ok(isFarolError(failure, 'TIMEOUT'), String(failure));
    assert.ok(Date.now() - started < 3000);
    await assert.rejects(fetch(url('/slow'), init({ signal: AbortSignal.timeout(200), dispatcher: client.dispatcher })), (error: unknown) => {
      assert.equal((error as Error).name, 'TimeoutError');
      return true;
    });
    const viaCall = await quick.call(service, { path: '/slow', timeoutMs: 5000 }).then(
      () => assert.fail('expected a timeout'),
      (error: unknown) => error,
    );
    assert.ok(isFarolError(viaCall, 'TIMEOUT'));
  });

  it('call(), callJson() and callBuffer() go over the same stages', async () => {
    const text = await client.call(service, { path: '/who' });
    assert.equal(text.status, 200);
    assert.equal(typeof text.body, 'string');
    const json = await client.callJson<{ instance: string }>(service, { path: '/who' });
    assert.match(json.body.instance, /^[abc]$/);
    const bytes = await client.callBuffer(service, { path: '/big?mb=1' });
    assert.ok(Buffer.isBuffer(bytes.body));
    assert.equal(bytes.body.length, 1024 * 1024);
    const notJson = await client.callJson(service, { path: '/big?mb=1' }).then(
      () => assert.fail('expected REQUEST_FAILED'),
      (error: unknown) => error,
    );
    assert.ok(isFarolError(notJson, 'REQUEST_FAILED') && /not JSON/.test(notJson.message));
  });

  // Last: it kills an instance.
  it('loses no call when one of three instances is SIGKILLed mid-run (retries on another)', async () => {
    const requests = 300;
    const deadline = Date.now() + 30_000;
    let done = 0;
    let failed = 0;
    const failures: string[] = [];
    const victim = children[1]!;
    let retries = 0;
    const onRetry = (event: unknown): void => {
      if ((event as { owner: unknown }).owner === client.owner) retries += 1;
    };
    subscribe('farol:client:retry', onRetry);
    const worker = async (): Promise<void> => {
      while (done < requests && Date.now() < deadline) {
        done += 1;
        if (done === 60) victim.child.kill('SIGKILL');
        try {
          const response = await fetch(url('/who'), init({ dispatcher: client.dispatcher }));
          await response.arrayBuffer();
          if (response.status !== 200) throw new Error(`status ${response.status}`);
        } catch (error) {
          failed += 1;
          failures.push(String(farolCause(error)));
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]).finally(() => unsubscribe('farol:client:retry', onRetry));
    assert.equal(done, requests, 'every call was made within 30 s');
    assert.equal(victim.child.signalCode, 'SIGKILL');
    assert.equal(failed, 0, failures.slice(0, 3).join('; '));
    assert.ok(retries > 0, 'the calls that met the killed instance were retried on another');
  });
});
