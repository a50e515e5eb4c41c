/**
 * One trace across real processes: a client app and two `farol serve` instances, each with the
 * OpenTelemetry SDK registered (--import) and its spans written to a file. One instance is
 * SIGKILLed while Consul still lists it as passing, so a call that picks it first retries on the
 * other: the caller's call span, both try spans and the answering instance's server span share
 * one trace id, and the server span's parent is the second try's span.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import type { ExportedSpan } from './fixtures/otel-sdk.js';
import { fleetFiles, startClientApp, startInstance, stopProcess, type ClientApp, type FleetFiles, type RunningInstance } from './fleet.js';

async function spansIn(file: string): Promise<ExportedSpan[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as ExportedSpan);
}

describeWithConsul('tracing across processes', (getAgent) => {
  let dir: string;
  let files: FleetFiles;
  const instances: RunningInstance[] = [];
  let app: ClientApp | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-tracing-'));
    files = await fleetFiles(dir);
  });

  after(async () => {
    if (app) await stopProcess(app.child);
    await Promise.all(instances.map((instance) => stopProcess(instance.child)));
    await rm(dir, { recursive: true, force: true });
  });

  it('follows one trace id from the call span through both tries to the server span of the instance that answered', { timeout: 120_000 }, async () => {
    const [dead, alive] = await Promise.all([
      startInstance(getAgent(), files, 1, join(dir, 'spans-dead.jsonl')),
      startInstance(getAgent(), files, 2, join(dir, 'spans-alive.jsonl')),
    ]);
    instances.push(dead, alive);
    // Round robin: the killed instance's turn comes within two calls (before it is ejected).
    app = await startClientApp(getAgent(), files, join(dir, 'spans-client.jsonl'), { BALANCER: 'round-robin' });
    // Both are known and passing before one dies (its TTL check keeps it passing for 30 s).
    const warm = await app.call(4);
    assert.ok(warm.every((r) => r.status === 200), JSON.stringify(warm));
    dead.child.kill('SIGKILL');
    await new Promise((resolve) => dead.child.once('exit', resolve));

    // Call until one call retried (bounded).
    let retried: { attempts?: number; instance?: string } | undefined;
    for (let round = 0; round < 10 && retried === undefined; round += 1) {
      const results = await app.call(3);
      retried = results.find((r) => r.attempts === 2);
    }
    assert.ok(retried, 'a call went to the killed instance first and retried');
    assert.equal(retried.instance, alive.id);

    const clientSpans = await spansIn(join(dir, 'spans-client.jsonl'));
    const serverSpans = await spansIn(join(dir, 'spans-alive.jsonl'));
    const callSpan = clientSpans.find((s) => s.kind === SpanKind.INTERNAL && s.attributes['farol.attempts'] === 2);
    assert.ok(callSpan, 'the retried call has a span');
    const tries = clientSpans.filter((s) => s.kind === SpanKind.CLIENT && s.parentSpanId === callSpan.spanId).sort((a, b) => Number(a.attributes['farol.attempt']) - Number(b.attributes['farol.attempt']));
    assert.equal(tries.length, 2, 'one span per try');
    const [first, second] = tries as [ExportedSpan, ExportedSpan];
    for (const span of tries) assert.equal(span.traceId, callSpan.traceId);
    assert.equal(first.attributes['farol.instance.id'], dead.id);
    assert.equal(first.attributes['farol.attempt'], 1);
    assert.match(String(first.attributes['error.type']), /^[A-Z_]+$/, 'the try that hit the dead instance failed with an error code');
    assert.equal(first.attributes['http.response.status_code'], undefined);
    assert.equal(second.attributes['farol.instance.id'], alive.id);
    assert.equal(second.attributes['farol.attempt'], 2);
    assert.equal(second.attributes['http.response.status_code'], 200);
    assert.equal(second.attributes['http.request.method'], 'GET');
    assert.equal(second.attributes['server.address'], '127.0.0.1');
    assert.equal(second.attributes['farol.service'], 'observed');

    const serverSpan = serverSpans.find((s) => s.traceId === callSpan.traceId);
    assert.ok(serverSpan, 'the instance that answered continued the trace');
    assert.equal(serverSpan.kind, SpanKind.SERVER);
    assert.equal(serverSpan.parentSpanId, second.spanId, 'the server span is a child of the second try');
    assert.equal(serverSpan.attributes['http.route'], '/');
    assert.equal(serverSpan.attributes['http.response.status_code'], 200);
    assert.notEqual(serverSpan.pid, callSpan.pid, 'caller and instance are different processes');
  });
});
