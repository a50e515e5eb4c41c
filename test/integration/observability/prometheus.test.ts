/**
 * Debian's real Prometheus scrapes a real fleet on loopback: three `farol serve --metrics-port`
 * instances registered in a real Consul, and a client app serving its registry. Everything is
 * asserted through Prometheus's own HTTP query API: requests per instance after a run of calls,
 * the client's ejection counter after an instance is SIGKILLed, and the certificate expiry gauge.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import { findPrometheusBinary, startPrometheus, type PrometheusServer } from '../../support/prometheus.js';
import { fleetFiles, startClientApp, startInstance, stopProcess, type ClientApp, type FleetFiles, type RunningInstance } from './fleet.js';

const prometheus = findPrometheusBinary();
const skip = 'missing' in prometheus && process.env.CI !== 'true' ? `no Prometheus: ${prometheus.missing}` : false;
if (skip) console.warn(`\n!! SKIPPED the Prometheus test: ${skip}\n`);

describeWithConsul('Prometheus scrapes a Farol fleet', (getAgent) => {
  let dir: string;
  let files: FleetFiles;
  const instances: RunningInstance[] = [];
  let app: ClientApp | undefined;
  let prom: PrometheusServer | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-prometheus-test-'));
    files = await fleetFiles(dir);
  });

  after(async () => {
    await prom?.stop();
    if (app) await stopProcess(app.child);
    await Promise.all(instances.map((instance) => stopProcess(instance.child)));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('shows requests per instance, an ejection after a SIGKILL, and the certificate expiry', { skip, timeout: 180_000 }, async () => {
    instances.push(...(await Promise.all([1, 2, 3].map((index) => startInstance(getAgent(), files, index)))));
    app = await startClientApp(getAgent(), files, undefined, { BALANCER: 'round-robin' });
    prom = await startPrometheus([
      ...instances.map((instance) => ({ address: instance.metricsTarget, labels: { role: 'instance', farol_instance: instance.id } })),
      { address: app.metricsTarget, labels: { role: 'client' } },
    ]);
    const server = prom;
    await server.waitFor('up{job="farol"} == 1', (samples) => samples.length === 4, 20_000);

    const countsQuery = 'sum by (farol_instance) (http_server_request_duration_seconds_count{role="instance",http_route="/",http_request_method="GET",http_response_status_code="200"})';
    const total = (samples: Array<{ value: number }>): number => samples.reduce((sum, s) => sum + s.value, 0);
    // A first call on each instance, scraped before the run: a rate needs two samples of a series.
    assert.ok((await app.call(3)).every((r) => r.status === 200));
    await server.waitFor(countsQuery, (samples) => total(samples) === 3);

    // A --repeat-like run: 60 calls, spread by round robin over the three instances.
    const results = await app.call(60);
    assert.ok(results.every((r) => r.status === 200), JSON.stringify(results.filter((r) => r.status !== 200)));
    const perInstance = await server.waitFor(countsQuery, (samples) => total(samples) === 63);
    assert.deepEqual(perInstance.map((s) => s.metric.farol_instance).sort(), instances.map((i) => i.id).sort());
    for (const sample of perInstance) assert.ok(sample.value >= 16, `each instance answered its share: ${JSON.stringify(perInstance)}`);
    const rates = await server.waitFor(
      'sum by (farol_instance) (rate(http_server_request_duration_seconds_count{role="instance",http_route="/"}[1m]))',
      (samples) => samples.length === 3 && samples.every((s) => s.value > 0),
    );
    assert.equal(rates.length, 3, 'a request rate per instance');
    const clientTries = await server.waitFor('sum(farol_client_tries_total{role="client",service="observed"})', (s) => s[0]?.value === 63);
    assert.equal(clientTries[0]!.value, 63, 'the client counted every try, none retried');

    // One instance dies without a word (its TTL check keeps it "passing" in Consul for a while).
    const victim = instances[0]!;
    victim.child.kill('SIGKILL');
    await new Promise((resolve) => victim.child.once('exit', resolve));
    const ejected = await (async () => {
      for (let round = 0; round < 10; round += 1) {
        const after = await app!.call(9);
        assert.ok(after.every((r) => r.status === 200), `retries hide the dead instance: ${JSON.stringify(after)}`);
        const samples = await server.query('farol_client_outlier_ejections_total{role="client",service="observed"}');
        if ((samples[0]?.value ?? 0) >= 1) return samples;
        await new Promise((resolve) => setTimeout(resolve, 1200));
      }
      return server.waitFor('farol_client_outlier_ejections_total{role="client",service="observed"}', (s) => (s[0]?.value ?? 0) >= 1, 5000);
    })();
    assert.ok(ejected[0]!.value >= 1, 'the client counted the ejection');
    const retries = await server.query('sum(farol_client_retries_total{role="client"})');
    assert.ok((retries[0]?.value ?? 0) >= 1, 'the calls that hit the dead instance were retried');
    const down = await server.waitFor('up{role="instance"} == 0', (s) => s.length === 1);
    assert.equal(down[0]!.metric.farol_instance, victim.id, 'Prometheus sees the killed instance down');

    // The certificate's not-after, as a Unix timestamp, on every live instance.
    const notAfter = Date.parse(new X509Certificate(await readFile(files.pki.certFile)).validTo) / 1000;
    const expiry = await server.waitFor('farol_certificate_not_after_timestamp_seconds{role="instance",certificate="server"}', (s) => s.length >= 2);
    for (const sample of expiry) assert.equal(sample.value, notAfter);
    const daysLeft = await server.query('min((farol_certificate_not_after_timestamp_seconds - time()) / 86400)');
    assert.ok(daysLeft[0]!.value > 1, `an alert rule can compute the days left: ${JSON.stringify(daysLeft)}`);
  });
});
