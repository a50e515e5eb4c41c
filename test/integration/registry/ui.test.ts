/**
 * The registry's web UI in a real browser: Debian's chromium driven by playwright-core (never a
 * downloaded browser), against the embedded registry and three `farol serve` processes with
 * HTTPS checks every second. The page lists them passing; a SIGKILLed one turns critical on the
 * open page (no reload) within its check interval plus 2 s; maintenance and deregistration work
 * from the page; the keyboard reaches and opens a service; nothing from the API is parsed as
 * markup; with ACLs on the page asks for the token. Screenshots go to test-artifacts/ui/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { addUser } from '../../../src/auth/index.js';
import { initCertificates } from '../../../src/pki/index.js';
import { startRegistry, type RunningRegistry } from '../../../src/registry/index.js';
import { spawnFarol, waitForExit, waitForLine } from '../../support/cli.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/ui/', import.meta.url));
const CHECK_INTERVAL_MS = 1000;

/** Debian's chromium (CHROMIUM_BIN, else on PATH), or why there is none. */
function findChromium(): { path: string } | { missing: string } {
  const candidates = process.env.CHROMIUM_BIN ? [process.env.CHROMIUM_BIN] : ['chromium', 'chromium-browser'];
  for (const candidate of candidates) {
    const probe = spawnSync('which', [candidate], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() !== '') return { path: probe.stdout.trim() };
  }
  return { missing: 'chromium (apt-get install chromium, or set CHROMIUM_BIN)' };
}

const found = findChromium();
const suite = 'the registry web UI in chromium';

if ('missing' in found) {
  if (process.env.CI === 'true') {
    describe(suite, () => {
      it('has chromium to test with (required under CI=true)', () => assert.fail(`no browser for "${suite}": ${found.missing}`));
    });
  } else {
    const bar = '!'.repeat(78);
    console.warn(`\n${bar}\n!! SKIPPED "${suite}": it needs Debian's chromium.\n!! Missing: ${found.missing}\n${bar}\n`);
    describe(suite, { skip: found.missing }, () => undefined);
  }
} else {
  describe(suite, () => uiSuite(found.path));
}

/**
 * Waits until `expression` is true in the page. Not page.waitForFunction: a predicate given as
 * text is run with eval there, which the page's CSP (rightly) forbids.
 */
async function until(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await page.evaluate<unknown>(expression)) !== true) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Instance {
  id: string;
  child: ChildProcess;
}

function uiSuite(chromiumPath: string): void {
  let dir: string;
  let registry: RunningRegistry;
  let browser: Browser;
  let page: Page;
  const instances: Instance[] = [];
  const screenshots: string[] = [];

  async function screenshot(target: Page, name: string): Promise<string> {
    const path = join(ARTIFACTS, `${name}.png`);
    await target.screenshot({ path, fullPage: true });
    screenshots.push(path);
    return path;
  }

  /** Health of one instance as the page shows it (data-health on its section). */
  const healthOnPage = (id: string) => page.locator(`section.instance[data-instance="${id}"]`).getAttribute('data-health', { timeout: 5000 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-ui-'));
    await mkdir(ARTIFACTS, { recursive: true });
    const certs = join(dir, 'certs');
    await initCertificates({ dir: certs, services: ['web'] });
    await addUser(join(dir, 'users.txt'), 'demo', 'correct horse battery staple');
    registry = await startRegistry({ port: 0, caFile: join(certs, 'ca.pem') });
    for (let i = 1; i <= 3; i += 1) {
      const child = spawnFarol([
        'serve', '--service', 'web', '--port', '0', '--certs', certs, '--users', join(dir, 'users.txt'),
        '--check', 'https', '--check-interval', `${CHECK_INTERVAL_MS / 1000}s`, '--deregister-after', '1m',
        '--tag', `replica-${i}`, '--meta', 'team=platform',
        // Markup in the data: the page must show it as text.
        '--meta', 'note=<img src=x onerror="window.__pwned=1"><b>bold</b>',
        '--consul', registry.address, '--log-file', join(dir, 'logs', 'server-log.txt'),
      ]);
      const match = await waitForLine(child, /serving web instance (\S+) at https:/, 30_000);
      instances.push({ id: match[1]!, child });
    }
    browser = await chromium.launch({
      executablePath: chromiumPath,
      // Chromium's sandbox cannot start as root (CI runs as root); everything it loads here is ours.
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    for (const { child } of instances) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await registry?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('redirects / to /ui/ and serves the page with its content type, a strict CSP and no caching', async () => {
    const root = await fetch(`${registry.httpAddr}/`, { redirect: 'manual' });
    assert.equal(root.status, 301);
    assert.equal(root.headers.get('location'), '/ui/');
    const html = await fetch(`${registry.httpAddr}/ui/`);
    assert.equal(html.status, 200);
    assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(html.headers.get('content-security-policy') ?? '', /^default-src 'self'/);
    assert.equal(html.headers.get('cache-control'), 'no-store');
    const script = await fetch(`${registry.httpAddr}/ui/app.js`);
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal((await fetch(`${registry.httpAddr}/ui/nope.js`)).status, 404);
    assert.equal((await fetch(`${registry.httpAddr}/ui/..%2Fassets.ts`)).status, 404);
  });

  it('lists the service with its three instances passing', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${registry.httpAddr}/`);
    assert.match(page.url(), /\/ui\/$/);
    const row = page.locator('tr[data-service="web"]');
    await until(page, `document.querySelector('tr[data-service="web"] td[data-label="Passing"]')?.textContent === '3'`, 15_000);
    assert.equal(await row.locator('td[data-label="Instances"]').textContent(), '3');
    assert.equal(await row.locator('td[data-label="Critical"]').textContent(), '0');
    assert.match((await row.locator('td[data-label="Tags"]').textContent()) ?? '', /replica-1.*replica-2.*replica-3/);
    assert.equal(await page.locator('#connection').textContent(), 'Live');
    assert.deepEqual(errors, [], 'no script error and no CSP violation');
    await screenshot(page, 'services-desktop');
  });

  it('reaches a service link with Tab and opens it with Enter', async () => {
    let focused = '';
    for (let i = 0; i < 10 && focused !== 'web'; i += 1) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate<string>(`document.activeElement?.tagName === 'A' ? document.activeElement.textContent : ''`);
    }
    assert.equal(focused, 'web', 'Tab reaches the link to the service');
    await page.keyboard.press('Enter');
    await until(page, `document.querySelectorAll('section.instance[data-health="passing"]').length === 3`, 10_000);
    assert.match(page.url(), /#\/service\/web$/);
    assert.equal(await page.evaluate<string>('document.activeElement?.tagName'), 'H1', 'focus moves to the new page heading');
    assert.equal(await page.title(), 'web · Farol registry');
  });

  it('shows each instance with its address, port, tags, meta and checks, data as text and never as markup', async () => {
    const first = page.locator(`section.instance[data-instance="${instances[0]!.id}"]`);
    const facts = (await first.locator('dl.facts').textContent()) ?? '';
    assert.match(facts, /Address127\.0\.0\.1/);
    assert.match(facts, /Port\d+/);
    assert.match(facts, /replica-1/);
    assert.match(facts, /team = platform/);
    assert.match(facts, /note = <img src=x onerror="window.__pwned=1"><b>bold<\/b>/);
    assert.equal(await page.locator('main img, main b').count(), 0, 'no element made from API data');
    assert.equal(await page.evaluate<unknown>('window.__pwned'), undefined);
    const check = first.locator('table.checks tbody tr').filter({ hasText: 'service:' });
    assert.match((await check.locator('td[data-label="Status"]').textContent()) ?? '', /passing/);
    assert.match((await check.locator('td[data-label="Output"]').textContent()) ?? '', /HTTP GET https:\/\/.*200/);
    assert.match((await check.locator('td[data-label="Last change"]').textContent()) ?? '', /index \d+/);
    await screenshot(page, 'service-desktop');
  });

  it('keeps one blocking query open while nothing changes (no polling storm)', async () => {
    let requests = 0;
    const count = (request: { url(): string }) => {
      if (request.url().includes('/v1/')) requests += 1;
    };
    page.on('request', count);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    page.off('request', count);
    assert.ok(requests <= 1, `${requests} API requests in 3 s of quiet`);
  });

  it('turns a SIGKILLed instance critical on the open page within its check interval plus 2 s, without a reload', async (t) => {
    const victim = instances[2]!;
    await page.evaluate('window.__sameDocument = true');
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await page.waitForSelector(`section.instance[data-instance="${victim.id}"][data-health="critical"]`, { timeout: CHECK_INTERVAL_MS + 2000 });
    const elapsed = Date.now() - killedAt;
    assert.ok(elapsed <= CHECK_INTERVAL_MS + 2000, `critical after ${elapsed} ms`);
    t.diagnostic(`critical on the open page ${elapsed} ms after SIGKILL (check interval ${CHECK_INTERVAL_MS} ms)`);
    assert.equal(await page.evaluate<unknown>('window.__sameDocument'), true, 'the page was not reloaded');
    assert.match((await page.locator('#announcer').textContent()) ?? '', new RegExp(`${victim.id}: now critical`));
    await waitForExit(victim.child);
    await screenshot(page, 'service-critical-desktop');
  });

  it('puts an instance in maintenance from its button (with a reason) and takes it out again', async () => {
    const target = instances[0]!;
    const section = page.locator(`section.instance[data-instance="${target.id}"]`);
    await section.getByRole('button', { name: `Start maintenance for ${target.id}` }).click();
    const dialog = page.locator('#confirm-dialog');
    await dialog.getByLabel('Reason (optional)').fill('deploying <v2>');
    await dialog.getByRole('button', { name: 'Start maintenance' }).click();
    await page.waitForSelector(`section.instance[data-instance="${target.id}"][data-health="maintenance"]`, { timeout: 5000 });
    assert.match((await section.locator('table.checks').textContent()) ?? '', /Service Maintenance Mode.*deploying <v2>/);
    const passing = (await (await fetch(`${registry.httpAddr}/v1/health/service/web?passing`)).json()) as { Service: { ID: string } }[];
    assert.ok(!passing.some((entry) => entry.Service.ID === target.id), 'the registry agrees: not in the passing set');
    await screenshot(page, 'service-maintenance-desktop');

    await section.getByRole('button', { name: `End maintenance for ${target.id}` }).click();
    await page.waitForSelector(`section.instance[data-instance="${target.id}"][data-health="passing"]`, { timeout: 5000 });
    assert.equal(await healthOnPage(target.id), 'passing');
  });

  it('deregisters an instance only after the confirm step', async () => {
    const target = instances[2]!;
    const section = page.locator(`section.instance[data-instance="${target.id}"]`);
    await section.getByRole('button', { name: `Deregister ${target.id}` }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Cancel' }).click();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await section.count(), 1, 'Cancel leaves it registered');

    await section.getByRole('button', { name: `Deregister ${target.id}` }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Deregister' }).click();
    await section.waitFor({ state: 'detached', timeout: 5000 });
    const all = (await (await fetch(`${registry.httpAddr}/v1/health/service/web`)).json()) as { Service: { ID: string } }[];
    assert.deepEqual(all.map((entry) => entry.Service.ID).sort(), [instances[0]!.id, instances[1]!.id].sort());
  });

  it('is readable on a phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      await phone.goto(`${registry.httpAddr}/ui/#/service/web`);
      await phone.waitForSelector('section.instance[data-health="passing"]', { timeout: 10_000 });
      const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
      await screenshot(phone, 'service-phone');
      await phone.goto(`${registry.httpAddr}/ui/`);
      await phone.waitForSelector('tr[data-service="web"]', { timeout: 10_000 });
      await screenshot(phone, 'services-phone');
    } finally {
      await phone.close();
    }
  });

  it('asks for the token when the registry has ACLs on, and sends it as X-Consul-Token', async () => {
    const secured = await startRegistry({ port: 0, token: 'ui-test-token' });
    const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const sent: (string | undefined)[] = [];
      tab.on('request', (request) => {
        if (request.url().includes('/v1/')) sent.push(request.headers()['x-consul-token']);
      });
      await tab.goto(`${secured.httpAddr}/ui/`);
      const dialog = tab.locator('#token-dialog');
      await dialog.waitFor({ state: 'visible', timeout: 10_000 });
      await screenshot(tab, 'token-desktop');
      await dialog.getByLabel('Token').fill('wrong');
      await dialog.getByRole('button', { name: 'Use token' }).click();
      await until(tab, `document.getElementById('token-error')?.textContent?.includes('refused') === true`, 10_000);
      await dialog.getByLabel('Token').fill('ui-test-token');
      await dialog.getByRole('button', { name: 'Use token' }).click();
      await tab.waitForSelector('tr[data-service="consul"]', { timeout: 10_000 });
      assert.equal(sent.at(-1), 'ui-test-token');
      assert.equal(await tab.evaluate<unknown>(`sessionStorage.getItem('farol.registry.token')`), 'ui-test-token');
    } finally {
      await tab.close();
      await secured.close();
    }
  });

  it('keeps its screenshots as test artifacts', (t) => {
    for (const path of screenshots) t.diagnostic(`screenshot: ${path}`);
    assert.ok(screenshots.length >= 5);
  });
}
