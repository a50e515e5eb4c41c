import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createEventOwner } from '../../src/events/channels.js';
import { subscribeLogger } from '../../src/events/log-subscriber.js';
import { createCertificateAuthority, createServerTlsProvider, issueCertificate, serverSubjectAltNames } from '../../src/pki/index.js';
import { watchCertificateExpiry } from '../../src/service/certificate-expiry.js';
import type { BaseTimers } from '../../src/timers/long-timeout.js';
import { memoryLogger } from '../support/memory-logger.js';
import { tempDir } from './fixtures.js';

const DAY = 86_400_000;

/** One manual clock for the wall time certificates are judged by and the timers that wait for it. */
class ManualClock implements BaseTimers {
  constructor(private readonly start: Date) {}
  time = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.time;
  wall = (): Date => new Date(this.start.getTime() + this.time);
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + ms, fn });
    return { id, unref() {}, ref() {} };
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete((handle as { id: number }).id);
  }
  get pendingCount(): number {
    return this.pending.size;
  }
  /** Moves time on by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.pending.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].fn();
    }
    this.time = end;
  }
}

/** A server certificate valid from `notBefore` for `days`, written as cert.pem/key.pem in `dir`. */
async function writeLeaf(dir: string, ca: Awaited<ReturnType<typeof createCertificateAuthority>>, notBefore: Date, days: number) {
  const leaf = await issueCertificate(ca, {
    commonName: 'localhost',
    usage: 'server',
    ...serverSubjectAltNames(['api']),
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY),
  });
  await writeFile(join(dir, 'cert.pem'), leaf.certPem);
  await writeFile(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
  return { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
}

async function setUp(daysLeftAtStart: number) {
  const dir = await tempDir();
  const ca = await createCertificateAuthority({ commonName: 'Farol expiry test CA' });
  const start = new Date();
  const files = await writeLeaf(dir, ca, new Date(start.getTime() - DAY), daysLeftAtStart + 1);
  const clock = new ManualClock(start);
  const tls = await createServerTlsProvider({ keyPair: files }, { watch: false });
  const { logger, lines } = memoryLogger();
  const expiryLines = () => lines().filter((line) => line.event === 'certificate_expiry');
  // The service's logger is a subscriber of its events: the expiry lines are those of this owner.
  const owner = createEventOwner('service', 'api-1');
  subscribeLogger(logger, { owner });
  const watch = watchCertificateExpiry(tls, { owner, instance: 'api-1' }, { now: clock.wall, timers: clock });
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  return { dir, ca, clock, tls, watch, expiryLines, flush };
}

describe('certificate expiry warnings of a running service', () => {
  it('stays quiet while the certificate has more than 30 days left', async () => {
    const { watch, expiryLines, clock, tls } = await setUp(90);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(expiryLines(), []);
    assert.equal(clock.pendingCount, 1, 'one timer waits for the 30-day mark');
    watch.close();
    tls.close();
  });

  it('warns at 30 days, again at 7 days, and logs an error once expired, each exactly once', async () => {
    const { watch, expiryLines, clock, flush, tls } = await setUp(40);
    clock.advance(10 * DAY + DAY / 2); // 29.5 days left; the warning came at the 30-day mark itself
    await flush();
    assert.deepEqual(expiryLines().map((line) => line.threshold), ['30d']);
    assert.equal(expiryLines()[0]!.level, 40, 'a warning');
    assert.match(expiryLines()[0]!.msg, /expires in 30 days.*farol certs renew/);

    clock.advance(20 * DAY); // 9.5 days left: nothing new
    assert.equal(expiryLines().length, 1);
    clock.advance(3 * DAY); // 6.5 days left
    assert.deepEqual(expiryLines().map((line) => line.threshold), ['30d', '7d']);
    clock.advance(7 * DAY); // expired
    assert.deepEqual(expiryLines().map((line) => line.threshold), ['30d', '7d', 'expired']);
    assert.equal(expiryLines()[2]!.level, 50, 'an error');
    clock.advance(365 * DAY);
    assert.equal(expiryLines().length, 3, 'nothing more once expired');
    assert.equal(clock.pendingCount, 0, 'no timer left');
    watch.close();
    tls.close();
  });

  it('a service started 20 days before expiry warns in its first lines', async () => {
    const { watch, expiryLines, tls } = await setUp(20);
    assert.deepEqual(expiryLines().map((line) => [line.threshold, line.daysLeft]), [['30d', 19]]);
    watch.close();
    tls.close();
  });

  it('a rotated certificate starts over: its own thresholds are reported, the old ones are not repeated', async () => {
    const { dir, ca, watch, expiryLines, clock, tls } = await setUp(5);
    assert.deepEqual(expiryLines().map((line) => line.threshold), ['7d']);
    const oldSerial = expiryLines()[0]!.serial;

    await writeLeaf(dir, ca, new Date(Date.now() - DAY), 366);
    const outcome = await tls.reload();
    assert.equal(outcome.status, 'changed');
    assert.equal(expiryLines().length, 1, 'the new certificate has a year left: no warning');

    clock.advance(336 * DAY + DAY / 2);
    assert.deepEqual(expiryLines().map((line) => line.threshold), ['7d', '30d']);
    assert.notEqual(expiryLines()[1]!.serial, oldSerial);
    watch.close();
    tls.close();
  });

  it('close() cancels the pending check', async () => {
    const { watch, clock, expiryLines, tls } = await setUp(90);
    watch.close();
    assert.equal(clock.pendingCount, 0);
    clock.advance(100 * DAY);
    assert.deepEqual(expiryLines(), []);
    tls.close();
  });
});
