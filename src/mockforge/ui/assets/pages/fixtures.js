// Fixtures: the recorded exchanges (GET /__mockforge/fixtures, paged), one opened with its
// request and response, and "To stub", which opens the stub editor pre-filled with the stub the
// fixture makes (GET fixtures/{id}/stub: computed, written nowhere until the editor saves it).

import {base64Body, contentType, hasFeature, headerList, notice, table, useStyles} from './kit.js';

const PAGE = 100;


function queryText(query) {
  const parts = [];
  for (const [k, vs] of Object.entries(query || {})) for (const v of vs) parts.push(`${k}=${v}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export async function mount(root, ctx) {
  const {api, dom} = ctx;
  const {h, clear, prettyBody, fmtTime} = dom;
  useStyles(dom);
  root.appendChild(h('h1', null, 'Fixtures'));
  if (!(await hasFeature(api, 'fixtures'))) {
    root.appendChild(notice(dom, 'Recorded fixtures are off: set core.fixtures.mode (replay, record, ...) or a proxy.'));
    return null;
  }
  const first = await api.get(`fixtures?limit=${PAGE}`);
  const stats = await api.get('fixtures/stats');
  const items = [...first.fixtures];
  let next = first.next_offset;
  const methodSel = h('select', {'data-test': 'fixtures-method'}, ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE']
    .map((m) => h('option', {value: m}, m || 'any method')));
  const summary = h('span', {class: 'muted', 'data-test': 'fixtures-count'});
  const more = h('button', {type: 'button', 'data-test': 'fixtures-more'}, 'Load more');
  const listBox = h('div', {class: 'tablewrap'});
  const detail = h('div', {class: 'panel', 'data-test': 'fixture-detail'}, h('p', {class: 'muted'}, 'Open a fixture to see it.'));
  root.append(
    h('div', {class: 'toolbar'}, methodSel, summary,
      stats ? h('span', {class: 'badge', 'data-test': 'fixtures-mode'}, `mode ${stats.mode}`) : null, more),
    h('div', {class: 'split'}, listBox, detail));
  let total = first.total;
  let selected = null;

  function render() {
    summary.textContent = `${items.length} of ${total} fixtures`;
    more.hidden = next == null;
    clear(listBox).appendChild(items.length
      ? table(dom, ['method', 'path', 'status', 'recorded', 'id'], items.map((f) => [
        h('span', {class: 'method'}, f.method || ''), h('td', {class: 'path'}, f.path || ''),
        f.error ? h('span', {class: 'error'}, f.error) : h('span', {class: `s${String(f.status)[0]}`}, String(f.status)),
        f.recorded_at ? fmtTime(f.recorded_at) : '', h('td', {class: 'mono'}, String(f.id).slice(0, 12)),
      ]), (i) => ({'data-test': 'fixture-row', 'data-id': items[i].id, class: selected === items[i].id ? 'selected' : '',
        onclick: () => open(items[i].id)}))
      : h('p', {class: 'muted', 'data-test': 'fixtures-empty'}, 'No fixtures recorded yet.'));
  }

  async function reload() {
    const m = methodSel.value;
    const page = await api.get(`fixtures?limit=${PAGE}${m ? `&method=${m}` : ''}`);
    items.length = 0;
    items.push(...page.fixtures);
    next = page.next_offset;
    total = page.total;
    render();
  }
  methodSel.addEventListener('change', reload);
  more.addEventListener('click', async () => {
    const m = methodSel.value;
    const page = await api.get(`fixtures?limit=${PAGE}&offset=${next}${m ? `&method=${m}` : ''}`);
    items.push(...page.fixtures);
    next = page.next_offset;
    render();
  });

  async function open(id) {
    selected = id;
    render();
    const f = await api.get(`fixtures/${encodeURIComponent(id)}`);
    const req = f.request;
    const resp = f.response;
    const error = h('p', {class: 'error', 'data-test': 'fixture-error'});
    clear(detail).append(
      h('h2', null, h('span', {class: 'method'}, req.method), ' ', h('span', {class: 'mono', 'data-test': 'fixture-path'},
        req.path + queryText(req.query))),
      h('div', {class: 'toolbar'},
        h('button', {class: 'primary', type: 'button', 'data-test': 'fixture-to-stub', onclick: async () => {
          try {
            const made = await api.get(`fixtures/${encodeURIComponent(id)}/stub`);
            ctx.openStubEditor(made.stub);
          } catch (e) {
            error.textContent = e.message;
          }
        }}, 'To stub'),
        h('span', {class: 'muted small'}, `recorded ${f.recorded_at || ''} · ${Number(f.duration_ms || 0).toFixed(1)} ms`)),
      error,
      h('div', {class: 'kv-inline'}, h('span', null, h('span', {class: 'k'}, 'id '), h('span', {class: 'mono'}, f.fingerprint)),
        h('span', null, h('span', {class: 'k'}, 'file '), h('span', {class: 'mono'}, f.file || ''))),
      h('h3', null, 'Request'), headerList(dom, req.headers, 'fixture-request-headers'),
      h('div', {'data-test': 'fixture-request-body'}, req.body_encoding === 'base64' ? base64Body(dom, req.body) : prettyBody(req.body, contentType(req.headers))),
      h('h3', null, 'Response ', h('span', {class: `s${String(resp.status)[0]}`, 'data-test': 'fixture-status'}, String(resp.status))),
      headerList(dom, resp.headers, 'fixture-response-headers'),
      h('div', {'data-test': 'fixture-response-body'}, resp.body_encoding === 'base64' ? base64Body(dom, resp.body)
        : prettyBody(resp.body, contentType(resp.headers))));
  }

  render();
  const wanted = ctx.params;
  if (wanted && /^[0-9a-f]{64}$/.test(wanted)) await open(wanted);
  return null;
}
