/* global document, window, sessionStorage, fetch, AbortController, URLSearchParams, Node */
/**
 * The registry's web UI: a list of services and a page per service, each kept current by one
 * blocking query (watch.js). Everything from the API is put into the page as text nodes
 * (never innerHTML), so a service name or a check output cannot inject markup.
 */
import { HttpError, watch } from './watch.js';

const TOKEN_KEY = 'farol.registry.token';
const MAINTENANCE_PREFIX = '_service_maintenance:';
const SYMBOL = { passing: '✓', warning: '!', critical: '✕', maintenance: '‖' };

const main = document.getElementById('main');
const connection = document.getElementById('connection');
const announcer = document.getElementById('announcer');
const tokenDialog = document.getElementById('token-dialog');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenError = document.getElementById('token-error');
const confirmDialog = document.getElementById('confirm-dialog');

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let controller;

/** An element with attributes and children; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataKey') el.dataset.key = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function announce(text) {
  const line = h('p', {}, text);
  announcer.append(line);
  // Keep the live region short; screen readers have already read what was added.
  while (announcer.childElementCount > 5) announcer.firstElementChild.remove();
}

function setConnection(text, state) {
  connection.textContent = text;
  connection.dataset.state = state;
}

async function request(url, signal, method = 'GET') {
  const headers = token ? { 'X-Consul-Token': token } : {};
  const response = await fetch(url, { method, headers, signal, cache: 'no-store' });
  const text = await response.text();
  if (!response.ok) throw new HttpError(response.status, text.trim());
  if (response.headers.get('X-Consul-Default-Acl-Policy') === 'deny' && !token) {
    // ACLs on and no token: the registry answers reads with empty lists, so ask first.
    throw new HttpError(403, 'this registry needs a token');
  }
  return { index: response.headers.get('X-Consul-Index'), body: text === '' ? null : JSON.parse(text) };
}

function badge(status) {
  return h('span', { class: `badge ${status}` }, h('span', { 'aria-hidden': 'true' }, SYMBOL[status] ?? '?'), ` ${status}`);
}

function serviceHref(name) {
  return `#/service/${encodeURIComponent(name)}`;
}

/** Replaces the page content, keeping keyboard focus on the same control when it is still there. */
function render(nodes) {
  const focusedKey = document.activeElement?.dataset?.key;
  main.replaceChildren(...nodes.flat(Infinity).filter((node) => node !== undefined && node !== null && node !== false));
  if (focusedKey) {
    for (const el of main.querySelectorAll('[data-key]')) {
      if (el.dataset.key === focusedKey) {
        el.focus();
        break;
      }
    }
  }
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---- the service list -------------------------------------------------------------------------

function renderServices(services) {
  const instances = services.reduce((sum, s) => sum + s.InstanceCount, 0);
  const rows = services.map((s) =>
    h('tr', { 'data-service': s.Name },
      h('th', { scope: 'row' }, h('a', { href: serviceHref(s.Name), dataKey: `service:${s.Name}` }, s.Name)),
      h('td', { 'data-label': 'Instances' }, String(s.InstanceCount)),
      h('td', { 'data-label': 'Passing', class: s.InstancesPassing > 0 ? 'count passing' : 'count' }, String(s.InstancesPassing)),
      h('td', { 'data-label': 'Warning', class: s.InstancesWarning > 0 ? 'count warning' : 'count' }, String(s.InstancesWarning)),
      h('td', { 'data-label': 'Critical', class: s.InstancesCritical > 0 ? 'count critical' : 'count' },
        String(s.InstancesCritical),
        s.InstancesInMaintenance > 0 ? ` (${s.InstancesInMaintenance} in maintenance)` : ''),
      h('td', { 'data-label': 'Tags' }, tagList(s.Tags)),
    ),
  );
  render([
    h('h1', { tabindex: '-1', dataKey: 'heading' }, 'Services'),
    h('p', { class: 'lead' }, `${plural(services.length, 'service')}, ${plural(instances, 'instance')}, updated live.`),
    services.length === 0
      ? h('p', {}, 'No service is registered yet.')
      : h('table', { class: 'services' },
        h('caption', { class: 'visually-hidden' }, 'Services and their instances by health'),
        h('thead', {}, h('tr', {}, ['Service', 'Instances', 'Passing', 'Warning', 'Critical', 'Tags'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)),
  ]);
}

function tagList(tags) {
  if (!tags || tags.length === 0) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'tags' }, tags.map((tag) => h('li', {}, tag)));
}

function servicesView(signal) {
  document.title = 'Services · Farol registry';
  let previous;
  return watch('/v1/internal/ui/services', {
    request,
    signal,
    onState,
    onData(services) {
      const list = Array.isArray(services) ? services : [];
      if (previous) {
        for (const s of list) {
          const before = previous.get(s.Name);
          if (!before) announce(`${s.Name}: registered, ${s.InstancesPassing} of ${s.InstanceCount} passing`);
          else if (before.InstancesPassing !== s.InstancesPassing || before.InstanceCount !== s.InstanceCount) {
            announce(`${s.Name}: ${s.InstancesPassing} of ${s.InstanceCount} instances passing`);
          }
        }
      }
      previous = new Map(list.map((s) => [s.Name, s]));
      renderServices(list);
    },
  });
}

// ---- one service ------------------------------------------------------------------------------

function instanceHealth(entry) {
  const statuses = (entry.Checks ?? []).map((c) => c.Status);
  if ((entry.Checks ?? []).some((c) => c.CheckID.startsWith(MAINTENANCE_PREFIX))) return 'maintenance';
  if (statuses.some((s) => s !== 'passing' && s !== 'warning')) return 'critical';
  if (statuses.includes('warning')) return 'warning';
  return 'passing';
}

function definitionList(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))));
}

function metaList(meta) {
  const entries = Object.entries(meta ?? {});
  if (entries.length === 0) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'meta' }, entries.map(([k, v]) => h('li', {}, h('code', {}, k), ' = ', h('code', {}, v))));
}

function lastChange(check, seen) {
  const at = seen.get(check.CheckID)?.at;
  const index = `index ${check.ModifyIndex}`;
  if (!at) return h('span', {}, h('span', { class: 'muted' }, 'before this page opened'), ` (${index})`);
  return h('span', {}, h('time', { datetime: at.toISOString() }, at.toLocaleTimeString()), ` (${index})`);
}

function checksTable(entry, seen) {
  const checks = entry.Checks ?? [];
  return h('table', { class: 'checks' },
    h('caption', { class: 'visually-hidden' }, `Checks of ${entry.Service.ID}`),
    h('thead', {}, h('tr', {}, ['Check', 'Status', 'Output', 'Last change'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, checks.map((c) =>
      h('tr', { 'data-check': c.CheckID },
        h('th', { scope: 'row' }, c.Name, h('br'), h('code', { class: 'muted' }, c.CheckID)),
        h('td', { 'data-label': 'Status' }, badge(c.Status)),
        h('td', { 'data-label': 'Output' }, h('pre', { class: 'output' }, c.Output || c.Notes || '—')),
        h('td', { 'data-label': 'Last change' }, lastChange(c, seen)),
      ))),
  );
}

function instanceSection(entry, seen, actions) {
  const s = entry.Service;
  const health = instanceHealth(entry);
  const headingId = `instance-${s.ID.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const inMaintenance = health === 'maintenance';
  return h('section', { class: `instance ${health}`, 'aria-labelledby': headingId, 'data-instance': s.ID, 'data-health': health },
    h('header', {},
      h('h2', { id: headingId }, s.ID),
      badge(health)),
    definitionList([
      ['Address', s.Address || entry.Node?.Address || '—'],
      ['Port', String(s.Port ?? 0)],
      ['Node', entry.Node?.Node ?? '—'],
      ['Tags', tagList(s.Tags)],
      ['Meta', metaList(s.Meta)],
    ]),
    checksTable(entry, seen),
    // The agent's own "consul" service is not an instance anyone registered: nothing to act on.
    s.ID !== 'consul' && h('div', { class: 'actions' },
      inMaintenance
        ? h('button', { type: 'button', class: 'secondary', dataKey: `maint:${s.ID}`, onclick: () => actions.maintenance(s.ID, false) }, 'End maintenance', h('span', { class: 'visually-hidden' }, ` for ${s.ID}`))
        : h('button', { type: 'button', class: 'secondary', dataKey: `maint:${s.ID}`, onclick: () => actions.maintenance(s.ID, true) }, 'Start maintenance', h('span', { class: 'visually-hidden' }, ` for ${s.ID}`)),
      h('button', { type: 'button', class: 'danger', dataKey: `dereg:${s.ID}`, onclick: () => actions.deregister(s.ID) }, 'Deregister', h('span', { class: 'visually-hidden' }, ` ${s.ID}`)),
    ),
  );
}

function serviceView(name, signal) {
  document.title = `${name} · Farol registry`;
  /** CheckID → { index, at }: `at` is when this page saw the check change (unknown before it opened). */
  const seen = new Map();
  let previous;
  let latest = [];
  const errorLine = h('p', { class: 'error', role: 'alert' });

  const actions = {
    async maintenance(id, enable) {
      let reason = '';
      if (enable) {
        const answer = await confirmAction({
          title: 'Start maintenance',
          text: `Take ${id} out of service? It turns critical, so clients stop calling it, until maintenance ends.`,
          confirmLabel: 'Start maintenance',
          withReason: true,
        });
        if (!answer.confirmed) return;
        reason = answer.reason;
      }
      const query = new URLSearchParams({ enable: String(enable) });
      if (reason !== '') query.set('reason', reason);
      await act(`/v1/agent/service/maintenance/${encodeURIComponent(id)}?${query}`, enable ? `${id}: maintenance started` : `${id}: maintenance ended`);
    },
    async deregister(id) {
      const answer = await confirmAction({
        title: 'Deregister instance',
        text: `Remove ${id} from the registry? Clients stop finding it; the instance itself keeps running and may register again.`,
        confirmLabel: 'Deregister',
        withReason: false,
      });
      if (!answer.confirmed) return;
      await act(`/v1/agent/service/deregister/${encodeURIComponent(id)}`, `${id}: deregistered`);
    },
  };

  async function act(url, done) {
    errorLine.textContent = '';
    try {
      await request(url, undefined, 'PUT');
      announce(done);
    } catch (error) {
      if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
        askForToken(`The registry refused the request: ${error.body || error.status}`);
        return;
      }
      errorLine.textContent = `Could not do that: ${error.message}`;
    }
  }

  function draw() {
    const counts = { passing: 0, warning: 0, critical: 0, maintenance: 0 };
    for (const entry of latest) counts[instanceHealth(entry)] += 1;
    const parts = Object.entries(counts).filter(([, n]) => n > 0).map(([status, n]) => `${n} ${status}`);
    render([
      h('nav', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/', dataKey: 'back' }, h('span', { 'aria-hidden': 'true' }, '← '), 'All services')),
      h('h1', { tabindex: '-1', dataKey: 'heading' }, name),
      h('p', { class: 'lead' }, latest.length === 0 ? 'No instance is registered under this name.' : `${plural(latest.length, 'instance')}: ${parts.join(', ')}.`),
      errorLine,
      latest.map((entry) => instanceSection(entry, seen, actions)),
    ]);
  }

  return watch(`/v1/health/service/${encodeURIComponent(name)}`, {
    request,
    signal,
    onState,
    onData(entries) {
      latest = Array.isArray(entries) ? entries : [];
      const now = new Date();
      for (const entry of latest) {
        for (const check of entry.Checks ?? []) {
          const known = seen.get(check.CheckID);
          if (!known) seen.set(check.CheckID, { index: check.ModifyIndex, at: previous ? now : undefined });
          else if (known.index !== check.ModifyIndex) seen.set(check.CheckID, { index: check.ModifyIndex, at: now });
        }
      }
      if (previous) {
        const ids = new Set();
        for (const entry of latest) {
          const id = entry.Service.ID;
          ids.add(id);
          const before = previous.get(id);
          const health = instanceHealth(entry);
          if (before === undefined) announce(`${id}: registered, ${health}`);
          else if (before !== health) announce(`${id}: now ${health}`);
        }
        for (const id of previous.keys()) if (!ids.has(id)) announce(`${id}: deregistered`);
      }
      previous = new Map(latest.map((entry) => [entry.Service.ID, instanceHealth(entry)]));
      draw();
    },
  });
}

// ---- dialogs, connection state, routing -------------------------------------------------------

function confirmAction({ title, text, confirmLabel, withReason }) {
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-button').textContent = confirmLabel;
  const reasonField = document.getElementById('confirm-reason');
  const reasonInput = document.getElementById('confirm-reason-input');
  reasonField.hidden = !withReason;
  reasonInput.value = '';
  confirmDialog.returnValue = '';
  return new Promise((resolve) => {
    confirmDialog.addEventListener('close', () => resolve({ confirmed: confirmDialog.returnValue === 'confirm', reason: reasonInput.value.trim() }), { once: true });
    confirmDialog.showModal();
  });
}

function askForToken(message) {
  controller?.abort();
  setConnection('Waiting for a token', 'denied');
  tokenError.textContent = message ?? '';
  tokenInput.value = '';
  render([
    h('h1', { tabindex: '-1', dataKey: 'heading' }, 'Token needed'),
    h('p', {}, 'This registry has ACLs on: its data is shown only with its token.'),
    h('button', { type: 'button', class: 'primary', dataKey: 'token', onclick: () => askForToken() }, 'Enter token'),
  ]);
  if (!tokenDialog.open) tokenDialog.showModal();
}

tokenForm.addEventListener('submit', () => {
  token = tokenInput.value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  start();
});

function onState(state) {
  if (state.kind === 'live') setConnection('Live', 'live');
  else if (state.kind === 'retrying') setConnection(`Connection lost (${state.error.message}); retrying in ${Math.ceil(state.delayMs / 1000)} s`, 'retrying');
  else if (state.kind === 'denied') {
    const hadToken = token !== '';
    if (hadToken) {
      token = '';
      sessionStorage.removeItem(TOKEN_KEY);
    }
    askForToken(hadToken ? 'The registry refused that token. Enter it again.' : '');
  }
}

function currentRoute() {
  const match = /^#\/service\/(.+)$/.exec(window.location.hash);
  if (match) {
    try {
      return { view: 'service', name: decodeURIComponent(match[1]) };
    } catch {
      // A malformed link shows the list.
    }
  }
  return { view: 'services' };
}

let shownRoute = '';

function start() {
  controller?.abort();
  controller = new AbortController();
  const route = currentRoute();
  const key = route.view === 'service' ? `service:${route.name}` : 'services';
  const moved = shownRoute !== '' && key !== shownRoute;
  shownRoute = key;
  setConnection('Connecting…', 'connecting');
  render([h('h1', { tabindex: '-1', dataKey: 'heading' }, route.view === 'service' ? route.name : 'Services'), h('p', { class: 'lead' }, 'Loading…')]);
  // A new page: move focus to its heading so keyboard and screen-reader users start there.
  if (moved) main.querySelector('h1')?.focus();
  const run = route.view === 'service' ? serviceView(route.name, controller.signal) : servicesView(controller.signal);
  run.catch((error) => setConnection(`Stopped: ${error.message}`, 'retrying'));
}

window.addEventListener('hashchange', () => {
  if (window.location.hash === '' || window.location.hash.startsWith('#/')) start();
});
start();
