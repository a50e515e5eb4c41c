import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { isFarolError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import {
  createCertificateAuthority,
  createClientTlsProvider,
  createServerTlsProvider,
  issueCertificate,
  loadCaSource,
  loadKeyPairSource,
  serverSubjectAltNames,
  type PemPair,
  type ServerTlsState,
  type TlsProvider,
} from '../../src/pki/index.js';
import { makeTempDir, nodeCertificate } from './pki-test-support.js';

interface Line {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
}

function recordingLogger(): { logger: Logger; lines: Line[]; errors: () => Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: Record<string, unknown>) => {
    lines.push({ level, fields });
  };
  const logger = { info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger;
  return { logger, lines, errors: () => lines.filter((line) => line.level === 'error') };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const serial = (pem: string) => nodeCertificate(pem).serialNumber;
// Fast enough for tests, same mechanisms as the defaults.
const FAST = { pollIntervalMs: 200, settleMs: 400, debounceMs: 20 };

describe('TLS sources', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let ca: PemPair;
  let otherCa: PemPair;
  let server: PemPair;

  before(async () => {
    temp = await makeTempDir();
    [ca, otherCa] = await Promise.all([createCertificateAuthority(), createCertificateAuthority()]);
    server = await issueCertificate(ca, { commonName: 'api', usage: 'server', ...serverSubjectAltNames(['localhost']) });
    await writeFile(join(temp.dir, 'ca.pem'), ca.certPem);
    await writeFile(join(temp.dir, 'cert.pem'), server.certPem);
    await writeFile(join(temp.dir, 'key.pem'), server.keyPem);
  });

  after(() => temp.remove());

  it('loads a CA from PEM text, a list of PEM texts, or a file', async () => {
    assert.equal((await loadCaSource({ pem: ca.certPem })).certificates.length, 1);
    assert.equal((await loadCaSource({ pem: [ca.certPem, otherCa.certPem] })).certificates.length, 2);
    assert.equal((await loadCaSource({ file: join(temp.dir, 'ca.pem') })).pem, ca.certPem);
  });

  it('loads a key pair from PEM text or files, and checks it chains to a given CA', async () => {
    const fromPem = await loadKeyPairSource({ certPem: server.certPem, keyPem: server.keyPem });
    const fromFiles = await loadKeyPairSource({ certFile: join(temp.dir, 'cert.pem'), keyFile: join(temp.dir, 'key.pem') });
    assert.equal(fromPem.certificate.serialNumber, fromFiles.certificate.serialNumber);
    await loadKeyPairSource(server, { ca: await loadCaSource({ pem: ca.certPem }) });
    await assert.rejects(loadKeyPairSource(server, { ca: await loadCaSource({ pem: otherCa.certPem }) }), (error: unknown) => {
      assert.ok(isFarolError(error, 'CERT_INVALID'));
      assert.equal(error.details?.reason, 'untrusted_issuer');
      assert.ok(error.hint);
      return true;
    });
  });

  it('refuses PEM text that is not a certificate, and a key that is not the certificate\'s', async () => {
    await assert.rejects(loadCaSource({ pem: 'nope' }), (error: unknown) => isFarolError(error, 'CERT_INVALID'));
    await assert.rejects(loadKeyPairSource({ certPem: server.certPem, keyPem: ca.keyPem }), (error: unknown) => {
      assert.ok(isFarolError(error, 'CERT_INVALID'));
      assert.equal(error.details?.reason, 'key_mismatch');
      return true;
    });
  });
});

describe('server TLS provider', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let ca: PemPair;
  let otherCa: PemPair;
  const providers: TlsProvider<unknown>[] = [];
  const certFile = () => join(temp.dir, 'cert.pem');
  const keyFile = () => join(temp.dir, 'key.pem');
  const leaf = (from: PemPair = ca, days?: number) =>
    issueCertificate(from, { commonName: 'api', usage: 'server', ...serverSubjectAltNames(['localhost']), ...(days ? { validityDays: days } : {}) });

  /** As editors and `mv` do: a new file under a temporary name, renamed over the old one. */
  async function replace(file: string, content: string): Promise<void> {
    await writeFile(`${file}.tmp`, content);
    await rename(`${file}.tmp`, file);
  }

  async function provider(opts: { now?: () => Date; withCa?: boolean } = {}) {
    const log = recordingLogger();
    const made = await createServerTlsProvider(
      { keyPair: { certFile: certFile(), keyFile: keyFile() }, ...(opts.withCa ? { ca: { file: join(temp.dir, 'ca.pem') } } : {}) },
      { ...FAST, logger: log.logger, ...(opts.now ? { now: opts.now } : {}) },
    );
    providers.push(made);
    const changes: ServerTlsState[] = [];
    made.onChange((state) => changes.push(state));
    return { made, log, changes };
  }

  before(async () => {
    [ca, otherCa] = await Promise.all([createCertificateAuthority(), createCertificateAuthority()]);
  });

  const temps: (() => Promise<void>)[] = [];
  async function freshDir(): Promise<PemPair> {
    temp = await makeTempDir();
    temps.push(temp.remove);
    const first = await leaf();
    await writeFile(join(temp.dir, 'ca.pem'), ca.certPem);
    await writeFile(certFile(), first.certPem);
    await writeFile(keyFile(), first.keyPem);
    return first;
  }

  after(async () => {
    for (const made of providers) made.close();
    await Promise.all(temps.map((remove) => remove()));
  });

  it('publishes a new pair replaced by rename, and tells its subscribers', async () => {
    const first = await freshDir();
    const { made, log, changes } = await provider({ withCa: true });
    assert.equal(serial(made.current().keyPair.certPem), serial(first.certPem));
    const second = await leaf();
    await replace(keyFile(), second.keyPem);
    await replace(certFile(), second.certPem);
    await waitFor('the new certificate', () => changes.length > 0 && serial(made.current().keyPair.certPem) === serial(second.certPem));
    assert.equal(serial(changes.at(-1)!.keyPair.certPem), serial(second.certPem));
    assert.deepEqual(log.errors(), [], 'the moment the two files disagreed is not an error');
    assert.ok(log.lines.some((line) => line.fields.event === 'tls_reloaded'));
  });

  it('waits out a pair written non-atomically, one file after the other, without an error', async () => {
    await freshDir();
    const { made, log } = await provider();
    const next = await leaf();
    await writeFile(certFile(), next.certPem);
    await sleep(250); // longer than the debounce and a poll: the mismatch is seen
    await writeFile(keyFile(), next.keyPem);
    await waitFor('the new certificate', () => serial(made.current().keyPair.certPem) === serial(next.certPem));
    await sleep(FAST.settleMs + 100);
    assert.deepEqual(log.errors(), []);
  });

  it('keeps the old pair on a key that stays mismatched, and logs one error once the settle time is over', async () => {
    const first = await freshDir();
    const { made, log, changes } = await provider();
    await replace(keyFile(), (await leaf()).keyPem);
    await waitFor('the error', () => log.errors().length > 0);
    await sleep(FAST.pollIntervalMs * 3);
    assert.equal(log.errors().length, 1);
    assert.equal(log.errors()[0]!.fields.event, 'tls_reload_failed');
    assert.equal(serial(made.current().keyPair.certPem), serial(first.certPem));
    assert.equal(changes.length, 0);
    const outcome = await made.reload();
    assert.equal(outcome.status, 'invalid');
    assert.equal(log.errors().length, 1, 'the same bad file is reported once, SIGHUP or not');
  });

  it('keeps the old pair on an expired certificate', async () => {
    const first = await freshDir();
    let clock = new Date();
    const { made, log } = await provider({ now: () => clock });
    const shortLived = await leaf(ca, 1);
    clock = new Date(Date.now() + 2 * 86_400_000);
    await replace(keyFile(), shortLived.keyPem);
    await replace(certFile(), shortLived.certPem);
    await waitFor('the error', () => log.errors().length > 0);
    assert.match(String(log.errors()[0]!.fields.error), /expired/);
    assert.equal(serial(made.current().keyPair.certPem), serial(first.certPem));
  });

  it('keeps the old pair on a certificate from another CA', async () => {
    const first = await freshDir();
    const { made, log } = await provider({ withCa: true });
    const foreign = await leaf(otherCa);
    await replace(keyFile(), foreign.keyPem);
    await replace(certFile(), foreign.certPem);
    await waitFor('the error', () => log.errors().length > 0);
    await sleep(FAST.pollIntervalMs * 2);
    assert.equal(log.errors().length, 1);
    assert.match(String(log.errors()[0]!.fields.error), /not issued by a CA in the trusted bundle/);
    assert.equal(serial(made.current().keyPair.certPem), serial(first.certPem));
  });

  it('stops watching once closed', async () => {
    const first = await freshDir();
    const { made, changes } = await provider();
    made.close();
    const next = await leaf();
    await replace(keyFile(), next.keyPem);
    await replace(certFile(), next.certPem);
    await sleep(FAST.pollIntervalMs * 3);
    assert.equal(changes.length, 0);
    assert.equal(serial(made.current().keyPair.certPem), serial(first.certPem));
  });

  it('reload() reads the files now (as SIGHUP does), and says whether anything changed', async () => {
    await freshDir();
    const { made } = await provider();
    assert.deepEqual(await made.reload(), { status: 'unchanged' });
    const unwatched = await createServerTlsProvider({ keyPair: { certFile: certFile(), keyFile: keyFile() } }, { watch: false });
    providers.push(unwatched);
    const next = await leaf();
    await replace(keyFile(), next.keyPem);
    await replace(certFile(), next.certPem);
    assert.deepEqual(await unwatched.reload(), { status: 'changed' });
    assert.equal(serial(unwatched.current().keyPair.certPem), serial(next.certPem));
  });
});

describe('client TLS provider', () => {
  it('never changes material given as PEM text', async () => {
    const ca = await createCertificateAuthority();
    const client = await issueCertificate(ca, { commonName: 'caller', usage: 'client' });
    const made = await createClientTlsProvider({ ca: { pem: ca.certPem }, clientCertificate: client });
    try {
      assert.equal(made.current().ca.pem, ca.certPem);
      assert.equal(made.current().clientCertificate?.certPem, client.certPem);
      assert.deepEqual(await made.reload(), { status: 'unchanged' });
    } finally {
      made.close();
    }
  });

  it('publishes an extended CA bundle', async () => {
    const temp = await makeTempDir();
    const [ca, next] = await Promise.all([createCertificateAuthority(), createCertificateAuthority()]);
    const file = join(temp.dir, 'ca.pem');
    await writeFile(file, ca.certPem);
    const made = await createClientTlsProvider({ ca: { file } }, FAST);
    try {
      await writeFile(file, ca.certPem + next.certPem);
      await waitFor('the bundle of two', () => made.current().ca.certificates.length === 2);
    } finally {
      made.close();
      await temp.remove();
    }
  });
});
