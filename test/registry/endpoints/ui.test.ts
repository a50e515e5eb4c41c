/** The UI route group through the router, without sockets: redirects, the files and their headers, the service list. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryApi, type ApiResponse } from '../../../src/registry/router.js';
import { IndexWaiters } from '../../../src/registry/blocking.js';
import type { ServiceSummary } from '../../../src/registry/ui/summary.js';
import { FakeClock } from '../fake-clock.js';
import { newCatalog } from '../fixtures.js';

function setup(token?: string) {
  const catalog = newCatalog();
  const waiters = new IndexWaiters(new FakeClock());
  const api = new RegistryApi({ catalog, waiters, serverAddress: '127.0.0.1:8300', random: () => 0, ...(token ? { token } : {}) });
  const send = (method: string, url: string, body = '', headers: Record<string, string> = {}): Promise<ApiResponse> =>
    api.handle({ method, url, headers, body });
  return { catalog, send };
}

const summaries = (res: ApiResponse) => JSON.parse(String(res.body)) as ServiceSummary[];

describe('UI routes', () => {
  it('redirects / and /ui to /ui/ as Consul does (301)', async () => {
    const { send } = setup();
    for (const path of ['/', '/ui']) {
      const res = await send('GET', path);
      assert.equal(res.status, 301, path);
      assert.equal(res.headers.location, '/ui/');
    }
  });

  it('serves the page and its files with their content types, a strict CSP, and the HTML never cached', async () => {
    const { send } = setup();
    const page = await send('GET', '/ui/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.headers['content-security-policy'] ?? '', /^default-src 'self';/);
    assert.doesNotMatch(page.headers['content-security-policy'] ?? '', /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.match(String(page.body), /<script type="module" src="app\.js"><\/script>/);
    assert.doesNotMatch(String(page.body), /<script>|style="/, 'no inline script or style for the CSP to block');
    const expected: Record<string, string> = {
      'app.js': 'text/javascript; charset=utf-8',
      'watch.js': 'text/javascript; charset=utf-8',
      'style.css': 'text/css; charset=utf-8',
      'favicon.svg': 'image/svg+xml',
    };
    for (const [name, type] of Object.entries(expected)) {
      const res = await send('GET', `/ui/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers['content-type'], type, name);
      assert.equal(res.headers['cache-control'], 'no-cache', name);
    }
  });

  it('answers 404 for anything that is not one of its files, however the path is spelled', async () => {
    const { send } = setup();
    for (const path of ['/ui/nope.js', '/ui/../package.json', '/ui/..%2Fassets.ts', '/ui/%2e%2e/summary.ts', '/ui/static/app.js']) {
      assert.equal((await send('GET', path)).status, 404, path);
    }
    assert.equal((await send('PUT', '/ui/')).status, 405);
  });

  it('lists the services with instances counted by health, as one blocking query on the catalog index', async () => {
    const { catalog, send } = setup();
    await send('PUT', '/v1/agent/service/register', JSON.stringify({ ID: 'web-1', Name: 'web', Check: { CheckID: 'c1', TTL: '10s', Status: 'passing' } }));
    await send('PUT', '/v1/agent/service/register', JSON.stringify({ ID: 'web-2', Name: 'web', Check: { CheckID: 'c2', TTL: '10s', Status: 'passing' } }));
    const first = await send('GET', '/v1/internal/ui/services');
    assert.equal(first.status, 200);
    const index = Number(first.headers['x-consul-index']);
    assert.equal(index, catalog.currentIndex());
    const web = summaries(first).find((s) => s.Name === 'web')!;
    assert.equal(web.InstanceCount, 2);
    assert.equal(web.InstancesPassing, 2);

    let answered: ApiResponse | undefined;
    const pending = send('GET', `/v1/internal/ui/services?index=${index}&wait=1m`).then((res) => (answered = res));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, undefined, 'parked while nothing changes');
    await send('PUT', '/v1/agent/check/fail/c2');
    const next = await pending;
    assert.ok(Number(next.headers['x-consul-index']) > index);
    const after = summaries(next).find((s) => s.Name === 'web')!;
    assert.deepEqual([after.InstancesPassing, after.InstancesCritical], [1, 1]);
  });

  it('shows an anonymous caller an empty list when ACLs are on, and refuses an unknown token', async () => {
    const { send } = setup('secret');
    assert.deepEqual(summaries(await send('GET', '/v1/internal/ui/services')), []);
    assert.equal((await send('GET', '/v1/internal/ui/services', '', { 'x-consul-token': 'wrong' })).status, 403);
    const allowed = await send('GET', '/v1/internal/ui/services', '', { 'x-consul-token': 'secret' });
    assert.deepEqual(summaries(allowed).map((s) => s.Name), ['consul']);
    assert.equal((await send('GET', '/ui/')).status, 200, 'the page itself needs no token');
  });
});
