// Traffic: the request log, live. The last 1,000 entries from GET /logs, then each new one from
// the live feed (GET /events) without reload; filters by method, path, status, protocol and
// source; a detail panel per entry. The page keeps at most MAX_ROWS entries, and says so when the
// server dropped events because this tab fell behind.

import {sourceKind, stubFromRequest} from '../stubdraft.js';

export const MAX_ROWS = 1000;
const FLUSH_MS = 100;
const SOURCES = ['stub', 'spec', 'fixture', 'state', 'proxy', 'plugin', 'unmatched'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'MESSAGE', 'CLOSE'];

export async function mount(root, ctx) {
  const {h, clear, fmtTime, fmtBytes, prettyBody, headerValue} = ctx.dom;
  const entries = []; // newest first, at most MAX_ROWS
  const byId = new Map();
  let lastId = 0;
  let pending = [];
  let flushTimer = null;
  let dropped = 0;
  let paused = false;
  let loaded = false; // live entries wait until the initial page of the log is in
  let selected = null;
  const abort = new AbortController();

  const f = {
    method: h('select', {'data-test': 'filter-method', title: 'method'}, h('option', {value: ''}, 'any method'),
      METHODS.map((m) => h('option', {value: m}, m))),
    path: h('input', {type: 'search', placeholder: 'path contains…', 'data-test': 'filter-path', class: 'grow'}),
    status: h('input', {type: 'search', placeholder: 'status (404, 4xx)', 'data-test': 'filter-status', size: 12}),
    protocol: h('select', {'data-test': 'filter-protocol', title: 'protocol'}, h('option', {value: ''}, 'any protocol'),
      ['http', 'ws', 'grpc'].map((p) => h('option', {value: p}, p))),
    source: h('select', {'data-test': 'filter-source', title: 'what answered'}, h('option', {value: ''}, 'any source'),
      SOURCES.map((s) => h('option', {value: s}, s))),
  };
  const count = h('span', {class: 'muted', 'data-test': 'traffic-count'});
  const live = h('span', {class: 'badge on', 'data-test': 'traffic-live'}, 'connecting');
  const droppedNote = h('div', {class: 'notice', 'data-test': 'traffic-dropped', hidden: true});
  const pauseBtn = h('button', {type: 'button', 'data-test': 'traffic-pause', onclick: () => {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) schedule();
  }}, 'Pause');
  const tbody = h('tbody', {'data-test': 'traffic-rows'});
  const detail = h('section', {class: 'panel', 'data-test': 'traffic-detail'},
    h('p', {class: 'muted'}, 'Select a request to see its details.'));

  root.appendChild(h('h1', null, 'Traffic'));
  root.appendChild(h('div', {class: 'toolbar'}, f.method, f.path, f.status, f.protocol, f.source, pauseBtn,
    h('button', {type: 'button', 'data-test': 'traffic-clear', onclick: () => {
      entries.length = 0; byId.clear(); render(); showDetail(null);
    }}, 'Clear view'), live, count));
  root.appendChild(droppedNote);
  const table = h('table', null, h('thead', null, h('tr', null, h('th', null, 'time'), h('th', null, 'proto'),
    h('th', null, 'method'), h('th', null, 'path'), h('th', null, 'status'), h('th', null, 'answered by'),
    h('th', null, 'ms'))), tbody);
  root.appendChild(h('div', {class: 'split'}, h('div', {class: 'tablewrap'}, table), detail));

  // ---- filtering ----------------------------------------------------------------------------
  function statusOk(status, want) {
    if (!want) return true;
    const w = want.trim().toLowerCase();
    if (/^[1-5]xx$/.test(w)) return Math.floor(status / 100) === Number(w[0]);
    return String(status) === w;
  }
  function visible(e) {
    if (f.method.value && e.method !== f.method.value) return false;
    if (f.protocol.value && e.protocol !== f.protocol.value) return false;
    if (f.source.value && sourceKind(e.matched, e.status) !== f.source.value) return false;
    if (f.path.value && !String(e.path).toLowerCase().includes(f.path.value.toLowerCase())) return false;
    return statusOk(e.status, f.status.value);
  }

  function row(e) {
    const tr = h('tr', {'data-test': 'traffic-row', 'data-id': e.id, class: selected === e.id ? 'selected' : ''},
      h('td', {class: 'mono'}, fmtTime(e.timestamp)),
      h('td', null, e.protocol),
      h('td', {'data-test': 'row-method'}, e.method),
      h('td', {class: 'path', 'data-test': 'row-path'}, e.path, e.query && Object.keys(e.query).length
        ? h('span', {class: 'muted', 'data-test': 'row-query'}, '?' + Object.entries(e.query).flatMap(([k, vs]) =>
          (Array.isArray(vs) ? vs : [vs]).map((v) => `${k}=${v}`)).join('&')) : null),
      h('td', {class: `s${String(e.status)[0]}`, 'data-test': 'row-status'}, String(e.status)),
      h('td', {class: 'mono', 'data-test': 'row-source'}, e.matched || ''),
      h('td', {class: 'mono'}, String(e.duration_ms)));
    return tr;
  }

  function render() {
    const frag = document.createDocumentFragment();
    let shown = 0;
    for (const e of entries) {
      if (!visible(e)) continue;
      frag.appendChild(row(e));
      shown++;
    }
    clear(tbody);
    tbody.appendChild(frag);
    count.textContent = `${shown} shown of ${entries.length} kept (at most ${MAX_ROWS})`;
  }

  function add(list) {
    // list: oldest first; rows go on top, the oldest beyond MAX_ROWS leave the page
    const fresh = [];
    for (const e of list) {
      const n = Number(e.id);
      if (n <= lastId) continue;
      lastId = n;
      fresh.push(e);
    }
    if (!fresh.length) return;
    fresh.reverse();
    entries.unshift(...fresh);
    for (const e of fresh) byId.set(e.id, e);
    const frag = document.createDocumentFragment();
    for (const e of fresh) if (visible(e)) frag.appendChild(row(e));
    tbody.insertBefore(frag, tbody.firstChild);
    while (entries.length > MAX_ROWS) {
      const old = entries.pop();
      byId.delete(old.id);
    }
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
    count.textContent = `${tbody.rows.length} shown of ${entries.length} kept (at most ${MAX_ROWS})`;
  }

  function schedule() {
    if (flushTimer !== null || paused || !loaded) return;
    flushTimer = setTimeout(() => {
      flushTimer = null;
      if (paused) return;
      const batch = pending;
      pending = [];
      add(batch);
    }, FLUSH_MS);
  }

  // ---- detail -----------------------------------------------------------------------------
  function kv(obj, test) {
    const keys = Object.keys(obj || {});
    if (!keys.length) return h('p', {class: 'muted'}, 'none');
    return h('dl', {class: 'kv', 'data-test': test}, keys.flatMap((k) => {
      const v = obj[k];
      const values = Array.isArray(v) ? v.join(', ') : v;
      return [h('dt', null, k), h('dd', null, headerValue(values))];
    }));
  }

  function problemsOf(e) {
    // a request the spec refused: the error body lists each problem (as far as the log kept it)
    if (e.status < 400 || !e.response_excerpt) return null;
    try {
      const body = JSON.parse(e.response_excerpt);
      const err = body && body.error;
      if (!err || !Array.isArray(err.details) || !err.details.length) return null;
      return {code: err.code, message: err.message, details: err.details};
    } catch {
      return null;
    }
  }

  function showDetail(e) {
    selected = e ? e.id : null;
    for (const tr of tbody.querySelectorAll('tr.selected')) tr.classList.remove('selected');
    clear(detail);
    if (!e) {
      detail.appendChild(h('p', {class: 'muted'}, 'Select a request to see its details.'));
      return;
    }
    const tr = tbody.querySelector(`tr[data-id="${CSS.escape(e.id)}"]`);
    if (tr) tr.classList.add('selected');
    const reqType = (e.headers || {})['content-type'];
    const answered = e.matched || '';
    const source = sourceKind(answered, e.status);
    const answeredBy = answered.startsWith('stub:')
      ? h('a', {href: `#/stubs/edit/${encodeURIComponent(answered.slice(5))}`, 'data-test': 'detail-stub-link'}, answered)
      : (answered || 'nothing (no stub, fixture or route matched)');
    detail.appendChild(h('h2', {class: 'mono', 'data-test': 'detail-title'}, `${e.method} ${e.path}`));
    detail.appendChild(h('dl', {class: 'kv', 'data-test': 'detail-summary'},
      h('dt', null, 'status'), h('dd', {class: `s${String(e.status)[0]}`}, `${e.status} ${e.status_text || ''}`),
      h('dt', null, 'answered by'), h('dd', {'data-test': 'detail-answered'}, answeredBy),
      h('dt', null, 'operation'), h('dd', null, e.route || '—'),
      h('dt', null, 'time'), h('dd', null, `${e.timestamp}`),
      h('dt', null, 'duration'), h('dd', null, `${e.duration_ms} ms`),
      h('dt', null, 'protocol'), h('dd', null, e.protocol),
      h('dt', null, 'client'), h('dd', null, e.client || ''),
      h('dt', null, 'response size'), h('dd', null, fmtBytes(e.response_bytes))));
    if (source === 'unmatched' && e.protocol === 'http') {
      detail.appendChild(h('button', {type: 'button', class: 'primary', 'data-test': 'detail-create-stub',
        onclick: () => ctx.openStubEditor(stubFromRequest(e, null))}, 'Create stub from this request'));
    }
    if (e.truncated) {
      detail.appendChild(h('p', {class: 'notice'}, 'The log cut this entry (core.max_logged_body_bytes / core.max_logged_header_bytes).'));
    }
    const problems = problemsOf(e);
    if (problems && e.status !== 404) {
      detail.appendChild(h('h3', null, 'Validation problems'));
      detail.appendChild(h('ul', {class: 'problems', 'data-test': 'detail-problems'},
        problems.details.map((d) => h('li', null, h('span', {class: 'mono'}, d.location || ''), ' ', d.reason || d.message || ''))));
    }
    if (Array.isArray(e.drift) && e.drift.length) {
      detail.appendChild(h('h3', null, 'Drift findings'));
      detail.appendChild(h('ul', {class: 'problems', 'data-test': 'detail-drift'},
        e.drift.map((d) => h('li', {'data-test': 'drift-finding'}, h('strong', null, d.kind || 'drift'), ' at ',
          h('span', {class: 'mono'}, d.pointer || '/'), `: expected ${d.expected}, got ${d.got}`,
          d.operation ? h('span', {class: 'muted'}, ` (${d.operation})`) : null))));
    }
    if (Array.isArray(e.state) && e.state.length) {
      detail.appendChild(h('h3', null, 'State changes'));
      detail.appendChild(h('ul', null, e.state.map((s) => h('li', null, s))));
    }
    detail.appendChild(h('h3', null, 'Query'));
    detail.appendChild(kv(e.query, 'detail-query'));
    detail.appendChild(h('h3', null, 'Request headers'));
    detail.appendChild(kv(e.headers, 'detail-headers'));
    detail.appendChild(h('h3', null, 'Request body', e.body_truncated ? ' (cut by the log)' : ''));
    detail.appendChild(withTest(prettyBody(e.body_excerpt, reqType), 'detail-request-body'));
    detail.appendChild(h('h3', null, 'Response body'));
    detail.appendChild(withTest(prettyBody(e.response_excerpt, ''), 'detail-response-body'));
    if (e.client_cert) {
      detail.appendChild(h('h3', null, 'Client certificate'));
      detail.appendChild(kv(e.client_cert, 'detail-cert'));
    }
  }

  function withTest(el, test) {
    el.dataset.test = test;
    return el;
  }

  tbody.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (tr) showDetail(byId.get(tr.dataset.id) || null);
  });
  for (const el of Object.values(f)) el.addEventListener('input', render);

  // ---- data ---------------------------------------------------------------------------------
  function onEvent(ev) {
    if (ev.event === 'entry' && ev.data && typeof ev.data === 'object') {
      pending.push(ev.data);
      if (pending.length > MAX_ROWS) pending.splice(0, pending.length - MAX_ROWS);
      schedule();
    } else if (ev.event === 'dropped') {
      dropped += Number(ev.data && ev.data.dropped) || 0;
      droppedNote.hidden = false;
      droppedNote.textContent = `This tab fell behind: the server dropped ${dropped} events (the page shows the newest). GET /__mockforge/logs has them while the log keeps them.`;
    }
  }

  async function follow() {
    let delay = 1000;
    while (!abort.signal.aborted) {
      live.textContent = 'live';
      live.className = 'badge on';
      try {
        await ctx.api.stream('events', onEvent, abort.signal);
        if (abort.signal.aborted) return;
        live.textContent = 'feed ended; reconnecting';
      } catch (e) {
        if (abort.signal.aborted || e.status === 401) return;
        live.textContent = `feed: ${e.message}`;
      }
      live.className = 'badge off';
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
      // what was logged while the feed was down
      try { add(((await ctx.api.get(`logs?limit=${MAX_ROWS}`)).entries || []).reverse()); } catch { /* shown above */ }
    }
  }

  const streaming = follow();
  let initial;
  try {
    initial = await ctx.api.get(`logs?limit=${MAX_ROWS}`);
  } catch (e) {
    abort.abort();
    throw e;
  }
  add((initial.entries || []).reverse());
  loaded = true;
  schedule();
  root.dataset.filledMs = String(Math.round(performance.now()));
  root.dataset.filledRows = String(tbody.rows.length);
  streaming.catch(() => {});

  return () => {
    abort.abort();
    if (flushTimer !== null) clearTimeout(flushTimer);
    delete root.dataset.filledMs;
    delete root.dataset.filledRows;
  };
}
